"""``--proportions estimate``: composition-matched pseudo-bulk from cross-fitted deconvolved proportions,
end to end through ``pbfidelity run`` on the simulator."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.cli import dispatch
from pbfidelity.deconvolve.estimate import estimate_bulk_proportions, targets_from_profiles


@pytest.fixture(scope="module")
def estimate_run(sim_null, tmp_path_factory):
    sheet = sim_null[0].parent.parent / "input" / "samplesheet.csv"
    out = tmp_path_factory.mktemp("estimate_run")
    skip = ["metrics", "discriminate", "calibrate", "enrich", "ssl", "report"]
    assert (
        dispatch(
            [
                "run",
                "--input",
                str(sheet),
                "--outdir",
                str(out),
                "--proportions",
                "estimate",
                "--no-progress",
                "--quiet",
                "--skip-stages",
                *skip,
            ]
        )
        == 0
    )
    return out, sheet.parent


def test_run_builds_pseudobulk_matched_to_estimates(estimate_run):
    out, inp = estimate_run
    pb = out / "pseudobulk" / "sim"
    profiles = ad.read_h5ad(pb / "profiles.h5ad")
    assert set(profiles.obs.loc[profiles.obs["modality"] == "pseudobulk", "pb_method"]) == {"proportion"}
    assert profiles.uns["pbfidelity"]["proportions_estimated"]
    est = pd.read_csv(pb / "estimated_proportions.tsv", sep="\t").set_index("sample")
    assert list(est.columns) == ["dataset", "ct1", "ct2", "ct3", "ct4"]
    targets = targets_from_profiles(profiles, "sim")
    assert np.allclose(
        targets.loc[est.index, ["ct1", "ct2", "ct3", "ct4"]], est[["ct1", "ct2", "ct3", "ct4"]], atol=1e-5
    )
    # on the null, the cross-fitted estimates are close to the truth
    truth = pd.read_csv(inp / "proportions.tsv", sep="\t", index_col=0).loc[est.index]
    rmse = float(np.sqrt(np.mean((est[truth.columns].to_numpy() - truth.to_numpy()) ** 2)))
    assert rmse < 0.08, rmse
    # the pseudo-bulk drew cells in the estimated numbers
    pbrows = profiles.obs[profiles.obs["modality"] == "pseudobulk"].set_index("sample")
    assert (pbrows["n_cells"] > 0).all()
    s = json.loads((pb / "pseudobulk_summary.json").read_text())
    assert s["proportions_source"] == "estimated" and s["primary_method"] == "proportion"
    d = json.loads((out / "deconvolve" / "sim" / "deconvolve_summary.json").read_text())
    assert d["proportions_estimated"] and d["truth"] is None
    assert d["pseudobulk_truth"] == "proportion-matched targets"
    assert d["sentence"].endswith("(pseudo-bulk matched to estimated proportions)")
    summary = json.loads((out / "pipeline_info" / "run_summary.json").read_text())
    deconv = next(x for x in summary["steps"] if x["stage"] == "deconvolve")
    assert "--proportions" not in deconv["command"]  # no truth: the targets are estimates


def test_estimates_leave_the_donor_out(sim_planted):
    """Changing one donor's cells changes every other sample's estimate but never its own."""
    profiles = ad.read_h5ad(sim_planted[0])
    ct = ad.read_h5ad(sim_planted[0].parent / "celltype_profiles.h5ad")
    base = estimate_bulk_proportions(profiles, ct, "sim")
    ct2 = ct.copy()
    rows = (ct2.obs["donor"].astype(str) == "D03").to_numpy()
    x = np.asarray(ct2.X).copy()
    x[rows] = x[rows][:, ::-1]  # scramble D03's reference genes
    ct2.X = x
    changed = estimate_bulk_proportions(profiles, ct2, "sim")
    assert np.allclose(base.loc["S03"], changed.loc["S03"])
    assert not np.allclose(base.drop(index="S03"), changed.drop(index="S03"))


def test_estimate_without_cell_types_is_a_user_error(tmp_path):
    from pbfidelity.errors import UserError

    profiles = ad.AnnData(
        np.ones((2, 30)),
        obs=pd.DataFrame(
            {"dataset": "d", "sample": ["a", "b"], "donor": ["a", "b"], "modality": "bulk", "replicate": 0},
            index=["x", "y"],
        ),
    )
    ct = ad.AnnData(
        np.ones((1, 30)),
        obs=pd.DataFrame(
            {"dataset": "d", "sample": ["a"], "donor": ["a"], "cell_type": ["t"], "n_cells": [10]},
            index=["z"],
        ),
    )
    with pytest.raises(UserError, match="at least two cell types"):
        estimate_bulk_proportions(profiles, ct, "d")
