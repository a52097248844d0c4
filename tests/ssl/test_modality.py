import numpy as np

from pbfidelity.ssl.modality import pair_top1, separability_auc, transfer_scores


def test_separability_auc_near_half_when_modalities_match_and_one_when_shifted():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 5))
    is_pb = np.arange(200) % 2 == 1
    same = separability_auc(z[:100], is_pb[:100], z[100:], is_pb[100:])
    shifted = z + 3 * is_pb[:, None]
    diff = separability_auc(shifted[:100], is_pb[:100], shifted[100:], is_pb[100:])
    assert abs(same - 0.5) < 0.15 and diff > 0.99
    assert np.isnan(separability_auc(z[:10], np.zeros(10, bool), z[10:20], is_pb[10:20]))


def test_pair_top1_finds_own_sample():
    rng = np.random.default_rng(1)
    bulk = rng.normal(size=(6, 4))
    names = np.array([f"s{i}" for i in range(6)])
    assert pair_top1(bulk, names, bulk + 0.01, names) == 1.0
    assert pair_top1(bulk, names, bulk[::-1] + 0.01, names) == 0.0


def test_transfer_scores_both_directions():
    rng = np.random.default_rng(2)
    y = np.arange(40) % 2
    z = rng.normal(size=(40, 3)) + 3 * y[:, None]
    out = transfer_scores(z[:20], y[:20], z[:20] + 0.1, y[:20], z[20:], y[20:], 2)
    assert out["pb_to_bulk"]["balanced_accuracy"] > 0.9 and out["bulk_to_bulk"]["balanced_accuracy"] > 0.9
    one_class = transfer_scores(z[:5], np.zeros(5, int), z[:20], y[:20], z[20:], y[20:], 2)
    assert np.isnan(one_class["pb_to_bulk"]["accuracy"])
