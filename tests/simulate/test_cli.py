import json

import pandas as pd

from pbfidelity.io.samplesheet import read_samplesheet


def test_simulate_writes_a_valid_input_folder(tmp_path, cli):
    out = tmp_path / "sim"
    cli("simulate", "--outdir", out, "--n-donors", "4", "--cells-per-sample", "50", "--n-genes", "600")
    rows = read_samplesheet(out / "samplesheet.csv")
    assert len(rows) == 4 and rows[0].bulk_id == "B_S01" and rows[0].extra["phenotype"] in ("case", "control")
    truth = json.loads((out / "ground_truth.json").read_text())
    assert len(truth["distorted_genes"]) == 140
    gmt = (out / "genesets.gmt").read_text().splitlines()
    assert any(line.startswith("PLANTED_DISSOCIATION_STRESS\t") for line in gmt)
    props = pd.read_csv(out / "proportions.tsv", sep="\t", index_col=0)
    assert props.sum(axis=1).round(3).eq(1).all()
    assert not list(tmp_path.glob("sim/.pbf-tmp-*"))


def test_bad_size_is_a_user_error(tmp_path, cli):
    proc = cli("simulate", "--outdir", tmp_path / "x", "--n-genes", "50", check=False)
    assert proc.returncode == 2 and "too small" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x" / "samplesheet.csv").exists()
