import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pbfidelity.discriminate.folds import donor_folds, permute_within_groups, rng_for


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=6, max_size=60), st.integers(2, 8), st.integers(0, 1000))
def test_donor_never_straddles_folds(donor_ids, n_folds, seed):
    donors = np.array([f"D{d}" for d in donor_ids])
    folds = donor_folds(donors, n_folds, seed)
    for d in np.unique(donors):
        assert np.unique(folds[donors == d]).size == 1
    assert np.unique(folds).size == max(2, min(n_folds, np.unique(donors).size)) or np.unique(donors).size < 2


def test_folds_are_deterministic_and_loo_with_few_donors():
    donors = np.repeat([f"D{i}" for i in range(4)], 3)
    a = donor_folds(donors, 5, seed=7)
    assert np.array_equal(a, donor_folds(donors, 5, seed=7))
    assert np.unique(a).size == 4  # leave-one-donor-out
    assert not np.array_equal(
        donor_folds(np.repeat([f"D{i}" for i in range(12)], 2), 5, 1),
        donor_folds(np.repeat([f"D{i}" for i in range(12)], 2), 5, 2),
    )


def test_permutation_keeps_labels_within_donor():
    donors = np.repeat([f"D{i}" for i in range(6)], [2, 3, 2, 4, 2, 3])
    labels = np.array([1 if i % 3 == 0 else 0 for i in range(donors.size)])
    rng = rng_for(3, 99)
    moved = False
    for _ in range(20):
        perm = permute_within_groups(labels, donors, rng)
        for d in np.unique(donors):
            assert sorted(perm[donors == d]) == sorted(labels[donors == d])
        moved |= not np.array_equal(perm, labels)
    assert moved
