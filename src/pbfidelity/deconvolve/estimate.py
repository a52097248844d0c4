"""Cross-fitted bulk proportions for composition-matched pseudo-bulk (``--proportions estimate``).

Each bulk sample is deconvolved (NNLS on the marker signature, as :mod:`pbfidelity.deconvolve.analysis`)
with a reference built from the per-cell-type profiles of the *other* donors, so no sample's own cells
shape its estimate; the estimates then set the cell numbers of its proportion-matched pseudo-bulk.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.deconvolve.methods import estimate
from pbfidelity.deconvolve.reference import LeaveDonorOut, celltype_table, select_markers
from pbfidelity.errors import UserError
from pbfidelity.normalize import cpm

ESTIMATE = "estimate"
SOURCE = "estimated by deconvolution of each bulk sample (NNLS, leave-donor-out single-cell reference)"


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def estimate_bulk_proportions(
    profiles: ad.AnnData,
    celltype: ad.AnnData,
    dataset: str,
    method: str = "nnls",
    n_markers: int = 50,
    min_log_fc: float = 1.0,
) -> pd.DataFrame:
    """Fractions (bulk samples x cell types) of every primary bulk profile of ``dataset``."""
    table = celltype_table(celltype.obs, dataset)
    if table.empty or table["cell_type"].nunique() < 2:
        raise UserError(f"dataset '{dataset}': --proportions estimate needs at least two cell types")
    genes = np.intersect1d(
        np.asarray(profiles.var_names).astype(str), np.asarray(celltype.var_names).astype(str)
    )
    ct_x = _dense(celltype.X)[:, pd.Index(celltype.var_names.astype(str)).get_indexer(genes)]
    obs = profiles.obs
    rep = pd.to_numeric(obs["replicate"], errors="coerce").fillna(0) if "replicate" in obs else 0
    bulk = (
        (obs["modality"].astype(str) == "bulk") & (obs["dataset"].astype(str) == dataset) & (rep == 0)
    ).to_numpy()
    if not bulk.any():
        raise UserError(f"dataset '{dataset}': no bulk profile to estimate proportions from")
    mix = cpm(_dense(profiles.X[bulk])[:, pd.Index(profiles.var_names.astype(str)).get_indexer(genes)])
    ref_donors = set(table["donor"])
    types = sorted(table["cell_type"].unique())
    out = pd.DataFrame(0.0, index=obs.loc[bulk, "sample"].astype(str).to_numpy(), columns=types)
    cache: dict[str, tuple] = {}
    lodo = LeaveDonorOut(ct_x, table, genes)
    for i, donor in enumerate(obs.loc[bulk, "donor"].astype(str)):
        if donor not in cache:
            excl = {donor} if donor in ref_donors and len(ref_donors) > 1 else set()
            ref = lodo.reference(excl)
            cache[donor] = (ref, select_markers(ref, n_markers, min_log_fc))
        ref, markers = cache[donor]
        mi = pd.Index(genes).get_indexer(markers)
        out.iloc[i, out.columns.get_indexer(ref.cell_types)] = estimate(
            ref.profiles[:, mi].T, mix[i, mi], method
        )
    out.index.name = "sample"
    return out


def targets_from_profiles(adata: ad.AnnData, dataset: str) -> pd.DataFrame | None:
    """The proportion-matching targets the pseudo-bulk stage recorded (samples x cell types), or None."""
    rec = (adata.uns.get("pbfidelity") or {}).get("proportion_targets")
    if not rec or str(rec.get("dataset", dataset)) != dataset:
        return None
    return pd.DataFrame(
        np.asarray(rec["fractions"], dtype=float),
        index=[str(s) for s in rec["samples"]],
        columns=[str(c) for c in rec["cell_types"]],
    )


def targets_record(props: dict[str, dict[str, float]], dataset: str, source: str) -> dict:
    """``props`` (sample -> cell type -> fraction or number) as an h5ad-storable ``uns`` record (fractions)."""
    t = pd.DataFrame(props).T.fillna(0.0).astype(float)
    total = t.sum(axis=1)
    t = t.div(total.where(total > 0, 1.0), axis=0)
    return {
        "dataset": dataset,
        "source": source,
        "samples": [str(s) for s in t.index],
        "cell_types": [str(c) for c in t.columns],
        "fractions": t.to_numpy(),
    }
