import json
import re

import pandas as pd
import yaml

from pbfidelity.io.profiles import write_profiles
from pbfidelity.metrics.de import DE_COLUMNS

TABLES = [
    "de_results",
    "correlation_pairs",
    "correlation_summary",
    "matched_pairs",
    "gene_bias",
    "gene_mean_density",
    "components",
    "component_scores",
    "sparse_loadings",
    "volcano",
    "gene_attribute_bias",
    "gene_attribute_tests",
]


def _write(toy, tmp_path):
    return write_profiles(toy, tmp_path / "profiles.h5ad")


def test_outputs_contract_and_determinism(toy, tmp_path, cli):
    prof = _write(toy, tmp_path)
    args = ["--profiles", prof, "--seed", "7", "--n-permutations", "99", "--n-components", "4"]
    cli("metrics", *args, "--outdir", tmp_path / "a")
    cli("metrics", *args, "--outdir", tmp_path / "b")
    for name in TABLES:
        a = (tmp_path / "a" / f"{name}.tsv").read_text()
        assert a == (tmp_path / "b" / f"{name}.tsv").read_text(), name
    de = pd.read_csv(tmp_path / "a" / "de_results.tsv", sep="\t")
    assert list(de.columns) == DE_COLUMNS
    assert set(de["direction"]) <= {"bulk_up", "pseudobulk_up", "ns"}
    s = json.loads((tmp_path / "a" / "metrics_summary.json").read_text())
    for key in (
        "matched_pair_r",
        "unmatched_pair_r",
        "ccc_mean",
        "rmse_mean",
        "n_de",
        "n_de_bulk_up",
        "n_de_pseudobulk_up",
        "separating_component",
        "f1_overlap",
        "bootstrap_handling",
    ):
        assert key in s
    assert s["dataset"] == "toy" and s["n_de_bulk_up"] >= 10
    assert (tmp_path / "a" / "versions.yml").exists() and not list(tmp_path.rglob(".pbf-tmp-*"))
    mqc = {p.name: yaml.safe_load(p.read_text()) for p in (tmp_path / "a").glob("*_mqc.yaml")}
    types = {d["plot_type"] for d in mqc.values()}
    assert {"table", "scatter", "box", "linegraph", "heatmap"} <= types
    assert all(d["id"].startswith("pbf_metrics_toy_") for d in mqc.values())
    heat = mqc["pbf_metrics_toy_heatmap_mqc.yaml"]
    assert len(heat["xcats"]) == len(heat["data"]) == 16
    pca = mqc["pbf_metrics_toy_pca_scores_mqc.yaml"]
    assert re.fullmatch(r"PC1 \(\d+\.\d% of variance\)", pca["pconfig"]["xlab"]), pca["pconfig"]["xlab"]
    assert pca["pconfig"]["showlegend"] is True and set(pca["data"]) == {"bulk", "pseudo-bulk"}
    means = mqc["pbf_metrics_toy_gene_means_mqc.yaml"]["data"]
    n_up = sum(len(v) for k, v in means.items() if k.startswith("discordant"))
    assert n_up == s["n_de"] and "y = x" in means


def test_gene_annotation_and_options(toy, tmp_path, cli):
    prof = _write(toy, tmp_path)
    ann = tmp_path / "ann.tsv"
    rows = [
        f"{i}\tENSG{i}\tG{i:04d}\t{'ncRNA' if i % 3 == 0 else 'protein-coding'}\t1\t{500 + i * 10}"
        for i in range(300)
    ]
    ann.write_text("ENTREZID\tENSEMBL\tSYMBOL\tGENETYPE\tCHR\tLENGTH\n" + "\n".join(rows) + "\n")
    cli(
        "metrics",
        "--profiles",
        prof,
        "--outdir",
        tmp_path / "o",
        "--gene-annotation",
        ann,
        "--normalisation",
        "tmm_logcpm",
        "--lfc-threshold",
        "0.5",
        "--n-permutations",
        "19",
    )
    tests = pd.read_csv(tmp_path / "o" / "gene_attribute_tests.tsv", sep="\t").set_index("attribute")
    assert {"gene_type", "gene_length", "expression_level"} <= set(tests.index)
    s = json.loads((tmp_path / "o" / "metrics_summary.json").read_text())
    assert s["normalisation"] == "tmm_logcpm" and s["de_lfc_threshold"] == 0.5


def test_user_errors_are_one_line(toy, tmp_path, cli):
    proc = cli("metrics", "--profiles", tmp_path / "nope.h5ad", "--outdir", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    prof = _write(toy, tmp_path)
    proc = cli("metrics", "--profiles", prof, "--outdir", tmp_path / "o", "--alpha", "2", check=False)
    assert proc.returncode == 2 and "--alpha" in proc.stderr
    assert not (tmp_path / "o" / "de_results.tsv").exists()
