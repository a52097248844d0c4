"""The consequence on the simulator: planted distortions make a pseudo-bulk benchmark optimistic and
calibration reduces the bulk error; on the null, bulk and pseudo-bulk deconvolve alike."""

import numpy as np
import pandas as pd
import pytest

from pbfidelity.deconvolve.analysis import calibrated_reference, concordant_genes, truth_fractions
from pbfidelity.deconvolve.reference import Reference


def _cons(res, method):
    return res.consequence.set_index("method").loc[method]


@pytest.mark.parametrize("method", ["nnls", "svr"])
def test_planted_optimism_detected_and_calibration_reduces_bulk_error(planted, method):
    c = _cons(planted, method)
    assert c["optimism_ci_low"] > 0.03, c.to_dict()  # pseudo-bulk deconvolves clearly better than bulk
    assert c["rmse_pseudobulk"] < 0.07
    assert c["reduction_calibrated_ci_low"] > 0, c.to_dict()  # calibration lowers the bulk error
    assert c["rmse_calibrated"] < c["rmse_bulk"] - 0.03
    assert 0.3 < c["recovered_calibrated"] <= 1.2
    assert c["optimism_detected"]
    print(f"simulator planted {method}: {c['sentence']}")


@pytest.mark.parametrize("method", ["nnls", "svr"])
def test_null_no_optimism_and_calibration_changes_nothing(null, method):
    c = _cons(null, method)
    assert c["optimism_ci_low"] <= 0 <= c["optimism_ci_high"], c.to_dict()
    assert abs(c["optimism"]) < 0.02
    assert abs(c["reduction_calibrated"]) < 0.01
    assert not c["optimism_detected"]
    assert "no detectable optimism" in c["sentence"]
    print(f"simulator null {method}: {c['sentence']}")


def test_planted_bias_follows_mrna_content(planted, sim_planted):
    """Bulk is weighted by mRNA content (ct1 most, ct4 least): bulk over-estimates ct1 and under-estimates ct4,
    while the pseudo-bulk (UMI-capped cells) is unbiased."""
    a = planted.accuracy
    a = a[(a["method"] == "nnls") & (a["truth"] != "pseudo-bulk estimate")].set_index(["arm", "scope"])
    content = sim_planted[1]["distortions"]["mrna_content"]
    assert content["ct1"] > 1 > content["ct4"]
    assert a.loc[("bulk", "ct1"), "bias_ci_low"] > 0
    assert a.loc[("bulk", "ct4"), "bias_ci_high"] < 0
    assert abs(a.loc[("pseudobulk", "ct1"), "bias"]) < 0.03


def test_leave_donor_out_reference_and_outputs(planted):
    s = planted.summary
    assert s["reference"]["leave_donor_out"] and s["reference"]["n_references"] == s["n_pairs"] == 12
    assert s["arms"] == ["bulk", "pseudobulk", "bulk_calibrated"]  # no DE table given
    est = planted.estimates
    sums = est.groupby(["method", "arm", "sample"])["estimate"].sum()
    assert np.allclose(sums, 1.0)
    assert list(planted.bulk_proportions.columns) == ["dataset", "sample", "ct1", "ct2", "ct3", "ct4"]
    assert s["sentence"].startswith("sim: NNLS: benchmarking on pseudo-bulk overstates accuracy by")


def test_same_seed_same_tables(sim_null, null, deconvolve_sim):
    again = deconvolve_sim(sim_null[0])
    for attr in ("estimates", "accuracy", "consequence"):
        pd.testing.assert_frame_equal(getattr(again, attr), getattr(null, attr))


def test_calibrated_reference_keeps_type_totals():
    from pbfidelity.calibrate.models import fit_calibration

    rng = np.random.default_rng(0)
    prof = rng.lognormal(2, 1, size=(3, 50))
    ref = Reference(
        np.array(["a", "b", "c"]), np.array([f"g{i}" for i in range(50)]), prof, np.ones(3, int), ()
    )
    bulk = rng.normal(3, 1, size=(6, 50))
    model = fit_calibration(bulk, bulk - 0.5, "offset")
    cref = calibrated_reference(ref, model)
    assert np.allclose(cref.profiles.sum(axis=1), prof.sum(axis=1))
    assert not np.allclose(cref.profiles, prof)


def test_truth_fractions_and_concordant_genes():
    t = truth_fractions(pd.DataFrame({"a": [30, 0.2], "b": [60, 0.8]}, index=["S1", "S2"]))
    assert np.allclose(t.loc["S1"], [1 / 3, 2 / 3]) and np.allclose(t.loc["S2"], [0.2, 0.8])
    de = pd.DataFrame(
        {
            "gene": ["g1", "g2", "g3", "g4"],
            "direction": ["ns", "ns", "bulk_up", "ns"],
            "log2FoldChange": [0.1, 1.5, 3.0, -0.9],
        }
    )
    assert list(concordant_genes(de, np.array(["g1", "g2", "g3", "g4"]), 1.0)) == ["g1", "g4"]
    assert concordant_genes(None, np.array(["g1"]), 1.0) is None
