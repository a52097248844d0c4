import numpy as np
import pytest

from pbfidelity.calibrate.models import fit_calibration


@pytest.fixture(scope="module")
def pairs():
    """20 pairs x 300 genes: genes 0-29 carry a real offset, 30-39 lose their spread in pseudo-bulk."""
    rng = np.random.default_rng(0)
    donor = rng.normal(5.0, 0.5, size=(20, 300))
    bulk = donor + rng.normal(0, 0.05, donor.shape)
    pb = donor + rng.normal(0, 0.3, donor.shape)  # pseudo-bulk is noisier
    pb[:, :30] -= 1.5
    pb[:, 30:40] = 5.0 + 0.1 * (donor[:, 30:40] - 5.0) + rng.normal(0, 0.01, (20, 10))
    return bulk, pb


def test_offset_recovers_planted_shift_and_shrinks_noise(pairs):
    bulk, pb = pairs
    cal = fit_calibration(bulk, pb, "offset")
    assert np.allclose(cal.offset[:30], 1.5, atol=0.2)
    assert np.all(cal.weight[:30] > 0.9)
    assert np.abs(cal.offset[40:]).mean() < np.abs(cal.raw_offset[40:]).mean()  # shrunk towards 0
    assert np.all(cal.slope == 1.0)
    out = cal.apply(pb)
    assert np.abs((bulk - out)[:, :30].mean(axis=0)).max() < 0.2


def test_scale_restores_bulk_spread_only_where_it_is_clearly_lost(pairs):
    bulk, pb = pairs
    cal = fit_calibration(bulk, pb, "scale")
    assert np.all(cal.slope[30:40] > 3)  # pseudo-bulk lost its across-donor variation
    out = cal.apply(pb)
    ratio = out[:, 30:40].std(axis=0) / bulk[:, 30:40].std(axis=0)
    assert np.all((ratio > 0.6) & (ratio < 1.6))
    assert np.median(cal.slope[40:]) == pytest.approx(1.0, abs=0.15)  # noise-level SD ratios are dropped
    assert np.allclose(out.mean(axis=0)[:40], bulk.mean(axis=0)[:40], atol=0.2)


def test_linear_slope_is_pulled_to_one_without_variation():
    rng = np.random.default_rng(1)
    bulk = rng.normal(3, 1, size=(10, 5))
    pb = np.full((10, 5), 2.0)
    cal = fit_calibration(bulk, pb, "linear", ridge=1.0)
    assert np.allclose(cal.slope, 1.0)
    assert np.all(cal.apply(np.full((1, 5), -50.0)) == 0.0)  # clipped at the log1p(CPM) floor


def test_bad_input():
    with pytest.raises(ValueError, match="unknown calibration method"):
        fit_calibration(np.ones((3, 2)), np.ones((3, 2)), "magic")
    with pytest.raises(ValueError, match="matched"):
        fit_calibration(np.ones((3, 2)), np.ones((2, 2)))
    one = fit_calibration(np.ones((1, 2)) * 2, np.ones((1, 2)), "scale")  # one pair: plain offset
    assert np.allclose(one.offset, 1.0) and np.allclose(one.slope, 1.0)
