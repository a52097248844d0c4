"""Accuracy of estimated against known proportions, with donor-bootstrap intervals (pure numpy/pandas).

Scores over all (sample, cell type) entries (``overall``) and per cell type over samples: RMSE, Pearson r,
Lin's concordance correlation coefficient (CCC) and bias (mean of estimate - truth; 0 overall by construction
when both sum to 1, so the overall row reports the mean absolute error beside it). Per sample: RMSE and
Pearson r over cell types. Intervals resample donors (all samples of a donor together) with replacement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SCORES = ("rmse", "mae", "pearson", "ccc", "bias")


def _moments(w: np.ndarray, e: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Every score of :data:`SCORES` over the entries of ``e``/``t`` (rows x columns) for each row-weight
    vector in ``w`` (draws x rows): a resample with repetition is a weighted sum over the original rows."""
    w = np.atleast_2d(np.asarray(w, float))
    e, t = np.asarray(e, float), np.asarray(t, float)
    if e.ndim == 1:
        e, t = e[:, None], t[:, None]
    n_w = w.sum(axis=1) * e.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        me, mt = w @ e.sum(axis=1) / n_w, w @ t.sum(axis=1) / n_w
        ve = w @ (e**2).sum(axis=1) / n_w - me**2
        vt = w @ (t**2).sum(axis=1) / n_w - mt**2
        cov = w @ (e * t).sum(axis=1) / n_w - me * mt
        ve, vt = np.maximum(ve, 0.0), np.maximum(vt, 0.0)
        den = np.sqrt(ve * vt)
        tiny = 1e-15
        den2 = ve + vt + (me - mt) ** 2
        out = {
            "rmse": np.sqrt(w @ ((e - t) ** 2).sum(axis=1) / n_w),
            "mae": w @ np.abs(e - t).sum(axis=1) / n_w,
            "pearson": np.where(den > tiny, cov / np.where(den > tiny, den, 1.0), np.nan),
            "ccc": np.where(den2 > tiny, 2 * cov / np.where(den2 > tiny, den2, 1.0), np.nan),
            "bias": me - mt,
        }
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(float), np.ravel(b).astype(float)
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def ccc(a: np.ndarray, b: np.ndarray) -> float:
    """Lin's concordance correlation coefficient of estimate ``a`` and truth ``b``."""
    a, b = np.ravel(a).astype(float), np.ravel(b).astype(float)
    if a.size < 2:
        return float("nan")
    den = a.var() + b.var() + (a.mean() - b.mean()) ** 2
    return float(2 * np.mean((a - a.mean()) * (b - b.mean())) / den) if den > 0 else float("nan")


def bootstrap_weights(donors: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Row weights (draws x rows) of ``n_boot`` donor-cluster resamples: how often each row is drawn."""
    donors = np.asarray(donors).astype(str)
    uniq, inv = np.unique(donors, return_inverse=True)
    picks = rng.integers(0, uniq.size, size=(n_boot, uniq.size))
    counts = np.zeros((n_boot, uniq.size))
    np.add.at(counts, (np.repeat(np.arange(n_boot), uniq.size), picks.ravel()), 1.0)
    return counts[:, inv.ravel()]


def accuracy(
    est: pd.DataFrame, truth: pd.DataFrame, donors: np.ndarray, boot: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, per_sample): summary has one row per scope (``overall`` and each cell type) with every score
    of :data:`SCORES` and its 95 % donor-bootstrap percentile interval (``<score>_ci_low``/``_ci_high``);
    ``boot`` are the resample weights of :func:`bootstrap_weights` (shared across arms: paired differences)."""
    types = list(est.columns)
    e, t = est.to_numpy(float), truth.reindex(index=est.index, columns=types).to_numpy(float)
    one = np.ones((1, len(e)))
    scopes = [("overall", slice(None))] + [(ct, slice(k, k + 1)) for k, ct in enumerate(types)]
    rows = []
    for scope, cols in scopes:
        point = _moments(one, e[:, cols], t[:, cols])
        draws = _moments(boot, e[:, cols], t[:, cols])
        row = {"scope": scope, "n_samples": int(len(e)), "n_donors": int(np.unique(donors).size)}
        for s in SCORES:
            row[s] = float(point[s][0])
            v = draws[s][np.isfinite(draws[s])]
            row[f"{s}_ci_low"] = float(np.quantile(v, 0.025)) if v.size else float("nan")
            row[f"{s}_ci_high"] = float(np.quantile(v, 0.975)) if v.size else float("nan")
        rows.append(row)
    per_sample = pd.DataFrame(
        {
            "sample": est.index.astype(str),
            "rmse": np.sqrt(np.mean((e - t) ** 2, axis=1)),
            "max_abs_error": np.max(np.abs(e - t), axis=1),
            "pearson": [pearson(e[i], t[i]) for i in range(len(e))],
        }
    )
    return pd.DataFrame(rows), per_sample


def rmse_draws(est: pd.DataFrame, truth: pd.DataFrame, boot: np.ndarray) -> np.ndarray:
    """Overall RMSE of each bootstrap resample (for paired differences between arms)."""
    t = truth.reindex(index=est.index, columns=est.columns).to_numpy(float)
    return _moments(boot, est.to_numpy(float), t)["rmse"]
