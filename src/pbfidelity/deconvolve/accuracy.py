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


def score(est: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    d = np.asarray(est, float) - np.asarray(truth, float)
    return {
        "rmse": float(np.sqrt(np.mean(d**2))),
        "mae": float(np.mean(np.abs(d))),
        "pearson": pearson(est, truth),
        "ccc": ccc(est, truth),
        "bias": float(np.mean(d)),
    }


def _scopes(est: np.ndarray, truth: np.ndarray, types: list[str]) -> dict[str, dict[str, float]]:
    out = {"overall": score(est, truth)}
    for k, ct in enumerate(types):
        out[ct] = score(est[:, k], truth[:, k])
    return out


def bootstrap_index(donors: np.ndarray, n_boot: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of ``n_boot`` donor-cluster resamples."""
    donors = np.asarray(donors).astype(str)
    uniq = np.unique(donors)
    rows = [np.flatnonzero(donors == d) for d in uniq]
    return [np.concatenate([rows[i] for i in rng.integers(0, uniq.size, uniq.size)]) for _ in range(n_boot)]


def accuracy(
    est: pd.DataFrame, truth: pd.DataFrame, donors: np.ndarray, boot: list[np.ndarray]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, per_sample): summary has one row per scope (``overall`` and each cell type) with every score
    of :data:`SCORES` and its 95 % donor-bootstrap interval (``<score>_ci_low``/``_ci_high``); ``boot`` are
    the resamples (shared across arms so that differences are paired)."""
    types = list(est.columns)
    e, t = est.to_numpy(float), truth.reindex(index=est.index, columns=types).to_numpy(float)
    point = _scopes(e, t, types)
    draws = [_scopes(e[i], t[i], types) for i in boot]
    rows = []
    for scope, values in point.items():
        row = {"scope": scope, "n_samples": int(len(e)), "n_donors": int(np.unique(donors).size)}
        for s in SCORES:
            row[s] = values[s]
            v = np.array([d[scope][s] for d in draws], float)
            v = v[np.isfinite(v)]
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


def rmse_draws(est: pd.DataFrame, truth: pd.DataFrame, boot: list[np.ndarray]) -> np.ndarray:
    """Overall RMSE of each bootstrap resample (for paired differences between arms)."""
    e = est.to_numpy(float)
    t = truth.reindex(index=est.index, columns=est.columns).to_numpy(float)
    sq = (e - t) ** 2
    return np.array([np.sqrt(sq[i].mean()) for i in boot])
