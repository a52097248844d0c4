"""Turn a (profiles x cells) weight matrix into the cheapest accumulation plan.

* ``codes``: every cell is in at most one profile with weight 1 (plain sums) -> one code per cell.
* ``atoms``: cells whose weight columns are identical form an atom (e.g. a (sample, cell type) pair that
  feeds both the sample sum and the cell-type sum); cells are summed per atom in one pass and the
  profiles are ``combine @ atom_sums``. Used when there are no more atoms than profiles.
* ``direct``: anything else (bootstrap draws make nearly every column distinct): each cell is added into
  every profile that uses it, with its weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class WeightPlan:
    kind: str  # "codes" | "atoms" | "direct"
    n_profiles: int
    n_cells: int
    codes: np.ndarray | None = None  # int64 per cell: row of the accumulator, -1 = unused
    n_rows: int = 0  # rows of the accumulator (profiles for codes, atoms for atoms)
    combine: sp.csr_matrix | None = None  # profiles x atoms
    weights: sp.csc_matrix | None = None  # for direct

    def finish(self, acc: np.ndarray) -> np.ndarray:
        """Profiles from the accumulator."""
        if self.kind == "atoms":
            return np.asarray(self.combine @ acc)
        return acc


def _columns_identical(w: sp.csc_matrix, reps: np.ndarray, inv: np.ndarray) -> bool:
    v = w[:, reps[inv]]
    v.sort_indices()
    return (
        np.array_equal(v.indptr, w.indptr)
        and np.array_equal(v.indices, w.indices)
        and np.array_equal(v.data, w.data)
    )


def _indicator_codes(weights: sp.spmatrix) -> np.ndarray | None:
    """Profile of each cell if every cell is in at most one profile with weight 1 (else None); no copy of
    the weight matrix."""
    w = weights if sp.issparse(weights) and weights.format == "csr" else sp.csr_matrix(weights)
    if w.has_canonical_format is False and w.nnz:
        w = w.copy()
        w.sum_duplicates()
    data, cols = w.data, w.indices
    nz = data != 0
    if not nz.all():
        data, cols = data[nz], cols[nz]
    if data.size and not np.all(data == 1):
        return None
    if np.bincount(cols, minlength=w.shape[1]).max(initial=0) > 1:
        return None
    rows = np.repeat(np.arange(w.shape[0], dtype=np.int64), np.diff(w.indptr))
    codes = np.full(w.shape[1], -1, dtype=np.int64)
    codes[cols] = rows if nz.all() else rows[nz]
    return codes


def plan_weights(weights: sp.spmatrix) -> WeightPlan:
    """Choose how to apply ``weights`` (profiles x cells) to streamed cells (see module docstring)."""
    codes = _indicator_codes(weights)
    if codes is not None:
        return WeightPlan("codes", weights.shape[0], weights.shape[1], codes=codes, n_rows=weights.shape[0])
    w = sp.csc_matrix(weights, dtype=np.float64, copy=True)
    w.sum_duplicates()
    w.eliminate_zeros()
    w.sort_indices()
    n_prof, n_cells = w.shape
    per_cell = np.diff(w.indptr)
    used = per_cell > 0
    if used.any():
        # fingerprint every column by two random projections and its length; verified exactly below
        rng = np.random.default_rng(12345)
        h1 = w.T @ rng.standard_normal(n_prof)
        h2 = w.T @ rng.standard_normal(n_prof)
        cells = np.flatnonzero(used)
        keys = np.rec.fromarrays([h1[cells], h2[cells], per_cell[cells]])
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        n_atoms = first.size
        if n_atoms <= n_prof:
            reps = cells[first]
            sub = w[:, cells]
            sub.sort_indices()
            if _columns_identical(sub, first, inv.ravel()):
                codes = np.full(n_cells, -1, dtype=np.int64)
                codes[cells] = inv.ravel()
                combine = sp.csr_matrix(w[:, reps])
                return WeightPlan("atoms", n_prof, n_cells, codes=codes, n_rows=n_atoms, combine=combine)
    return WeightPlan("direct", n_prof, n_cells, n_rows=n_prof, weights=w)
