"""Which profiles are compared: bulk vs the primary pseudo-bulk, and the matched pairs between them.

Primary profiles are the bulk rows and the pseudo-bulk rows with ``replicate == 0`` that are neither
bootstrap pseudo-replicates (``pb_method == "bootstrap"``) nor per-cell-type profiles (a non-empty
``cell_type``). When several primary pseudo-bulk methods are present (e.g. ``sum`` and ``proportion``), one is
chosen: ``proportion`` (proportion-matched, the like-for-like comparison) when present, else ``sum``, unless the
caller names one. Matched pairs are the samples present once in each modality.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import StageSkipped, UserError
from pbfidelity.io.samplesheet import choose_dataset

METHOD_PREFERENCE = ("proportion", "sum")


@dataclass
class Comparison:
    """The primary bulk vs pseudo-bulk comparison of one dataset (rows = profiles, columns = genes)."""

    dataset: str
    counts: np.ndarray  # float64 raw counts, profiles x genes
    genes: pd.Index
    obs: pd.DataFrame  # index = profile id; sample, donor, modality (+ carried columns)
    pairs: pd.DataFrame  # sample, donor, bulk, pseudobulk (row positions into counts)
    pb_method: str
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def is_bulk(self) -> np.ndarray:
        return (self.obs["modality"] == "bulk").to_numpy()

    @property
    def n_bulk(self) -> int:
        return int(self.is_bulk.sum())

    @property
    def n_pseudobulk(self) -> int:
        return int((~self.is_bulk).sum())


def _column(obs: pd.DataFrame, name: str, default) -> pd.Series:
    if name in obs.columns:
        return obs[name]
    return pd.Series(default, index=obs.index)


def primary_comparison(
    adata: ad.AnnData, dataset: str | None = None, pb_method: str | None = None, source: str = "profiles"
) -> Comparison:
    """Select the primary comparison of ``dataset`` (default: the only one) from a profiles AnnData."""
    obs = adata.obs
    names = sorted(obs["dataset"].astype(str).unique())
    dataset = choose_dataset(names, dataset, source)
    in_ds = (obs["dataset"].astype(str) == dataset).to_numpy()
    modality = obs["modality"].astype(str).to_numpy()
    replicate = pd.to_numeric(_column(obs, "replicate", 0), errors="coerce").fillna(0).to_numpy()
    method = _column(obs, "pb_method", "").astype(str).to_numpy()
    method = np.where(modality == "bulk", "bulk", np.where(method == "nan", "sum", method))
    ct = _column(obs, "cell_type", "").astype(object).where(lambda s: s.notna(), "").astype(str).to_numpy()
    per_type = (modality == "pseudobulk") & ~np.isin(ct, ["", "nan", "all"])
    boot = (method == "bootstrap") | (replicate > 0)
    excluded = {
        "bootstrap_replicates": int((in_ds & boot).sum()),
        "per_cell_type": int((in_ds & per_type & ~boot).sum()),
    }
    pb_ok = in_ds & (modality == "pseudobulk") & ~boot & ~per_type
    present = sorted(set(method[pb_ok]))
    if pb_method is None:
        pb_method = next((m for m in METHOD_PREFERENCE if m in present), present[0] if present else "sum")
    elif pb_method not in present:
        raise UserError(
            f"{source}: dataset '{dataset}': no primary pseudo-bulk with pb_method '{pb_method}' "
            f"(present: {present})"
        )
    other = pb_ok & (method != pb_method)
    excluded["other_pb_methods"] = int(other.sum())
    keep = (in_ds & (modality == "bulk") & (replicate == 0)) | (pb_ok & (method == pb_method))
    sub = obs.loc[keep, [c for c in obs.columns]].copy()
    for col in ("dataset", "sample", "donor", "modality"):
        sub[col] = sub[col].astype(str)
    n_b, n_p = int((sub["modality"] == "bulk").sum()), int((sub["modality"] == "pseudobulk").sum())
    if n_b < 2 or n_p < 2:
        raise StageSkipped(
            f"{source}: dataset '{dataset}' has {n_b} bulk and {n_p} primary pseudo-bulk profiles; "
            "metrics need at least 2 of each"
        )
    x = adata.X[np.flatnonzero(keep)]
    x = np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)
    expressed = x.sum(axis=0) > 0
    excluded["genes_all_zero"] = int((~expressed).sum())
    x = x[:, expressed]
    genes = pd.Index(adata.var_names[expressed].astype(str))
    pairs = matched_pairs(sub)
    return Comparison(dataset, x, genes, sub, pairs, pb_method, excluded)


def matched_pairs(obs: pd.DataFrame) -> pd.DataFrame:
    """Samples present exactly once in each modality: sample, donor, bulk and pseudobulk row positions."""
    pos = pd.Series(np.arange(len(obs)), index=obs.index)
    rows = []
    for sample, grp in obs.groupby("sample", sort=True, observed=True):
        b = grp.index[grp["modality"] == "bulk"]
        p = grp.index[grp["modality"] == "pseudobulk"]
        if len(b) == 1 and len(p) == 1:
            rows.append(
                {
                    "sample": str(sample),
                    "donor": str(grp["donor"].iloc[0]),
                    "bulk": int(pos[b[0]]),
                    "pseudobulk": int(pos[p[0]]),
                }
            )
    return pd.DataFrame(rows, columns=["sample", "donor", "bulk", "pseudobulk"])
