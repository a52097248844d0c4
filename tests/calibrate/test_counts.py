import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pbfidelity.calibrate.counts import calibrated_logcpm, logcpm_to_counts
from pbfidelity.normalize import log1p_cpm


@settings(max_examples=30, deadline=None)
@given(arrays(np.int64, (3, 40), elements=st.integers(0, 50_000)))
def test_counts_keep_library_size_and_round_trip(counts):
    counts[:, 0] += 1  # no empty profile
    lib = counts.sum(axis=1)
    back = logcpm_to_counts(log1p_cpm(counts), lib)
    assert back.dtype == np.int64 and np.all(back >= 0)
    assert np.all(np.abs(back.sum(axis=1) - lib) <= counts.shape[1])  # rounding only
    assert np.all(np.abs(back - counts) <= 1)


def test_calibrated_logcpm_matches_target_for_deep_profiles():
    target = np.log1p(np.array([[5e5, 3e5, 2e5]]))
    out = calibrated_logcpm(target, np.array([1e7]))
    assert np.allclose(out, target, atol=1e-5)
