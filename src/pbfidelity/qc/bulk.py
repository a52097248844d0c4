"""Bulk QC: library size, detected genes, % mitochondrial, and the replicate-outlier rule."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bulk_metrics(counts: pd.DataFrame, mito: np.ndarray) -> pd.DataFrame:
    """Per sample (columns of a genes x samples table): library_size, n_genes, pct_mito."""
    lib = counts.sum(axis=0).astype(np.int64)
    mt = counts.loc[mito].sum(axis=0) if mito.any() else pd.Series(0, index=counts.columns)
    return pd.DataFrame(
        {
            "library_size": lib,
            "n_genes": (counts > 0).sum(axis=0).astype(np.int64),
            "pct_mito": 100.0 * mt / lib.where(lib > 0, 1),
        }
    )


def replicate_outliers(unassigned: pd.Series, factor: float = 3.0) -> pd.Series:
    """True for samples whose unassigned/no-feature count is > ``factor`` x or < 1/``factor`` x the median."""
    u = unassigned.astype(np.float64)
    med = float(np.median(u))
    if med <= 0:
        return pd.Series(False, index=u.index)
    return (u > factor * med) | (u < med / factor)
