"""Profile-to-profile agreement on log-CPM: Pearson/Spearman by pair kind, matched vs unmatched, CCC, RMSE.

Pair kinds: ``within_bulk``, ``within_pseudobulk``, ``matched`` (bulk and pseudo-bulk of the same sample) and
``unmatched`` (bulk and pseudo-bulk of different samples). The matched-vs-unmatched contrast is tested by
permuting which pseudo-bulk profile each matched bulk profile is paired with (one-sided: matched higher).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

KINDS = ("within_bulk", "within_pseudobulk", "matched", "unmatched")


def pearson_matrix(x: np.ndarray) -> np.ndarray:
    """Pearson correlation between the rows of ``x`` (constant rows give NaN)."""
    z = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt((z * z).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = z / norm[:, None]
    return np.clip(z @ z.T, -1.0, 1.0)


def spearman_matrix(x: np.ndarray) -> np.ndarray:
    """Spearman correlation between the rows of ``x`` (average ranks for ties)."""
    return pearson_matrix(rankdata(x, axis=1))


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient of two vectors."""
    mx, my = x.mean(), y.mean()
    cov = np.mean((x - mx) * (y - my))
    denom = x.var() + y.var() + (mx - my) ** 2
    return float(2 * cov / denom) if denom > 0 else float("nan")


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((x - y) ** 2)))


def pair_table(
    logx: np.ndarray, profiles: pd.Index, modality: np.ndarray, sample: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every pair of profiles with its kind and Pearson/Spearman r; also returns both full matrices."""
    pe, sr = pearson_matrix(logx), spearman_matrix(logx)
    i, j = np.triu_indices(len(profiles), k=1)
    mi, mj = modality[i], modality[j]
    kind = np.where(
        mi == mj,
        np.where(mi == "bulk", "within_bulk", "within_pseudobulk"),
        np.where(sample[i] == sample[j], "matched", "unmatched"),
    )
    table = pd.DataFrame(
        {
            "profile_a": profiles[i],
            "profile_b": profiles[j],
            "kind": kind,
            "pearson": pe[i, j],
            "spearman": sr[i, j],
        }
    )
    return table, pe, sr


def kind_summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """n, mean, median, min of Pearson and Spearman r per pair kind (kinds without pairs are left out)."""
    g = pairs.groupby("kind", observed=True)[["pearson", "spearman"]]
    out = g.agg(["count", "mean", "median", "min"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    out = out.rename(columns={"pearson_count": "n_pairs"}).drop(columns="spearman_count")
    return out.reindex([k for k in KINDS if k in out.index])


def matched_contrast(
    cross: np.ndarray, n_perm: int = 999, rng: np.random.Generator | None = None
) -> dict[str, float]:
    """Matched (diagonal) vs unmatched (off-diagonal) r of a bulk x pseudo-bulk matrix ordered by pair.

    p: share of pairings (random permutations of the pseudo-bulk profiles, plus the observed one) whose mean
    r is at least the observed matched mean. With fewer than 3 pairs no test is made.
    """
    rng = rng or np.random.default_rng(0)
    n = cross.shape[0]
    out = {
        "n_pairs": float(n),
        "matched_mean": float("nan"),
        "unmatched_mean": float("nan"),
        "difference": float("nan"),
        "p_value": float("nan"),
        "n_permutations": 0.0,
    }
    if n == 0:
        return out
    diag = np.diag(cross)
    off = cross[~np.eye(n, dtype=bool)]
    out["matched_mean"] = float(diag.mean())
    if n < 2:
        return out
    out["unmatched_mean"] = float(off.mean())
    out["difference"] = out["matched_mean"] - out["unmatched_mean"]
    if n >= 3 and n_perm > 0:
        rows = np.arange(n)
        stats = np.array([cross[rows, rng.permutation(n)].mean() for _ in range(n_perm)])
        out["p_value"] = float((1 + np.sum(stats >= diag.mean() - 1e-12)) / (n_perm + 1))
        out["n_permutations"] = float(n_perm)
    return out


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 2000, level: float = 0.95, rng: np.random.Generator | None = None
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (NaN when fewer than 2 values)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan"), float("nan")
    rng = rng or np.random.default_rng(0)
    means = values[rng.integers(0, values.size, size=(n_boot, values.size))].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def matched_pair_table(logx: np.ndarray, pairs: pd.DataFrame, pe: np.ndarray, sr: np.ndarray) -> pd.DataFrame:
    """Per matched pair: Pearson, Spearman, CCC and RMSE of log-CPM."""
    rows = []
    for p in pairs.itertuples(index=False):
        x, y = logx[p.bulk], logx[p.pseudobulk]
        rows.append(
            {
                "sample": p.sample,
                "donor": p.donor,
                "pearson": pe[p.bulk, p.pseudobulk],
                "spearman": sr[p.bulk, p.pseudobulk],
                "ccc": ccc(x, y),
                "rmse": rmse(x, y),
            }
        )
    return pd.DataFrame(rows, columns=["sample", "donor", "pearson", "spearman", "ccc", "rmse"])
