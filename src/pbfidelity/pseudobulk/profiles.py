"""Assemble the profiles AnnData (bulk + pseudo-bulk rows) of the architecture contract."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from pbfidelity.normalize import add_normalised_layers
from pbfidelity.qc.genes import detection_filter

#: rows rounded at a time (bounds the temporaries on large profile matrices)
ROW_STEP = 256


def integer_counts(counts: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
    """``np.rint(counts[:, columns]).astype(np.int64)``, :data:`ROW_STEP` rows at a time (no full-size
    temporaries; ``columns`` None = all)."""
    n_cols = counts.shape[1] if columns is None else len(columns)
    out = np.empty((counts.shape[0], n_cols), dtype=np.int64)
    for s in range(0, counts.shape[0], ROW_STEP):
        part = counts[s : s + ROW_STEP]
        np.rint(part if columns is None else part[:, columns], out=out[s : s + ROW_STEP], casting="unsafe")
    return out


def profiles_anndata(
    counts: np.ndarray, obs: pd.DataFrame, genes: pd.Index, columns: np.ndarray | None = None
) -> ad.AnnData:
    """An AnnData with integer counts in X (rounded from the float accumulation, which is exact);
    ``columns``: only these columns of ``counts`` (named by ``genes``), read without a copy of the rest."""
    x = integer_counts(counts, columns)
    obs = obs.copy()
    obs["n_counts"] = x.sum(axis=1)
    return ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=pd.Index(genes, name="gene")))


def filter_and_normalise(adata: ad.AnnData, min_fraction: float) -> tuple[ad.AnnData, pd.DataFrame]:
    """Apply the detection filter (decided on bulk + primary pseudo-bulk rows) and add normalised layers."""
    primary = adata.obs["replicate"].to_numpy() == 0
    keep, table = detection_filter(adata.X[primary], adata.obs["modality"].to_numpy()[primary], min_fraction)
    table.index = adata.var_names
    out = adata[:, keep].copy()
    for col in table.columns:
        if col != "kept":
            out.var[col] = table.loc[out.var_names, col].to_numpy()
    add_normalised_layers(out)
    return out, table


def read_proportions(path, dataset: str, samples: list[str]) -> dict[str, dict[str, float]]:
    """Target cell-type proportions (fractions, or cell numbers when a row sums to more than 1.5)."""
    from pbfidelity.errors import UserError

    try:
        df = pd.read_csv(path, sep=None, engine="python")
    except Exception as exc:  # pandas raises many parser types
        raise UserError(f"{path}: cannot read proportions table ({exc})") from None
    if "sample" not in df.columns:
        df = df.rename(columns={df.columns[0]: "sample"})
    if "dataset" in df.columns:
        df = df[df["dataset"].astype(str) == dataset].drop(columns="dataset")
    df["sample"] = df["sample"].astype(str)
    df = df.set_index("sample")
    out = {}
    for s in samples:
        if s not in df.index:
            raise UserError(f"{path}: no row for sample '{s}' of dataset '{dataset}'")
        row = pd.to_numeric(df.loc[s], errors="coerce")
        if row.isna().any() or (row < 0).any():
            bad = row.index[(row.isna() | (row < 0)).to_numpy()][0]
            raise UserError(f"{path}: sample '{s}', column '{bad}': proportions must be non-negative numbers")
        out[s] = {str(k): float(v) for k, v in row.items()}
    return out


def target_cell_numbers(target: dict[str, float], n_available: int) -> dict[str, int]:
    """Cells to draw per type: the numbers themselves, or fractions x ``n_available`` (largest remainder)."""
    total = sum(target.values())
    if total > 1.5:
        return {k: int(round(v)) for k, v in target.items()}
    if total <= 0:
        return dict.fromkeys(target, 0)
    exact = {k: v / total * n_available for k, v in target.items()}
    base = {k: int(np.floor(v)) for k, v in exact.items()}
    rest = n_available - sum(base.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - base[k]), k))[:rest]:
        base[k] += 1
    return base
