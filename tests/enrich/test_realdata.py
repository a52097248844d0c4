"""Issue #12 item 7 on real data: the CellBench exchangeable null (each pool's "bulk" drawn from the same CEL-seq2
cells as its pseudo-bulk) must give no enriched process with the donor sign-flip prerank, and no ORA hit."""

from __future__ import annotations

import json

import pytest
from tests.conftest import NULL_SEEDS

from pbfidelity.cli import dispatch


@pytest.mark.realdata
@pytest.mark.parametrize("cellbench_null_profiles", NULL_SEEDS[:2], indirect=True)
def test_cellbench_exchangeable_null_has_no_enriched_process(shared_data, cellbench_null_profiles, tmp_path):
    profiles = str(cellbench_null_profiles["profiles"])
    seed = str(cellbench_null_profiles["seed"])
    mt, en = tmp_path / "metrics", tmp_path / "enrich"
    dispatch(
        [
            "metrics",
            "--profiles",
            profiles,
            "--outdir",
            str(mt),
            "--n-permutations",
            "0",
            "--gene-annotation",
            str(cellbench_null_profiles["annotation"]),
            "--seed",
            seed,
            "-q",
        ]
    )
    dispatch(
        [
            "enrich",
            "--de",
            str(mt / "de_results.tsv"),
            "--profiles",
            profiles,
            "--gene-sets",
            str(shared_data / "genesets" / "go_bp_human_ensembl.gmt.gz"),
            "--flip-permutations",
            "2000",
            "--outdir",
            str(en),
            "--seed",
            seed,
            "-q",
        ]
    )
    e = json.loads((en / "enrich_summary.json").read_text())
    assert e["prerank_method"] == "donor-flip" and e["prerank_null_safe"]
    assert e["n_gene_sets_tested"] > 3000 and e["prerank_n_donors"] >= 3
    assert sum(e["prerank_significant"].values()) == 0, e["top_processes"]
    assert sum(e["ora_significant"].values()) == 0
