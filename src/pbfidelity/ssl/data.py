"""The table the ssl protocol runs on: a values matrix (profiles x genes) with labels, groups and roles.

``SSLData`` is built from a profiles AnnData (:func:`from_profiles`, the main input) or from the bulk-only
benchmark data sets (:mod:`pbfidelity.ssl.datasets`). Rows with a label and the evaluated modality are the
labelled pool; every row of a training donor, and every extra unlabeled row, may be used for pre-training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import UserError

OBS_COLUMNS = ("sample", "group", "modality", "label", "primary", "extra")


@dataclass
class SSLData:
    """``values``: non-negative counts or normalised expression (rows = profiles); ``obs`` has OBS_COLUMNS.

    ``primary`` marks one profile per sample and modality (bulk, or the plain-sum pseudo-bulk of replicate 0);
    ``extra`` marks unlabeled rows that only ever join pre-training (never a test fold).
    """

    name: str
    task: str
    values: np.ndarray
    genes: list[str]
    obs: pd.DataFrame
    eval_modality: str = "bulk"

    def __post_init__(self) -> None:
        missing = [c for c in OBS_COLUMNS if c not in self.obs.columns]
        if missing:
            raise ValueError(f"SSLData.obs lacks {missing}")
        if self.values.shape != (len(self.obs), len(self.genes)):
            raise ValueError("SSLData: values shape does not match obs x genes")

    @property
    def labelled(self) -> np.ndarray:
        """Row indices of the labelled pool: primary rows of the evaluated modality with a label."""
        o = self.obs
        mask = o["label"].notna() & o["primary"] & (o["modality"] == self.eval_modality) & ~o["extra"]
        return np.flatnonzero(mask.to_numpy())

    @property
    def classes(self) -> list[str]:
        return sorted(self.obs["label"].iloc[self.labelled].astype(str).unique())

    def with_extra(self, values: np.ndarray, genes: list[str], ids: list[str], source: str) -> SSLData:
        """Append unlabeled rows (on the shared genes); they join pre-training only."""
        shared = [g for g in self.genes if g in set(genes)]
        if len(shared) < 0.5 * len(self.genes):
            raise UserError(
                f"{source}: only {len(shared)} of {len(self.genes)} genes are shared with the labelled data"
            )
        pos_self = pd.Index(self.genes).get_indexer(shared)
        pos_extra = pd.Index(genes).get_indexer(shared)
        extra_obs = pd.DataFrame(
            {
                "sample": ids,
                "group": [f"extra:{i}" for i in ids],
                "modality": "bulk",
                "label": np.nan,
                "primary": False,
                "extra": True,
            },
            index=[f"extra:{i}" for i in ids],
        )
        obs = pd.concat([self.obs, extra_obs])
        if not obs.index.is_unique:
            raise UserError(f"{source}: sample ids clash with the labelled data")
        values_all = np.vstack([self.values[:, pos_self], np.asarray(values, dtype=np.float32)[:, pos_extra]])
        return SSLData(self.name, self.task, values_all, shared, obs, self.eval_modality)


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float32)


def from_profiles(adata, label_column: str, eval_modality: str = "bulk", source: str = "profiles") -> SSLData:
    """Build :class:`SSLData` from a profiles AnnData (rows = profiles, X = raw counts).

    Per-cell-type pseudo-bulk rows are left out; bootstrap replicates and other pseudo-bulk methods join
    pre-training only. Empty labels are treated as unlabeled.
    """
    obs = adata.obs
    if label_column not in obs.columns:
        raise UserError(
            f"{source}: obs has no column '{label_column}' (columns: {', '.join(map(str, obs.columns))})"
        )
    keep = np.ones(adata.n_obs, dtype=bool)
    if "cell_type" in obs.columns:
        ct = obs["cell_type"].astype(object)
        keep &= (ct.isna() | ct.astype(str).isin(["", "all", "nan"])).to_numpy()
    modality = obs["modality"].astype(str).to_numpy()
    primary = np.ones(adata.n_obs, dtype=bool)
    if "replicate" in obs.columns:
        primary &= pd.to_numeric(obs["replicate"], errors="coerce").fillna(0).to_numpy() == 0
    if "pb_method" in obs.columns:
        method = obs["pb_method"].astype(str).to_numpy()
        pb = modality == "pseudobulk"
        wanted = "sum" if np.any(pb & (method == "sum")) else None
        if wanted is not None:
            primary &= ~pb | (method == wanted)
    label = obs[label_column].astype(object).where(obs[label_column].notna(), np.nan)
    label = label.map(
        lambda v: np.nan if (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "" else str(v)
    )
    table = pd.DataFrame(
        {
            "sample": obs["sample"].astype(str).to_numpy(),
            "group": obs["donor"].astype(str).to_numpy(),
            "modality": modality,
            "label": label.to_numpy(),
            "primary": primary,
            "extra": False,
        },
        index=obs.index.astype(str),
    )[keep]
    dataset = str(obs["dataset"].astype(str).iloc[0]) if adata.n_obs else "profiles"
    values = _dense(adata.X)[keep]
    return SSLData(dataset, label_column, values, list(map(str, adata.var_names)), table, eval_modality)
