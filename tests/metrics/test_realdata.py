"""CellBench end to end: real 90-cell pools (bulk) vs proportion-matched pseudo-bulk of CEL-seq2 cells."""

import json

import pandas as pd
import pytest

from pbfidelity.cli import dispatch


@pytest.mark.realdata
def test_cellbench_metrics_and_go_enrichment(shared_data, cellbench_profiles, tmp_path):
    ann = cellbench_profiles["annotation"]
    mt, en = tmp_path / "metrics", tmp_path / "enrich"
    dispatch(
        [
            "metrics",
            "--profiles",
            str(cellbench_profiles["profiles"]),
            "--outdir",
            str(mt),
            "--gene-annotation",
            str(ann),
            "--n-permutations",
            "199",
            "--negative-control",
            str(cellbench_profiles["profiles"].parent / "negative_control.h5ad"),
            "-q",
        ]
    )
    s = json.loads((mt / "metrics_summary.json").read_text())
    # the discrepancy against the half-split cell-sampling floor (issue #12 item 4)
    nc = s["negative_control"]
    assert nc["n_pairs_compared"] == 21 and nc["pairs_above_floor"] == 21
    assert 1.2 < nc["distance_ratio_depth_matched"] < nc["distance_ratio"]
    assert nc["auroc"] > 0.9  # one shared suspension: cell sampling alone separates the halves
    assert (mt / "pbf_metrics_cellbench_cellmix5_negative_control_mqc.yaml").exists()
    assert len(pd.read_csv(mt / "negative_control.tsv", sep="\t")) == 21
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
