"""Donor-grouped folds and within-donor label permutations.

All profiles of a donor (bulk, pseudo-bulk and bootstrap pseudo-replicates) land in the same fold, so a
matched bulk/pseudo-bulk pair never straddles training and test. Random streams are derived from the seed
with a fixed stream id, so folds are identical wherever they are rebuilt (``discriminate`` and ``calibrate``).
"""

from __future__ import annotations

import numpy as np

FOLD_STREAM = 1
BOOTSTRAP_STREAM = 2
PERMUTATION_STREAM = 3


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """A generator for one named random stream of ``seed``."""
    return np.random.default_rng([int(seed), int(stream)])


def donor_folds(donors: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold id (0..k-1) per row; donors are shuffled and dealt to ``k = min(n_folds, n_donors)`` folds.

    With ``n_folds >= n_donors`` this is leave-one-donor-out.
    """
    donors = np.asarray(donors).astype(str)
    unique = np.unique(donors)
    k = max(2, min(int(n_folds), unique.size))
    order = rng_for(seed, FOLD_STREAM).permutation(unique.size)
    fold_of = {unique[d]: i % k for i, d in enumerate(order)}
    return np.array([fold_of[d] for d in donors], dtype=np.int64)


def permute_within_groups(labels: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle ``labels`` among the rows of each group (labels never move between donors)."""
    labels = np.asarray(labels)
    out = labels.copy()
    groups = np.asarray(groups).astype(str)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        out[idx] = labels[idx[rng.permutation(idx.size)]]
    return out
