"""Cell-type reference profiles and marker signatures from per-cell-type pseudo-bulk (pure numpy/pandas).

A reference profile is the *per-cell mean* count vector of a cell type: summed counts of its QC-passing cells
over every contributing sample divided by their number of cells. Keeping per-cell means (not per-type CPM)
keeps differences in mRNA per cell, so mixture coefficients estimate cell fractions rather than mRNA fractions.
All types share one scale (CPM of the average cell), which leaves their relative sizes intact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pbfidelity.errors import UserError


@dataclass
class Reference:
    """Per-cell mean expression per cell type (types x genes, CPM of the average cell)."""

    cell_types: np.ndarray
    genes: np.ndarray
    profiles: np.ndarray  # types x genes
    n_cells: np.ndarray  # cells behind each type
    donors: tuple[str, ...]  # donors whose cells were used

    def subset(self, genes: np.ndarray) -> Reference:
        idx = pd.Index(self.genes).get_indexer(genes)
        return Reference(self.cell_types, np.asarray(genes), self.profiles[:, idx], self.n_cells, self.donors)


def celltype_table(ct_obs: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Rows of the per-cell-type profiles of ``dataset`` with sample, donor, cell_type and n_cells as strings/ints."""
    need = [c for c in ("dataset", "sample", "donor", "cell_type", "n_cells") if c not in ct_obs.columns]
    if need:
        raise UserError(f"per-cell-type profiles: obs lacks column(s) {need}")
    t = ct_obs[["dataset", "sample", "donor", "cell_type", "n_cells"]].copy()
    for c in ("dataset", "sample", "donor", "cell_type"):
        t[c] = t[c].astype(str)
    t["n_cells"] = pd.to_numeric(t["n_cells"], errors="coerce").fillna(0).astype(np.int64)
    t["row"] = np.arange(len(t))
    return t[t["dataset"] == dataset]


def row_keys(counts: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Per row of ``table``: a digest of its counts and cell number. Identical keys mark one shared
    single-cell sample feeding several rows (counted once in a reference). Compute once, reuse for every
    leave-donor-out reference (hashing each row again per donor made the references quadratic in donors)."""
    x = counts[table["row"].to_numpy()]
    return np.array(
        [hashlib.sha1(r.tobytes()).hexdigest() + f"_{n}" for r, n in zip(x, table["n_cells"], strict=True)],
        dtype=object,
    )


def build_reference(
    counts: np.ndarray,
    table: pd.DataFrame,
    genes: np.ndarray,
    exclude_donors: set[str] | None = None,
    keys: np.ndarray | None = None,
) -> Reference:
    """Reference from per-(sample, cell type) summed ``counts`` (rows indexed by ``table['row']``).

    ``exclude_donors`` are left out (leave-donor-out). Single-cell samples shared by several rows (one
    suspension feeding several pools) give identical rows; they are counted once. ``keys``: :func:`row_keys`
    of ``table``, when already computed.
    """
    keep = ~table["donor"].isin(exclude_donors or set()).to_numpy()
    t = table[keep]
    if t.empty:
        raise UserError("no per-cell-type profiles left for the reference")
    keys = row_keys(counts, t) if keys is None else np.asarray(keys)[keep]
    types = np.array(sorted(t["cell_type"].unique()))
    prof = np.zeros((types.size, counts.shape[1]))
    ncell = np.zeros(types.size, dtype=np.int64)
    for k, ct in enumerate(types):
        sel = (t["cell_type"] == ct).to_numpy()
        rows = t[sel]
        x = counts[rows["row"].to_numpy()]
        # identical rows with identical cell numbers come from one shared single-cell sample: count once
        first = ~pd.Series(keys[sel]).duplicated().to_numpy()
        prof[k] = x[first].sum(axis=0)
        ncell[k] = int(rows["n_cells"].to_numpy()[first].sum())
    mean = prof / np.maximum(ncell, 1)[:, None]
    scale = float(mean.sum(axis=1).mean())
    mean = mean / (scale if scale > 0 else 1.0) * 1e6
    return Reference(types, np.asarray(genes), mean, ncell, tuple(sorted(t["donor"].unique())))


class LeaveDonorOut:
    """Leave-donor-out references of one per-cell-type table at a cost linear in donors.

    Per cell type, the de-duplicated sum over all rows (:func:`build_reference`'s rule: identical rows with
    identical cell numbers count once) is computed once; the reference without donors E subtracts the rows whose
    every copy belongs to E. Counts are integers, so the subtraction is exact and each reference equals
    ``build_reference(counts, table, genes, E)`` (tested); with non-integer input every reference is summed anew.
    """

    def __init__(self, counts: np.ndarray, table: pd.DataFrame, genes: np.ndarray):
        self.counts, self.table, self.genes = counts, table, np.asarray(genes)
        if table.empty:
            raise UserError("no per-cell-type profiles left for the reference")
        x = counts[table["row"].to_numpy()]
        self.exact = bool(np.all(x == np.rint(x)))
        self.keys = row_keys(counts, table)
        self.types: dict[str, tuple] = {}
        for ct in sorted(table["cell_type"].unique()):
            sel = (table["cell_type"] == ct).to_numpy()
            uniq: dict[str, list] = {}  # key -> [row, n_cells, donors holding a copy]
            for row, key, n, donor in zip(
                table["row"].to_numpy()[sel], self.keys[sel], table["n_cells"].to_numpy()[sel],
                table["donor"].to_numpy()[sel], strict=True,
            ):
                if key in uniq:
                    uniq[key][2].add(donor)
                else:
                    uniq[key] = [int(row), int(n), {donor}]
            entries = list(uniq.values())  # first copies, in table order (the order build_reference sums in)
            total = counts[[e[0] for e in entries]].sum(axis=0)
            self.types[ct] = (entries, total, sum(e[1] for e in entries))

    def reference(self, exclude_donors: set[str] | None = None) -> Reference:
        """The reference without ``exclude_donors``."""
        if not exclude_donors or not self.exact:
            return build_reference(self.counts, self.table, self.genes, exclude_donors, keys=self.keys)
        types, profs, ncell = [], [], []
        for ct, (entries, total, n_total) in self.types.items():
            gone = [e for e in entries if e[2] <= exclude_donors]
            if len(gone) == len(entries):
                continue  # every profile of this type belongs to the left-out donors
            prof = total.copy()
            for e in gone:
                prof -= self.counts[e[0]]
            types.append(ct)
            profs.append(prof)
            ncell.append(n_total - sum(e[1] for e in gone))
        if not types:
            raise UserError("no per-cell-type profiles left for the reference")
        prof = np.vstack(profs)
        ncell_a = np.asarray(ncell, dtype=np.int64)
        mean = prof / np.maximum(ncell_a, 1)[:, None]
        scale = float(mean.sum(axis=1).mean())
        mean = mean / (scale if scale > 0 else 1.0) * 1e6
        donors = tuple(sorted(set(self.table["donor"]) - set(exclude_donors)))
        return Reference(np.array(types), self.genes, mean, ncell_a, donors)


def select_markers(
    ref: Reference, n_per_type: int = 50, min_log_fc: float = 1.0, universe: np.ndarray | None = None
) -> np.ndarray:
    """Marker genes: per cell type, the ``n_per_type`` genes with the largest log2 ratio of its mean to the
    highest other type (at least ``min_log_fc``), among ``universe`` (default: all genes). Returns the union,
    in gene order. A type without markers keeps its best ``max(5, n/5)`` genes, so every column stays
    identifiable."""
    lg = np.log2(ref.profiles + 1.0)
    allowed = (
        np.ones(ref.genes.size, dtype=bool)
        if universe is None
        else pd.Index(ref.genes).isin(pd.Index(universe))
    )
    chosen = np.zeros(ref.genes.size, dtype=bool)
    if ref.cell_types.size == 1:
        order = np.argsort(-np.where(allowed, lg[0], -np.inf), kind="stable")
        chosen[order[:n_per_type]] = True
        return ref.genes[chosen]
    for k in range(ref.cell_types.size):
        other = np.delete(lg, k, axis=0).max(axis=0)
        score = np.where(allowed, lg[k] - other, -np.inf)
        order = np.argsort(-score, kind="stable")
        good = order[score[order] >= min_log_fc][:n_per_type]
        if good.size < max(5, n_per_type // 5):
            good = order[np.isfinite(score[order])][: max(5, n_per_type // 5)]
        chosen[good] = True
    return ref.genes[chosen]
