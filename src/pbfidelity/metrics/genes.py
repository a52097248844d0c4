"""Per-gene differences between the modalities: mean level, log-fold bias, detection rate, mean densities.

``log2_bias`` is bulk relative to pseudo-bulk on CPM with a pseudo-count of 1: the mean over matched pairs
of ``log2((CPM_bulk + 1) / (CPM_pseudobulk + 1))`` when there are at least two matched pairs, else the same
ratio of the modality means. Positive = higher in bulk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def gene_bias(
    cpm: np.ndarray, counts: np.ndarray, is_bulk: np.ndarray, pairs: pd.DataFrame, genes: pd.Index
) -> pd.DataFrame:
    """Per-gene table: mean log-CPM per modality, log2 bias, detection per modality and their difference."""
    lc = np.log1p(cpm)
    b, p = cpm[is_bulk], cpm[~is_bulk]
    if len(pairs) >= 2:
        lb = np.log2(cpm[pairs["bulk"].to_numpy()] + 1)
        lp = np.log2(cpm[pairs["pseudobulk"].to_numpy()] + 1)
        bias, basis = (lb - lp).mean(axis=0), "matched pairs"
    else:
        bias, basis = np.log2(b.mean(axis=0) + 1) - np.log2(p.mean(axis=0) + 1), "modality means"
    det_b = (counts[is_bulk] > 0).mean(axis=0)
    det_p = (counts[~is_bulk] > 0).mean(axis=0)
    out = pd.DataFrame(
        {
            "mean_logcpm_bulk": lc[is_bulk].mean(axis=0),
            "mean_logcpm_pseudobulk": lc[~is_bulk].mean(axis=0),
            "mean_logcpm": lc.mean(axis=0),
            "log2_bias": bias,
            "detection_bulk": det_b,
            "detection_pseudobulk": det_p,
            "detection_diff": det_b - det_p,
        },
        index=pd.Index(genes, name="gene"),
    )
    out.attrs["bias_basis"] = basis
    return out


def mean_density(bias: pd.DataFrame, n_points: int = 60) -> pd.DataFrame:
    """Gaussian-kernel density of gene mean log-CPM per modality on a shared grid (Scott's bandwidth)."""
    from scipy.stats import gaussian_kde

    cols = {"bulk": "mean_logcpm_bulk", "pseudobulk": "mean_logcpm_pseudobulk"}
    lo = float(min(bias[c].min() for c in cols.values()))
    hi = float(max(bias[c].max() for c in cols.values()))
    grid = np.linspace(lo, hi, n_points)
    out = {"mean_logcpm": grid}
    for name, col in cols.items():
        v = bias[col].to_numpy()
        out[name] = gaussian_kde(v)(grid) if np.ptp(v) > 0 else np.zeros_like(grid)
    return pd.DataFrame(out)
