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
    # both ways give U exactly (integers and halves): direct pair count for small sets, ranks (n log n) beyond
    if n1 * n0 <= 4_096:
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


def _rows_by_label(labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted unique labels and, for each, the indices of its rows in row order (one sort, not one scan per
    label)."""
    unique, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return unique, (np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1) if order.size else [])


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
    unique, rows_of = _rows_by_label(donors)
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
    pos, neg = np.sort(score[y]), np.sort(score[~y])
    # profiles scoring >= each threshold, by class: counts from the sorted scores (n log n)
    fp = neg.size - np.searchsorted(neg, thresholds, side="left")
    tp = pos.size - np.searchsorted(pos, thresholds, side="left")
    fpr = [0.0] + (fp / n0).tolist()
    tpr = [0.0] + (tp / n1).tolist()
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


def paired_concordance_interval(
    y: np.ndarray, score: np.ndarray, samples: np.ndarray, level: float = 0.95
) -> dict[str, float]:
    """An AUROC-type interval that stays valid at the boundary: exact binomial over independent pairs.

    For every sample with a bulk and a pseudo-bulk profile among the rows, the pair is *concordant* when the
    bulk profile scores above its own pseudo-bulk (ties count half). The concordance probability is the paired
    AUROC; with ``k`` concordant of ``n`` pairs (ties rounded down, so the bound is conservative) the
    Clopper-Pearson interval is exact, and the one-sided lower bound stays below 1 when every pair is
    separated (21 of 21 -> 0.867 at 95 %). Returns concordance, two-sided ``ci_low``/``ci_high``, the one-sided
    ``lower_bound`` and ``n_pairs``.
    """
    from scipy.stats import beta

    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    samples = np.asarray(samples).astype(str)
    wins = 0.0
    n = 0
    for rows in _rows_by_label(samples)[1]:
        b, p = score[rows[y[rows]]], score[rows[~y[rows]]]
        if b.size == 0 or p.size == 0:
            continue
        n += 1
        wins += float(np.mean((b[:, None] > p[None, :]) + 0.5 * (b[:, None] == p[None, :])))
    if n == 0:
        nan = float("nan")
        return {"concordance": nan, "ci_low": nan, "ci_high": nan, "lower_bound": nan, "n_pairs": 0}
    k = int(np.floor(wins + 1e-9))
    alpha = 1 - level
    lo = float(beta.ppf(alpha / 2, k, n - k + 1)) if k > 0 else 0.0
    hi = float(beta.ppf(1 - alpha / 2, k + 1, n - k)) if k < n else 1.0
    lb = float(beta.ppf(alpha, k, n - k + 1)) if k > 0 else 0.0
    return {"concordance": wins / n, "ci_low": lo, "ci_high": hi, "lower_bound": lb, "n_pairs": n}


def probability_scores(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Held-out log-loss and Brier score of probability scores (they keep growing apart past AUROC 1)."""
    from sklearn.metrics import brier_score_loss, log_loss

    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(score, dtype=float), 1e-6, 1 - 1e-6)
    if np.unique(y).size < 2:
        return {"log_loss": float("nan"), "brier": float("nan")}
    return {"log_loss": float(log_loss(y, p, labels=[0, 1])), "brier": float(brier_score_loss(y, p))}


def genes_separating_alone(
    x: np.ndarray, y: np.ndarray, folds: np.ndarray, evaluate: np.ndarray
) -> np.ndarray:
    """Boolean per gene: a one-gene threshold learnt on each training fold separates that fold's held-out
    (``evaluate``) profiles perfectly, in every fold. The threshold is the midpoint between the classes'
    training ranges, so a gene qualifies only when it also separates the training profiles."""
    y = np.asarray(y).astype(bool)
    ok = np.ones(x.shape[1], dtype=bool)
    for k in np.unique(folds):
        tr, te = folds != k, (folds == k) & evaluate
        if not te.any() or np.unique(y[tr]).size < 2:
            continue
        b, p = x[tr & y], x[tr & ~y]
        up = b.min(axis=0) > p.max(axis=0)  # bulk above pseudo-bulk in training
        down = b.max(axis=0) < p.min(axis=0)
        thr = np.where(up, (b.min(axis=0) + p.max(axis=0)) / 2, (b.max(axis=0) + p.min(axis=0)) / 2)
        xt, yt = x[te], y[te]
        pred_up = xt > thr
        correct = np.where(up, (pred_up == yt[:, None]).all(axis=0), (~pred_up == yt[:, None]).all(axis=0))
        ok &= (up | down) & correct
    return ok


def pair_distance_ratio(x: np.ndarray, bulk_rows: np.ndarray, pb_rows: np.ndarray) -> dict[str, float]:
    """Median matched-pair distance (1 - Pearson r of log-CPM, bulk vs its own pseudo-bulk) over the median
    distance between a bulk profile and other samples' pseudo-bulk. Near 1: a sample's pseudo-bulk is no closer
    to its own bulk than to other donors' bulk; near 0: pairs are almost identical."""
    if len(bulk_rows) < 2:
        return {"matched": float("nan"), "between": float("nan"), "ratio": float("nan")}
    a = x[bulk_rows] - x[bulk_rows].mean(axis=1, keepdims=True)
    b = x[pb_rows] - x[pb_rows].mean(axis=1, keepdims=True)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    d = 1.0 - a @ b.T
    matched = float(np.median(np.diag(d)))
    between = float(np.median(d[~np.eye(len(d), dtype=bool)]))
    return {
        "matched": matched,
        "between": between,
        "ratio": matched / between if between > 0 else float("nan"),
    }
