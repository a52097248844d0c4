"""Select the bulk and pseudo-bulk profiles of one dataset and turn them into labelled log-CPM features.

Bulk = 1, pseudo-bulk = 0. Only whole-sample pseudo-bulk of one construction method is used (per-cell-type
profiles are left out); bootstrap pseudo-replicates (``replicate > 0``) are kept by default and share their
donor, so every split keeps them with the donor's other profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import StageSkipped, UserError
from pbfidelity.normalize import log1p_cpm

#: pseudo-bulk construction methods in order of preference for ``pb_method="auto"``
AUTO_METHODS = ("proportion", "sum")


@dataclass
class ProfileSet:
    """Labelled profiles of one dataset: raw counts (profiles x genes) and their ``obs``."""

    dataset: str
    counts: np.ndarray
    genes: np.ndarray
    obs: pd.DataFrame
    pb_method: str

    @property
    def y(self) -> np.ndarray:
        """1 for bulk, 0 for pseudo-bulk."""
        return (self.obs["modality"].to_numpy() == "bulk").astype(np.int64)

    @property
    def donors(self) -> np.ndarray:
        return self.obs["donor"].astype(str).to_numpy()

    def logcpm(self) -> np.ndarray:
        """``log1p(CPM)`` per profile (a row-wise transform: nothing is fitted across profiles)."""
        return log1p_cpm(self.counts)

    def subset_genes(self, genes: np.ndarray) -> ProfileSet:
        idx = pd.Index(self.genes).get_indexer(genes)
        if np.any(idx < 0):
            raise ValueError("subset_genes: unknown gene")
        return ProfileSet(self.dataset, self.counts[:, idx], np.asarray(genes), self.obs, self.pb_method)

    def matched_pairs(self) -> pd.DataFrame:
        """Primary (replicate 0) bulk and pseudo-bulk row indices of the same sample: sample, donor, bulk, pb."""
        o = self.obs.reset_index(drop=True)
        primary = o[o["replicate"] == 0]
        bulk = primary[primary["modality"] == "bulk"].drop_duplicates("sample")
        pb = primary[primary["modality"] == "pseudobulk"].drop_duplicates("sample")
        pairs = pd.DataFrame(
            {
                "sample": bulk["sample"].to_numpy(),
                "donor": bulk["donor"].astype(str).to_numpy(),
                "bulk": bulk.index.to_numpy(),
            }
        ).merge(pd.DataFrame({"sample": pb["sample"].to_numpy(), "pb": pb.index.to_numpy()}), on="sample")
        return pairs.sort_values("sample", kind="stable").reset_index(drop=True)


def _obs_frame(adata) -> pd.DataFrame:
    obs = adata.obs.copy()
    for col in ("dataset", "sample", "donor", "modality"):
        obs[col] = obs[col].astype(str)
    if "pb_method" not in obs.columns:
        obs["pb_method"] = np.where(obs["modality"] == "bulk", "bulk", "sum")
    obs["pb_method"] = obs["pb_method"].astype(str)
    if "replicate" not in obs.columns:
        obs["replicate"] = 0
    obs["replicate"] = pd.to_numeric(obs["replicate"], errors="coerce").fillna(0).astype(int)
    return obs


def _whole_sample(obs: pd.DataFrame) -> np.ndarray:
    """Rows that are not per-cell-type pseudo-bulk."""
    if "cell_type" not in obs.columns:
        return np.ones(len(obs), dtype=bool)
    ct = obs["cell_type"].astype(object)
    return (ct.isna() | ct.astype(str).isin(["", "all", "nan", "None"])).to_numpy()


def choose_pb_method(obs: pd.DataFrame, pb_method: str = "auto") -> str:
    """The pseudo-bulk method to compare with bulk: ``auto`` prefers proportion-matched, then plain sums."""
    pb = obs[obs["modality"] == "pseudobulk"]
    present = [m for m in pd.unique(pb["pb_method"]) if m != "bootstrap"]
    if pb_method != "auto":
        if pb_method not in set(pb["pb_method"]):
            raise UserError(
                f"pseudo-bulk method '{pb_method}' not among the profiles' pb_method values {present}"
            )
        return pb_method
    for m in AUTO_METHODS:
        if m in present:
            return m
    if present:
        return str(sorted(present)[0])
    if "bootstrap" in set(pb["pb_method"]):
        return "bootstrap"
    raise StageSkipped("no pseudo-bulk profiles")


def select_profiles(
    adata, dataset: str, pb_method: str = "auto", replicates: bool = True, source: str = "profiles"
) -> ProfileSet:
    """Bulk and whole-sample pseudo-bulk profiles of ``dataset`` from a profiles AnnData.

    Pseudo-bulk rows of method ``pb_method`` are kept, plus bootstrap pseudo-replicates (``pb_method``
    ``bootstrap`` or ``replicate > 0``) when ``replicates`` is true. Raises :class:`StageSkipped` when the
    dataset lacks one modality or has fewer than three donors.
    """
    obs = _obs_frame(adata)
    in_ds = (obs["dataset"] == dataset).to_numpy() & _whole_sample(obs)
    if not in_ds.any():
        raise UserError(f"{source}: no profiles of dataset '{dataset}'")
    sub = obs[in_ds]
    method = choose_pb_method(sub, pb_method) if (sub["modality"] == "pseudobulk").any() else "none"
    is_bulk = (sub["modality"] == "bulk").to_numpy()
    is_pb = (sub["modality"] == "pseudobulk").to_numpy()
    primary = is_pb & (sub["pb_method"] == method).to_numpy() & (sub["replicate"] == 0).to_numpy()
    reps = is_pb & ((sub["pb_method"] == "bootstrap") | (sub["replicate"] > 0)).to_numpy()
    if method == "bootstrap":
        primary = reps
    keep = is_bulk | primary | (reps if replicates else False)
    rows = np.flatnonzero(in_ds)[keep]
    sel = obs.iloc[rows]
    if not (sel["modality"] == "bulk").any() or not (sel["modality"] == "pseudobulk").any():
        raise StageSkipped(f"dataset '{dataset}' needs both bulk and pseudo-bulk profiles")
    n_donors = sel["donor"].nunique()
    if n_donors < 3:
        raise StageSkipped(
            f"dataset '{dataset}' has {n_donors} donor(s); donor-grouped validation needs >= 3"
        )
    x = adata.X[rows]
    counts = np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)
    out_obs = sel.copy()
    out_obs.index = out_obs.index.astype(str)
    return ProfileSet(dataset, counts, np.asarray(adata.var_names.astype(str)), out_obs, method)


def dataset_names(adata) -> list[str]:
    """Datasets in a profiles AnnData, in order of first appearance."""
    return [str(d) for d in pd.unique(adata.obs["dataset"].astype(str))]
