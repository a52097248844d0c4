import numpy as np

from pbfidelity.pseudobulk.profiles import target_cell_numbers
from pbfidelity.pseudobulk.weights import bootstrap_weights, proportion_weights


def test_proportion_weights_draw_requested_numbers_per_type():
    rng = np.random.default_rng(1)
    pools = [{"A": np.arange(0, 10), "B": np.arange(10, 13)}]
    W = proportion_weights(pools, [{"A": 6, "B": 7}], 13, rng).toarray()[0]
    assert W[:10].sum() == 6 and W[10:].sum() == 7
    assert W[:10].max() == 1  # enough A cells: drawn without replacement
    assert W[10:].max() >= 2  # 7 B cells from 3: with replacement


def test_bootstrap_replicates_keep_size_and_membership():
    rng = np.random.default_rng(2)
    groups = [np.array([0, 1, 2, 3]), np.array([5, 6])]
    W = bootstrap_weights(groups, 3, 8, rng).toarray()
    assert W.shape == (6, 8)
    np.testing.assert_array_equal(W.sum(axis=1), [4, 4, 4, 2, 2, 2])
    assert W[:3, 4:].sum() == 0 and W[3:, :5].sum() == 0


def test_target_numbers_fractions_and_counts():
    assert target_cell_numbers({"A": 10, "B": 80}, 500) == {"A": 10, "B": 80}
    got = target_cell_numbers({"A": 0.5, "B": 0.25, "C": 0.25}, 7)
    assert sum(got.values()) == 7 and got["A"] >= 3
