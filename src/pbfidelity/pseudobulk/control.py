"""The within-modality negative control and the sampling warnings of the pseudo-bulk stage (pure functions).

Negative control ("half-split"): every single-cell sample (one file + ``sc_id``) is split once, at random and
stratified by cell type, into two disjoint halves A and B. Each pair then gets two pseudo-bulks built the
same way as its primary pseudo-bulk, one from its cells in half A and one from its cells in half B
(proportion-matched: the pair's cell-type numbers scaled by one factor <= 1/2 so that both halves are drawn
without replacement). The two halves differ only by which cells were sampled, so their discrepancy is the
cell-sampling floor a bulk-vs-pseudo-bulk discrepancy must exceed before it says anything about the protocol.

The split is made per single-cell sample, not per pair: when one suspension feeds several pairs (CellBench:
21 pools), every pair's half A draws from the same half of the suspension, exactly as every primary
pseudo-bulk draws from the same suspension. The control therefore inherits the dependence between pairs
that the real comparison has, and a classifier can learn "half A cells vs half B cells" just as it can learn
"the suspension's cells vs other cells".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: second entropy word of the half-split draws: the primary pseudo-bulk draws (``default_rng(seed)``) are
#: unchanged whether or not the control is built
CONTROL_STREAM = 0x68616C66


def control_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, CONTROL_STREAM])


def split_halves(
    cells: np.ndarray, cell_types: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random halves of ``cells`` (indices), stratified by ``cell_types`` (aligned with ``cells``).

    Within each type the odd cell goes to A or B at random, so neither half is systematically larger.
    """
    cells = np.asarray(cells, dtype=np.int64)
    types = np.zeros(cells.size, dtype=np.int64) if cell_types is None else np.asarray(cell_types)
    a, b = [], []
    for t in np.unique(types):
        members = rng.permutation(cells[types == t])
        k = members.size // 2 + (members.size % 2) * int(rng.integers(0, 2))
        a.append(members[:k])
        b.append(members[k:])
    return np.sort(np.concatenate(a)), np.sort(np.concatenate(b))


@dataclass
class HalfPlan:
    """Cells of one pair's two control pseudo-bulks (or why there is none)."""

    a: np.ndarray
    b: np.ndarray
    fraction: float  # cells per half / cells of the primary pseudo-bulk
    note: str = ""


def halfsplit_cells(
    idx: np.ndarray,
    half_a: np.ndarray,
    half_b: np.ndarray,
    cell_types: np.ndarray | None,
    target: dict[str, int] | None,
    rng: np.random.Generator,
    min_cells: int,
) -> HalfPlan:
    """The pair's control cells: ``idx`` (its QC-passing cells) within half A and within half B.

    Plain sums use every such cell. Proportion matching (``target``: cells per type of the primary
    pseudo-bulk) draws ``floor(f * target[type])`` cells of each type from each half without replacement,
    with one ``f <= 1/2`` for all types (the largest both halves can supply), so both halves keep the
    primary's composition. Fewer than ``min_cells`` cells per half: no control for this pair.
    """
    in_a, in_b = idx[np.isin(idx, half_a)], idx[np.isin(idx, half_b)]
    n_primary = int(sum(target.values())) if target is not None else int(idx.size)
    if target is None:
        a, b = in_a, in_b
    else:
        ta = cell_types[in_a]
        tb = cell_types[in_b]
        wanted = {ct: n for ct, n in target.items() if n > 0}
        f = min([0.5] + [min((ta == ct).sum(), (tb == ct).sum()) / n for ct, n in wanted.items()])
        a_parts, b_parts = [], []
        for ct in sorted(wanted):
            k = int(np.floor(f * wanted[ct] + 1e-9))
            a_parts.append(rng.choice(in_a[ta == ct], size=k, replace=False))
            b_parts.append(rng.choice(in_b[tb == ct], size=k, replace=False))
        a = np.sort(np.concatenate(a_parts)) if a_parts else np.array([], dtype=np.int64)
        b = np.sort(np.concatenate(b_parts)) if b_parts else np.array([], dtype=np.int64)
    frac = min(a.size, b.size) / n_primary if n_primary else 0.0
    if min(a.size, b.size) < min_cells:
        return HalfPlan(
            np.array([], dtype=np.int64),
            np.array([], dtype=np.int64),
            frac,
            f"{a.size}/{b.size} cells in the two halves (< {min_cells}); no negative control",
        )
    return HalfPlan(a, b, frac)


def draw_overlap(weights: sp.spmatrix) -> tuple[float, float]:
    """Mean and largest share of cells two profiles have in common (shared cells / cells of the smaller
    profile, over all pairs of rows of a profiles x cells weight matrix)."""
    used = (sp.csr_matrix(weights) > 0).astype(np.float64)
    n = used.shape[0]
    if n < 2:
        return 0.0, 0.0
    inter = (used @ used.T).toarray()
    size = np.asarray(used.sum(axis=1)).ravel()
    i, j = np.triu_indices(n, k=1)
    share = inter[i, j] / np.maximum(np.minimum(size[i], size[j]), 1)
    return float(share.mean()), float(share.max())


def shared_sample_warning(sc_sample: str, path: str, samples: list[str], weights: sp.spmatrix) -> dict:
    """Warning record: one single-cell sample feeds several pairs (their pseudo-bulks share cells)."""
    mean, largest = draw_overlap(weights)
    return {
        "kind": "shared_singlecell_sample",
        "singlecell": path,
        "sc_id": sc_sample,
        "samples": list(samples),
        "n_pairs": len(samples),
        "mean_shared_cells": mean,
        "max_shared_cells": largest,
        "message": (
            f"single-cell sample '{sc_sample}' ({path}) feeds {len(samples)} pairs: their pseudo-bulks share "
            f"on average {mean:.0%} of their cells (up to {largest:.0%}), so the pairs are not independent "
            "samples and pseudo-bulk-specific cell idiosyncrasies are common to all of them"
        ),
    }


def replacement_warning(sample: str, cell_type: str, wanted: int, available: int) -> dict:
    """Warning record: proportion matching asks for more cells of a type than pass QC."""
    return {
        "kind": "sampling_with_replacement",
        "sample": sample,
        "cell_type": cell_type,
        "cells_wanted": int(wanted),
        "cells_available": int(available),
        "message": (
            f"sample {sample}: proportion matching needs {wanted} '{cell_type}' cells but {available} pass QC; "
            f"they are drawn with replacement (at least {wanted - available} cells counted twice)"
        ),
    }
