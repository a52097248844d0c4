"""Pseudo-bulk recipes as sparse (profiles x cells) weight matrices.

Sum = 0/1 indicator rows; mean = indicator / group size; proportion-matched and bootstrap profiles count
how often each cell is drawn. Integer weights keep pseudo-bulk counts integer.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def group_weights(groups: list[np.ndarray], n_cells: int, mean: bool = False) -> sp.csr_matrix:
    """One row per group of cell indices: 1 per member (or 1/size with ``mean=True``)."""
    rows, cols, vals = [], [], []
    for i, idx in enumerate(groups):
        idx = np.asarray(idx, dtype=np.int64)
        rows.append(np.full(idx.size, i))
        cols.append(idx)
        vals.append(np.full(idx.size, 1.0 / idx.size if mean and idx.size else 1.0))
    if not groups:
        return sp.csr_matrix((0, n_cells))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(groups), n_cells)
    )


def _draw_counts(pool: np.ndarray, n: int, rng: np.random.Generator, replace: bool | None) -> np.ndarray:
    """Draw ``n`` cells from ``pool``: without replacement when possible (``replace=None``), else with."""
    with_replacement = replace if replace is not None else n > pool.size
    return rng.choice(pool, size=n, replace=with_replacement)


def proportion_weights(
    cells_by_type: list[dict[str, np.ndarray]],
    targets: list[dict[str, int]],
    n_cells: int,
    rng: np.random.Generator,
) -> sp.csr_matrix:
    """One profile per sample: ``targets[i][type]`` cells drawn from that sample's cells of that type.

    Cells are drawn without replacement when enough exist, else with replacement; weights count draws.
    """
    rows, cols = [], []
    for i, (pools, target) in enumerate(zip(cells_by_type, targets, strict=True)):
        for ct in sorted(target):
            n = int(target[ct])
            if n <= 0:
                continue
            drawn = _draw_counts(pools[ct], n, rng, None)
            rows.append(np.full(drawn.size, i))
            cols.append(drawn)
    if not rows:
        return sp.csr_matrix((len(targets), n_cells))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(r.size), (r, c)), shape=(len(targets), n_cells))  # duplicates are summed


def bootstrap_weights(
    groups: list[np.ndarray], n_replicates: int, n_cells: int, rng: np.random.Generator
) -> sp.csr_matrix:
    """``n_replicates`` bootstrap pseudo-replicates per group (same size, drawn with replacement).

    Row order: group 0 replicates 1..R, group 1 replicates 1..R, ...
    """
    rows, cols = [], []
    k = 0
    for idx in groups:
        for _ in range(n_replicates):
            drawn = _draw_counts(np.asarray(idx), len(idx), rng, True)
            rows.append(np.full(drawn.size, k))
            cols.append(drawn)
            k += 1
    if not rows:
        return sp.csr_matrix((0, n_cells))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(r.size), (r, c)), shape=(k, n_cells))
