"""The ``pbfidelity discriminate`` command end to end: outputs, determinism, several datasets, CellBench."""

import json

import anndata as ad
import pandas as pd
import pytest
import yaml

from pbfidelity.cli import dispatch
from pbfidelity.errors import UserError

QUICK = ["--n-permutations", "10", "--n-bootstrap", "100", "--learning-curve", "50", "-q"]
TABLES = [
    "metrics.tsv",
    "roc_points.tsv",
    "predictions.tsv",
    "shap_genes.tsv",
    "shap_top_genes.tsv",
    "permutation.tsv",
    "learning_curve.tsv",
    "shap_values.tsv",
]


def test_outputs_and_determinism(sim_planted, tmp_path):
    path, _ = sim_planted
    for run in ("a", "b"):
        dispatch(
            ["discriminate", "--profiles", str(path), "--outdir", str(tmp_path / run), "--seed", "7", *QUICK]
        )
    for name in [*TABLES, "discriminate_summary.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    top = pd.read_csv(tmp_path / "a" / "shap_top_genes.tsv", sep="\t")
    assert list(top.columns[:3]) == ["gene", "mean_abs_shap", "direction"]
    assert len(top) == 100 and set(top["direction"]) <= {"bulk", "pseudobulk"}
    assert top["mean_abs_shap"].is_monotonic_decreasing
    summary = json.loads((tmp_path / "a" / "discriminate_summary.json").read_text())
    for key in ("auroc", "ci_low", "ci_high", "permutation_p", "n_donors", "top_genes"):
        assert key in summary
    assert summary["n_donors"] == 12 and summary["datasets"][0]["dataset"] == "sim"
    metrics = pd.read_csv(tmp_path / "a" / "metrics.tsv", sep="\t")
    assert set(metrics["model"]) == {"xgboost", "logistic_l2", "random_forest", "covariates"}
    mqc = {p.name: yaml.safe_load(p.read_text()) for p in (tmp_path / "a").glob("*_mqc.yaml")}
    kinds = {doc["id"]: doc["plot_type"] for doc in mqc.values()}
    assert kinds == {
        "pbf_discriminate_sim_metrics": "table",
        "pbf_discriminate_sim_roc": "linegraph",
        "pbf_discriminate_sim_shap": "bargraph",
        "pbf_discriminate_sim_learning_curve": "linegraph",
        "pbf_discriminate_sim_shap_signed": "scatter",
    }
    assert all(doc["data"] for doc in mqc.values())
    assert mqc["pbf_discriminate_sim_roc_mqc.yaml"]["pconfig"]["showlegend"] is True
    # signed SHAP: one value per evaluated profile and top gene; its sign follows the gene's direction
    signed = pd.read_csv(tmp_path / "a" / "shap_values.tsv", sep="\t")
    pred = pd.read_csv(tmp_path / "a" / "predictions.tsv", sep="\t")
    assert signed["gene"].nunique() == 15 and len(signed) == 15 * int(pred["evaluated"].sum())
    assert list(dict.fromkeys(signed["gene"])) == top["gene"].head(15).tolist()
    for gene, direction in zip(top["gene"].head(5), top["direction"].head(5), strict=True):
        g = signed[signed["gene"] == gene]
        cov = float(((g["shap"] - g["shap"].mean()) * g["expression_z"]).mean())
        assert (cov > 0) == (direction == "bulk"), (gene, direction, cov)
        assert abs(g["expression_z"].mean()) < 1e-6
    bees = mqc["pbf_discriminate_sim_shap_signed_mqc.yaml"]
    assert bees["pconfig"]["categories"] == top["gene"].head(15).tolist()
    points = [p for pts in bees["data"].values() for p in pts]
    assert len(points) == len(signed)
    assert all(-0.5 < p["x"] - round(p["x"]) < 0.5 for p in points)
    assert (tmp_path / "a" / "versions.yml").exists()
    assert not list(tmp_path.glob("a/.pbf-tmp-*"))


def test_several_datasets(sim_planted, sim_null, tmp_path):
    other = ad.read_h5ad(sim_null[0])
    other.obs["dataset"] = "sim_null"
    other.write_h5ad(tmp_path / "null.h5ad")
    with pytest.raises(UserError, match="dataset 'sim' also appears"):
        dispatch(
            [
                "discriminate",
                "--profiles",
                str(sim_planted[0]),
                str(sim_planted[0]),
                "--outdir",
                str(tmp_path / "dup"),
                *QUICK,
            ]
        )
    out = tmp_path / "out"
    dispatch(
        [
            "discriminate",
            "--profiles",
            str(sim_planted[0]),
            str(tmp_path / "null.h5ad"),
            "--outdir",
            str(out),
            "--no-baselines",
            *QUICK,
        ]
    )
    cross = pd.read_csv(out / "cross_dataset.tsv", sep="\t")
    assert set(zip(cross["train_dataset"], cross["test_dataset"], strict=True)) == {
        ("sim", "sim_null"),
        ("sim_null", "sim"),
    }
    summary = json.loads((out / "discriminate_summary.json").read_text())
    assert [d["dataset"] for d in summary["datasets"]] == ["sim", "sim_null"]
    assert (out / "pbf_discriminate_sim_null_roc_mqc.yaml").exists()
    assert set(pd.read_csv(out / "shap_top_genes.tsv", sep="\t")["dataset"]) <= {"sim", "sim_null"}


@pytest.mark.realdata
def test_cellbench_pools_vs_pseudobulk(cellbench_profiles, tmp_path):
    """Real data: CellBench 90-cell pools vs proportion-matched pseudo-bulk with bootstrap pseudo-replicates."""
    out = tmp_path / "discriminate"
    dispatch(
        [
            "discriminate",
            "--profiles",
            str(cellbench_profiles["profiles"]),
            "--outdir",
            str(out),
            "--n-permutations",
            "20",
            "--n-bootstrap",
            "300",
            "--learning-curve",
            "20,200",
            "-q",
        ]
    )
    pred = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert (pred.groupby("donor")["fold"].nunique() == 1).all()  # a pool and its pseudo-replicates: one fold
    assert (pred.groupby("donor").size() >= 3).all() and pred["donor"].nunique() >= 15
    s = json.loads((out / "discriminate_summary.json").read_text())
    assert s["pb_method"] == "proportion"
    assert 0.0 <= s["ci_low"] <= s["auroc"] <= s["ci_high"] <= 1.0
    assert len(s["top_genes"]) == 20
    print(
        f"CellBench AUROC {s['auroc']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}], p = {s['permutation_p']:.3g}, "
        f"top genes {s['top_genes'][:10]}"
    )
