"""Calibration on the simulator: held-out only, and it makes pseudo-bulk harder to tell from bulk."""

import anndata as ad
import numpy as np
import pytest

from pbfidelity.calibrate.analysis import CalibrateParams, _Calibrator, calibrate
from pbfidelity.discriminate.depth import depth_match
from pbfidelity.discriminate.folds import donor_folds
from pbfidelity.discriminate.profiles import select_profiles


@pytest.fixture(scope="module")
def profiles(sim_planted):
    return select_profiles(ad.read_h5ad(sim_planted[0]), "sim")


def test_calibration_lowers_held_out_auroc(profiles):
    res = calibrate(profiles, CalibrateParams(methods=("scale", "offset"), n_bootstrap=300))
    s = res.summary
    assert s["method"] == "scale"
    assert s["auroc_raw"] >= 0.95
    assert s["auroc_drop"] >= 0.2, s
    assert s["auroc_calibrated"] <= s["auroc_raw"] - 0.2
    assert s["pair_r_calibrated_median"] > s["pair_r_raw_median"]
    assert set(res.metrics["pseudobulk"]) == {"raw", "scale", "offset"}
    # calibrated counts: integers at the depth-matched (bulk) depth; bulk rows as depth matching left them
    matched = depth_match(profiles, "paired", 42)
    bulk = profiles.y == 1
    assert np.array_equal(res.counts[bulk], matched.counts[bulk])
    lib_in, lib_out = matched.counts[~bulk].sum(axis=1), res.counts[~bulk].sum(axis=1)
    assert np.all(np.abs(lib_out - lib_in) <= profiles.counts.shape[1])
    print(
        f"simulator: AUROC {s['auroc_raw']:.3f} raw -> {s['auroc_calibrated']:.3f} calibrated; "
        f"pair r {s['pair_r_raw_median']:.4f} -> {s['pair_r_calibrated_median']:.4f}; {s['methods']}"
    )


def test_held_out_calibration_never_sees_the_held_out_bulk(profiles):
    """Changing a donor's bulk profile must not change the calibration of that donor's own pseudo-bulk."""
    x = profiles.logcpm()
    folds = donor_folds(profiles.donors, 5, 42)
    rows = np.arange(len(x))
    before = _Calibrator(profiles, x, "scale", 1.0).crossfit(rows, folds)
    donor = profiles.donors[0]
    own = profiles.donors == donor
    x2 = x.copy()
    x2[own & (profiles.y == 1)] += 3.0
    after = _Calibrator(profiles, x2, "scale", 1.0).crossfit(rows, folds)
    pb_own = own & (profiles.y == 0)
    assert np.array_equal(before[pb_own], after[pb_own])
    assert not np.array_equal(before[~own & (profiles.y == 0)], after[~own & (profiles.y == 0)])
