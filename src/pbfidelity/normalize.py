"""Library-size normalisation of profiles (rows = profiles, columns = genes): CPM, TMM, log1p.

Pure functions on numpy arrays or scipy sparse matrices. TMM follows edgeR's ``calcNormFactors``
(trimmed mean of M-values: 30 % log-ratio trim, 5 % abundance trim, precision weights, reference = the
profile whose upper quartile is closest to the mean upper quartile). Functions that fit something
(``tmm_factors``) accept an explicit reference so callers can fit on training folds only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

LAYER_METHODS = {
    "logcpm": "log1p(counts / library size * 1e6)",
    "tmm_logcpm": "log1p(counts / (library size * TMM factor) * 1e6); TMM as edgeR calcNormFactors "
    "(logratioTrim=0.3, sumTrim=0.05, weighted, reference = upper-quartile rule)",
}


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def library_sizes(counts) -> np.ndarray:
    """Total counts per profile (row sums)."""
    return np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()


def cpm(counts, size_factors: np.ndarray | None = None) -> np.ndarray:
    """Counts per million; ``size_factors`` (e.g. TMM) multiply the library sizes."""
    x = _dense(counts)
    lib = library_sizes(x)
    if size_factors is not None:
        lib = lib * np.asarray(size_factors, dtype=np.float64)
    lib = np.where(lib > 0, lib, 1.0)
    return x / lib[:, None] * 1e6


def log1p_cpm(counts, size_factors: np.ndarray | None = None) -> np.ndarray:
    """``log1p(CPM)``: the log-CPM scale used across pbfidelity."""
    return np.log1p(cpm(counts, size_factors))


def upper_quartile_reference(counts) -> int:
    """Index of the profile whose 75th-percentile CPM is closest to the mean (edgeR's reference rule)."""
    uq = np.concatenate([_upper_quartiles(x) for x in _row_steps(counts)]) if counts.shape[0] else np.zeros(0)
    return int(np.argmin(np.abs(uq - uq.mean())))


def _upper_quartiles(x: np.ndarray) -> np.ndarray:
    lib = np.where(library_sizes(x) > 0, library_sizes(x), 1.0)
    return np.quantile(x / lib[:, None], 0.75, axis=1)


#: rows converted at a time by the row-wise functions (bounds their float64 temporaries; results are the same)
ROW_STEP = 64


def _row_steps(counts, step: int = ROW_STEP):
    """Dense float64 copies of ``counts``' rows, ``step`` rows at a time (row-wise results are unchanged)."""
    for s in range(0, counts.shape[0], step):
        yield _dense(counts[s : s + step])


def _tmm_one(obs: np.ndarray, ref: np.ndarray, log_trim: float, sum_trim: float) -> float:
    n_obs, n_ref = obs.sum(), ref.sum()
    if n_obs <= 0 or n_ref <= 0:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_r = np.log2((obs / n_obs) / (ref / n_ref))
        abs_e = (np.log2(obs / n_obs) + np.log2(ref / n_ref)) / 2
        var = (n_obs - obs) / n_obs / obs + (n_ref - ref) / n_ref / ref
    ok = np.isfinite(log_r) & np.isfinite(abs_e) & np.isfinite(var)
    log_r, abs_e, var = log_r[ok], abs_e[ok], var[ok]
    if log_r.size == 0 or np.max(np.abs(log_r)) < 1e-6:
        return 1.0
    n = log_r.size
    lo_l = np.floor(n * log_trim) + 1
    hi_l = n + 1 - lo_l
    lo_s = np.floor(n * sum_trim) + 1
    hi_s = n + 1 - lo_s
    r_l, r_s = rankdata(log_r), rankdata(abs_e)
    keep = (r_l >= lo_l) & (r_l <= hi_l) & (r_s >= lo_s) & (r_s <= hi_s)
    if not keep.any():
        return 1.0
    f = np.sum(log_r[keep] / var[keep]) / np.sum(1.0 / var[keep])
    return float(2.0**f) if np.isfinite(f) else 1.0


def tmm_factors(
    counts,
    reference: np.ndarray | None = None,
    log_trim: float = 0.3,
    sum_trim: float = 0.05,
) -> np.ndarray:
    """TMM normalisation factors per profile, scaled to a geometric mean of 1.

    ``reference`` is a count vector (genes); by default the upper-quartile reference profile of ``counts``.
    Pass a reference derived from training profiles to keep held-out data out of the fit.
    """
    if reference is None:
        i = upper_quartile_reference(counts)
        ref = _dense(counts[i : i + 1])[0]
    else:
        ref = np.asarray(reference, dtype=np.float64)
    f = np.array([_tmm_one(row, ref, log_trim, sum_trim) for x in _row_steps(counts) for row in x])
    return f / np.exp(np.mean(np.log(f)))


def add_normalised_layers(adata) -> None:
    """Add ``logcpm`` and ``tmm_logcpm`` layers to a profiles AnnData (X = raw counts), methods in ``uns``."""
    factors = tmm_factors(adata.X)
    adata.obs["tmm_factor"] = factors
    adata.layers["logcpm"] = log1p_cpm_float32(adata.X)
    adata.layers["tmm_logcpm"] = log1p_cpm_float32(adata.X, factors)
    adata.uns["layer_methods"] = dict(LAYER_METHODS)


def log1p_cpm_float32(counts, size_factors: np.ndarray | None = None) -> np.ndarray:
    """``log1p_cpm(counts, size_factors).astype(np.float32)``, computed :data:`ROW_STEP` rows at a time so
    that no float64 copy of the whole matrix is held (the same values: every step is row-wise)."""
    out = np.empty(counts.shape, dtype=np.float32)
    f = None if size_factors is None else np.asarray(size_factors, dtype=np.float64)
    for s, x in zip(range(0, counts.shape[0], ROW_STEP), _row_steps(counts), strict=True):
        out[s : s + x.shape[0]] = log1p_cpm(x, None if f is None else f[s : s + x.shape[0]])
    return out
