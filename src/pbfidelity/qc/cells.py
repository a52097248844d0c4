"""Per-cell QC metrics (streamed chunk by chunk) and MAD-based outlier flags per sample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class CellQCParams:
    """Thresholds: MAD multiples on log counts/genes (both sides) and on % mito (upper), plus hard floors."""

    nmads_counts: float = 5.0
    nmads_genes: float = 5.0
    nmads_mito: float = 3.0
    max_pct_mito: float = 20.0
    min_counts: int = 0
    min_genes: int = 0


def cell_metrics(X: sp.csr_matrix, mito: np.ndarray, ribo: np.ndarray) -> pd.DataFrame:
    """total_counts, n_genes, pct_mito and pct_ribo for the rows of a CSR block."""
    X = sp.csr_matrix(X)
    total = np.asarray(X.sum(axis=1)).ravel().astype(np.float64)
    n_genes = np.diff(X.indptr)
    mt = np.asarray(X[:, np.flatnonzero(mito)].sum(axis=1)).ravel() if mito.any() else np.zeros(X.shape[0])
    rb = np.asarray(X[:, np.flatnonzero(ribo)].sum(axis=1)).ravel() if ribo.any() else np.zeros(X.shape[0])
    denom = np.where(total > 0, total, 1.0)
    return pd.DataFrame(
        {
            "total_counts": total.astype(np.int64),
            "n_genes": n_genes.astype(np.int64),
            "pct_mito": 100.0 * mt / denom,
            "pct_ribo": 100.0 * rb / denom,
        }
    )


def mad_bounds(values: np.ndarray, nmads: float) -> tuple[float, float]:
    """The cut-offs of :func:`mad_outliers`: median -/+ ``nmads`` scaled MADs (NaN when the MAD is 0: no cut)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(v))
    mad = 1.4826 * float(np.median(np.abs(v - med)))
    if mad == 0:
        return float("nan"), float("nan")
    return med - nmads * mad, med + nmads * mad


def sample_cutoffs(metrics: pd.DataFrame, groups: np.ndarray, params: CellQCParams) -> pd.DataFrame:
    """Per group (sample): the cut-offs :func:`flag_cells` applies, on the metrics' own scale (counts and genes
    back-transformed from log1p; % mito capped by ``max_pct_mito``; hard floors raise the lower bounds)."""
    rows = {}
    groups = np.asarray(groups)
    for g in pd.unique(groups):
        m = metrics[groups == g]
        c_lo, c_hi = mad_bounds(np.log1p(m["total_counts"].to_numpy()), params.nmads_counts)
        g_lo, g_hi = mad_bounds(np.log1p(m["n_genes"].to_numpy()), params.nmads_genes)
        _, m_hi = mad_bounds(m["pct_mito"].to_numpy(), params.nmads_mito)
        rows[g] = {
            "min_counts": max(float(np.expm1(c_lo)), params.min_counts)
            if np.isfinite(c_lo)
            else params.min_counts,
            "max_counts": float(np.expm1(c_hi)),
            "min_genes": max(float(np.expm1(g_lo)), params.min_genes)
            if np.isfinite(g_lo)
            else params.min_genes,
            "max_genes": float(np.expm1(g_hi)),
            "max_pct_mito": min(m_hi, params.max_pct_mito) if np.isfinite(m_hi) else params.max_pct_mito,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "sample"
    return out


def mad_outliers(values: np.ndarray, nmads: float, side: str = "both") -> np.ndarray:
    """True where ``values`` lies more than ``nmads`` scaled MADs from the median (``side``: both|upper|lower)."""
    v = np.asarray(values, dtype=np.float64)
    med = np.median(v)
    mad = 1.4826 * np.median(np.abs(v - med))
    if mad == 0:
        return np.zeros(v.shape, dtype=bool)
    z = (v - med) / mad
    if side == "upper":
        return z > nmads
    if side == "lower":
        return z < -nmads
    return np.abs(z) > nmads


def flag_cells(metrics: pd.DataFrame, groups: np.ndarray, params: CellQCParams) -> pd.DataFrame:
    """Add outlier flags (per group, e.g. sample) and a ``pass_qc`` column to a cell-metrics table."""
    out = metrics.copy()
    for col in ("outlier_counts", "outlier_genes", "outlier_mito"):
        out[col] = False
    groups = np.asarray(groups)
    for g in pd.unique(groups):
        rows = np.flatnonzero(groups == g)
        m = metrics.iloc[rows]
        out.iloc[rows, out.columns.get_loc("outlier_counts")] = mad_outliers(
            np.log1p(m["total_counts"].to_numpy()), params.nmads_counts
        )
        out.iloc[rows, out.columns.get_loc("outlier_genes")] = mad_outliers(
            np.log1p(m["n_genes"].to_numpy()), params.nmads_genes
        )
        out.iloc[rows, out.columns.get_loc("outlier_mito")] = mad_outliers(
            m["pct_mito"].to_numpy(), params.nmads_mito, side="upper"
        )
    out["outlier_mito"] |= out["pct_mito"] > params.max_pct_mito
    out["below_min"] = (out["total_counts"] < params.min_counts) | (out["n_genes"] < params.min_genes)
    out["pass_qc"] = ~(out["outlier_counts"] | out["outlier_genes"] | out["outlier_mito"] | out["below_min"])
    return out
