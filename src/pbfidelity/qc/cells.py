"""Per-cell QC metrics (streamed in blocks bounded by non-zeros) and MAD-based outlier flags per sample."""

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
    total = np.asarray(X.sum(axis=1)).ravel()
    mt = np.asarray(X[:, np.flatnonzero(mito)].sum(axis=1)).ravel() if mito.any() else np.zeros(X.shape[0])
    rb = np.asarray(X[:, np.flatnonzero(ribo)].sum(axis=1)).ravel() if ribo.any() else np.zeros(X.shape[0])
    return _metrics_frame(total, np.diff(X.indptr), mt, rb, X.dtype)


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype scipy sums a sparse matrix of ``dtype`` in (so streamed sums promote as ``X.sum`` does)."""
    if dtype.kind == "u" and np.can_cast(dtype, np.uint64):
        return np.dtype(np.uint64)
    if np.can_cast(dtype, np.int64):
        return np.dtype(np.int64)
    return np.dtype(dtype)


def _metrics_frame(total, n_genes, mt, rb, dtype: np.dtype) -> pd.DataFrame:
    """The :func:`cell_metrics` table from per-cell sums (exact float64 sums of integer counts)."""
    sd = _sum_dtype(dtype)
    total = total.astype(sd).astype(np.float64)
    mt, rb = mt.astype(sd), rb.astype(sd)
    denom = np.where(total > 0, total, 1.0)
    return pd.DataFrame(
        {
            "total_counts": total.astype(np.int64),
            "n_genes": n_genes.astype(np.int64),
            "pct_mito": 100.0 * mt / denom,
            "pct_ribo": 100.0 * rb / denom,
        }
    )


def stream_cell_metrics(
    src, used: np.ndarray, mito: np.ndarray, ribo: np.ndarray, max_nnz: int | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """:func:`cell_metrics` of the cells ``used`` (a boolean mask over ``src``'s cells), index = cell position.

    ``src`` (a :class:`~pbfidelity.io.singlecell.SingleCellSource`) is read in blocks of at most ``max_nnz``
    non-zeros (default :data:`~pbfidelity.io.singlecell.DEFAULT_BLOCK_NNZ`; CSR row blocks of at most
    ``max_rows`` cells, or CSC gene blocks), so memory is one block plus a few numbers per cell, whatever the
    number of cells. Counts are checked (non-negative integers) block by block. The sums are exact, so the
    table equals :func:`cell_metrics` of the whole matrix.
    """
    from pbfidelity.io.singlecell import DEFAULT_BLOCK_NNZ

    max_nnz = max_nnz or DEFAULT_BLOCK_NNZ
    n = src.n_obs
    mito, ribo = np.asarray(mito, bool), np.asarray(ribo, bool)
    if src.storage == "csc":  # gene blocks: every block adds into all cells
        total, mt, rb = np.zeros(n), np.zeros(n), np.zeros(n)
        n_genes = np.zeros(n, dtype=np.int64)
        dtype = None
        for blk in src.iter_column_blocks(max_nnz):
            dtype = blk.data.dtype
            _check_block(src, blk.data, blk.indices)
            gene = np.repeat(np.arange(blk.start, blk.stop), np.diff(blk.indptr))
            total += np.bincount(blk.indices, weights=blk.data, minlength=n)
            n_genes += np.bincount(blk.indices, minlength=n)
            for mask, acc in ((mito, mt), (ribo, rb)):
                sel = mask[gene]
                if sel.any():
                    acc += np.bincount(blk.indices[sel], weights=blk.data[sel], minlength=n)
        idx = np.flatnonzero(used)
        frame = _metrics_frame(total[idx], n_genes[idx], mt[idx], rb[idx], dtype or np.dtype(np.float64))
        return frame.set_index(idx)
    parts = []
    for blk in src.iter_blocks(max_nnz, max_rows):
        src.check_values(blk.data, blk.start)
        rows = blk.stop - blk.start
        sel = np.flatnonzero(used[blk.start : blk.stop])
        if sel.size == 0:
            continue
        row = np.repeat(np.arange(rows), np.diff(blk.indptr))
        total = np.bincount(row, weights=blk.data, minlength=rows)
        sums = []
        for mask in (mito, ribo):
            hit = mask[blk.indices]
            sums.append(np.bincount(row[hit], weights=blk.data[hit], minlength=rows))
        frame = _metrics_frame(total[sel], np.diff(blk.indptr)[sel], sums[0][sel], sums[1][sel], blk.data.dtype)
        parts.append(frame.set_index(blk.start + sel))
    if not parts:
        return _metrics_frame(*(np.zeros(0),) * 4, np.dtype(np.float64)).set_index(np.zeros(0, np.int64))
    return pd.concat(parts)


def _check_block(src, data: np.ndarray, cells: np.ndarray) -> None:
    """Raise the source's UserError if a value of a CSC block is not a non-negative integer (names its cell)."""
    from pbfidelity.pseudobulk.kernels import first_bad_numpy

    pos = first_bad_numpy(data)
    if pos >= 0:
        src.check_values(data, int(cells[pos]))


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
