"""Classification metrics, donor-level bootstrap confidence intervals and ROC curves.

Positive class = bulk. Scores are probabilities; accuracy, balanced accuracy and F1 use the 0.5 threshold.
Confidence intervals resample donors (with all their profiles) with replacement: profiles of one donor are
not independent, so resampling profiles would make the intervals too narrow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

METRICS = ("auroc", "accuracy", "balanced_accuracy", "f1")


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties); NaN with one class only."""
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    score = np.asarray(score, dtype=float)
    if n1 * n0 <= 250_000:  # direct pair count: fast for the sizes of donor-level studies
        s1, s0 = score[y][:, None], score[~y][None, :]
        return float((np.sum(s1 > s0) + 0.5 * np.sum(s1 == s0)) / (n1 * n0))
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def classification_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """AUROC, accuracy, balanced accuracy and F1 (positive = bulk) of probability scores."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(score) >= threshold
    tp = float(np.sum(pred & y))
    tn = float(np.sum(~pred & ~y))
    fp = float(np.sum(pred & ~y))
    fn = float(np.sum(~pred & y))
    tpr = tp / (tp + fn) if tp + fn else float("nan")
    tnr = tn / (tn + fp) if tn + fp else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    return {
        "auroc": auroc(y, score),
        "accuracy": (tp + tn) / y.size if y.size else float("nan"),
        "balanced_accuracy": (tpr + tnr) / 2,
        "f1": f1,
    }


def donor_bootstrap(
    y: np.ndarray,
    score: np.ndarray,
    donors: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> pd.DataFrame:
    """Point estimate and percentile CI of every metric, resampling donors; columns metric, value, ci_low, ci_high."""
    y = np.asarray(y)
    score = np.asarray(score)
    donors = np.asarray(donors).astype(str)
    unique, inverse = np.unique(donors, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == i) for i in range(unique.size)]
    draws = {m: [] for m in METRICS}
    for _ in range(int(n_boot)):
        pick = rng.integers(0, unique.size, size=unique.size)
        idx = np.concatenate([rows_of[i] for i in pick])
        if np.unique(y[idx]).size < 2:
            continue
        for m, v in classification_metrics(y[idx], score[idx]).items():
            draws[m].append(v)
    point = classification_metrics(y, score)
    alpha = (1 - level) / 2
    rows = []
    for m in METRICS:
        d = np.asarray(draws[m], dtype=float)
        d = d[np.isfinite(d)]
        lo, hi = np.quantile(d, [alpha, 1 - alpha]) if d.size else (np.nan, np.nan)
        rows.append(
            {"metric": m, "value": point[m], "ci_low": float(lo), "ci_high": float(hi), "n_boot": int(d.size)}
        )
    return pd.DataFrame(rows)


def roc_points(y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Every ROC operating point: threshold, fpr, tpr (from (0, 0) to (1, 1))."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    thresholds = np.unique(score)[::-1]
    n1, n0 = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    fpr = [0.0] + [float(np.sum((score >= t) & ~y) / n0) for t in thresholds]
    tpr = [0.0] + [float(np.sum((score >= t) & y) / n1) for t in thresholds]
    return pd.DataFrame({"threshold": [np.inf, *thresholds.tolist()], "fpr": fpr, "tpr": tpr})


def roc_on_grid(points: pd.DataFrame, step: float = 0.02) -> dict[float, float]:
    """The ROC step function sampled at evenly spaced false-positive rates (for line plots)."""
    grid = np.round(np.arange(0.0, 1.0 + step / 2, step), 6)
    fpr = points["fpr"].to_numpy()
    tpr = points["tpr"].to_numpy()
    return {float(x): float(tpr[fpr <= x + 1e-12].max()) for x in grid}


def permutation_p_value(observed: float, null: np.ndarray) -> float:
    """One-sided permutation p-value ``(1 + #{null >= observed}) / (1 + n)`` (never 0)."""
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + null.size))
