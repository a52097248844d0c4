import numpy as np

from pbfidelity.ssl.splits import group_labels, label_subset, max_folds, outer_folds, validation_groups


def _design():
    groups = np.repeat([f"D{i}" for i in range(12)], 2)
    labels = np.repeat(np.arange(12) % 3, 2)
    return groups, labels


def test_outer_folds_never_share_a_donor_and_cover_everything():
    groups, labels = _design()
    folds = outer_folds(groups, labels, 3, seed=1)
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen) == list(range(len(groups)))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        assert set(labels[te]) == {0, 1, 2}
    assert max_folds(groups, labels) == 4


def test_label_subset_grouped_stratified_and_reproducible():
    groups, labels = _design()
    sub = label_subset(groups, labels, 0.25, np.random.default_rng(0))
    assert set(labels[sub]) == {0, 1, 2}
    chosen = set(groups[sub])
    assert all(set(np.flatnonzero(groups == g)) <= set(sub) for g in chosen)  # whole donors
    assert len(chosen) == 3  # round(0.25 * 4) = 1 donor per class
    assert np.array_equal(sub, label_subset(groups, labels, 0.25, np.random.default_rng(0)))
    assert len(label_subset(groups, labels, 1.0, np.random.default_rng(0))) == len(groups)


def test_label_subset_finds_a_class_only_present_in_mixed_donors():
    groups = np.array(["A", "A", "B", "C", "D"])
    labels = np.array(["t", "n", "t", "t", "t"])  # 'n' only in donor A, whose majority is 't' (tie -> 'n'?)
    assert group_labels(groups, labels)["A"] in {"t", "n"}
    for seed in range(5):
        sub = label_subset(groups, labels, 0.2, np.random.default_rng(seed))
        assert "n" in set(labels[sub])


def test_validation_groups_hold_out_whole_donors():
    groups, _ = _design()
    val = validation_groups(groups, 0.25, np.random.default_rng(0))
    assert set(groups[val]).isdisjoint(groups[~val])
    assert len(set(groups[val])) == 3
