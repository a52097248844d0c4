"""``pbfidelity deconvolve``: outputs, the concordant-genes arm, bad inputs as one line, determinism."""

import json

import anndata as ad
import pandas as pd
import pytest
import yaml

from pbfidelity.pseudobulk.profiles import read_proportions


@pytest.fixture(scope="module")
def inputs(sim_planted, tmp_path_factory):
    profiles = sim_planted[0]
    pb = profiles.parent
    genes = ad.read_h5ad(profiles).var_names
    tmp = tmp_path_factory.mktemp("deconvolve_cli")
    de_all = tmp / "de_all_ns.tsv"
    pd.DataFrame({"gene": genes, "direction": "ns", "log2FoldChange": 0.0}).to_csv(
        de_all, sep="\t", index=False
    )
    return {
        "profiles": profiles,
        "ct": pb / "celltype_profiles.h5ad",
        "truth": pb.parent / "input" / "proportions.tsv",
        "de_all": de_all,
        "tmp": tmp,
    }


def _run(cli, inputs, out, *extra, check=True):
    return cli(
        "deconvolve",
        "--profiles",
        inputs["profiles"],
        "--celltype-profiles",
        inputs["ct"],
        "--outdir",
        out,
        "--n-bootstrap",
        "200",
        *extra,
        check=check,
    )


def test_outputs_and_concordant_arm(cli, inputs):
    out = inputs["tmp"] / "out"
    _run(cli, inputs, out, "--proportions", inputs["truth"], "--de", inputs["de_all"])
    for name in ("estimates", "accuracy", "per_sample", "consequence"):
        assert (out / f"deconvolution_{name}.tsv").is_file()
    assert (out / "versions.yml").read_text().startswith("PBF_DECONVOLVE:")
    assert sorted(p.name for p in out.glob("*_mqc.yaml")) == [
        "pbf_deconvolve_sim_celltypes_mqc.yaml",
        "pbf_deconvolve_sim_rmse_mqc.yaml",
        "pbf_deconvolve_sim_scatter_mqc.yaml",
        "pbf_deconvolve_sim_summary_mqc.yaml",
    ]
    # the scatter's legend has one entry per arm and the y = x diagonal it describes is drawn
    scatter = yaml.safe_load((out / "pbf_deconvolve_sim_scatter_mqc.yaml").read_text())
    diag = scatter["data"].pop("y = x")
    assert all(p["x"] == p["y"] for p in diag) and scatter["pconfig"]["showlegend"] is True
    assert {p["group"] for p in scatter["data"].values()} == {"bulk", "pseudo-bulk"}
    s = json.loads((out / "deconvolve_summary.json").read_text())
    assert s["arms"] == ["bulk", "pseudobulk", "bulk_calibrated", "bulk_concordant"]
    # every gene concordant: the concordant arm is the bulk arm
    est = pd.read_csv(out / "deconvolution_estimates.tsv", sep="\t")
    a = est[est["arm"] == "bulk"].reset_index(drop=True)
    b = est[est["arm"] == "bulk_concordant"].reset_index(drop=True)
    pd.testing.assert_series_equal(a["estimate"], b["estimate"])
    # estimated proportions are a --proportions table
    samples = [f"S{i:02d}" for i in range(1, 13)]
    props = read_proportions(out / "estimated_proportions.tsv", "sim", samples)
    assert set(props["S01"]) == {"ct1", "ct2", "ct3", "ct4"}
    assert sum(props["S01"].values()) == pytest.approx(1.0, abs=1e-4)


def test_without_truth_reports_agreement_only(cli, inputs):
    out = inputs["tmp"] / "no_truth"
    _run(cli, inputs, out, "--methods", "nnls")
    c = pd.read_csv(out / "deconvolution_consequence.tsv", sep="\t")
    assert "optimism" not in c.columns
    assert c.loc[0, "sentence"].startswith("no known bulk proportions")
    acc = pd.read_csv(out / "deconvolution_accuracy.tsv", sep="\t")
    assert set(acc["truth"]) == {"cells of its per-cell-type profiles", "pseudo-bulk estimate"}


def test_same_seed_identical_tables(cli, inputs):
    a, b = inputs["tmp"] / "det_a", inputs["tmp"] / "det_b"
    for out in (a, b):
        _run(cli, inputs, out, "--proportions", inputs["truth"], "--methods", "svr")
    for name in (
        "deconvolution_estimates.tsv",
        "deconvolution_accuracy.tsv",
        "deconvolution_consequence.tsv",
    ):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_bad_inputs_are_one_line(cli, inputs):
    short = inputs["tmp"] / "short.tsv"
    t = pd.read_csv(inputs["truth"], sep="\t")
    t[t["sample"] != "S05"].to_csv(short, sep="\t", index=False)
    out = inputs["tmp"] / "bad"
    proc = _run(cli, inputs, out, "--proportions", short, check=False)
    assert proc.returncode == 2
    assert "no row for sample 'S05'" in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert not out.exists()
    missing = dict(inputs, ct=inputs["tmp"] / "nope.h5ad")
    proc = _run(cli, missing, out, check=False)
    assert proc.returncode == 3 and "no per-cell-type profiles" in proc.stderr
    proc = _run(cli, inputs, out, "--methods", "music", check=False)
    assert proc.returncode == 2 and "methods must be" in proc.stderr
