"""CellBench end to end: real 90-cell pools (bulk) vs proportion-matched pseudo-bulk of CEL-seq2 cells."""

import json

import pandas as pd
import pytest

from pbfidelity.cli import dispatch


@pytest.mark.realdata
def test_cellbench_metrics_and_go_enrichment(shared_data, tmp_path):
    ann = shared_data / "genesets" / "human_gene_annotation.tsv.gz"
    inp, qc, pb, mt, en = (tmp_path / d for d in ("in", "qc", "pb", "metrics", "enrich"))
    dispatch(
        ["recipe", "cellbench", "--data-dir", str(shared_data / "cellbench"), "--outdir", str(inp), "-q"]
    )
    sheet = str(inp / "samplesheet.csv")
    dispatch(["qc", "--input", sheet, "--outdir", str(qc), "--gene-annotation", str(ann), "-q"])
    dispatch(
        [
            "pseudobulk",
            "--input",
            sheet,
            "--cell-qc",
            str(qc / "cell_qc.tsv.gz"),
            "--bulk-qc",
            str(qc / "bulk_qc.tsv"),
            "--proportions",
            str(inp / "proportions.tsv"),
            "--gene-annotation",
            str(ann),
            "--outdir",
            str(pb),
            "-q",
        ]
    )
    dispatch(
        [
            "metrics",
            "--profiles",
            str(pb / "profiles.h5ad"),
            "--outdir",
            str(mt),
            "--gene-annotation",
            str(ann),
            "--n-permutations",
            "199",
            "-q",
        ]
    )
    s = json.loads((mt / "metrics_summary.json").read_text())
    assert s["pb_method"] == "proportion" and s["n_matched_pairs"] == 21
    assert 0.85 < s["matched_pair_r"] < 1 and s["matched_pair_r"] > s["unmatched_pair_r"]
    assert s["matched_vs_unmatched_p"] <= 0.01
    assert s["n_de"] > 100 and s["separating_component"] is not None
    de = pd.read_csv(mt / "de_results.tsv", sep="\t")
    assert de["gene"].str.startswith("ENSG").mean() > 0.95 and de["pvalue"].notna().sum() > 5000
    tests = pd.read_csv(mt / "gene_attribute_tests.tsv", sep="\t").set_index("attribute")
    assert {"gene_type", "mitochondrial", "ribosomal_protein"} <= set(tests.index)

    dispatch(
        [
            "enrich",
            "--de",
            str(mt / "de_results.tsv"),
            "--gene-sets",
            str(shared_data / "genesets" / "go_bp_human_ensembl.gmt.gz"),
            "--outdir",
            str(en),
            "--permutations",
            "500",
            "-q",
        ]
    )
    e = json.loads((en / "enrich_summary.json").read_text())
    assert e["dataset"] == "cellbench_cellmix5" and e["n_gene_sets_tested"] > 3000
    top = pd.read_csv(en / "top_processes.tsv", sep="\t")
    assert set(top["query"]) == {"bulk_up", "pseudobulk_up"} and top["name"].str.len().gt(0).all()
    # some biological process separates the modalities on the DE statistic
    assert sum(e["prerank_significant"].values()) > 0
