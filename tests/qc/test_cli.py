import json

import pandas as pd
import pytest

from pbfidelity.simulate import SimulationParams, simulate, write_simulation


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    sim = simulate(SimulationParams(n_donors=4, cells_per_sample=200, n_genes=800, low_quality_fraction=0.05))
    write_simulation(sim, d)
    return d, sim


def test_qc_recovers_planted_low_quality_cells(sim_dir, tmp_path, cli):
    d, sim = sim_dir
    cli("qc", "--input", d / "samplesheet.csv", "--outdir", tmp_path)
    cells = pd.read_csv(tmp_path / "cell_qc.tsv.gz", sep="\t")
    failed = set(cells.loc[~cells["pass_qc"], "barcode"])
    planted = set(sim.truth["low_quality_cells"])
    recall = len(failed & planted) / len(planted)
    false_pos = len(failed - planted) / (len(cells) - len(planted))
    assert recall >= 0.9 and false_pos <= 0.02, (recall, false_pos)
    summary = json.loads((tmp_path / "qc_summary.json").read_text())
    assert summary["n_cells"] == 800 and summary["n_bulk_pass"] == 4
    for name in ("bulk_qc.tsv", "sample_qc.tsv", "versions.yml", "pbf_qc_sim_samples_mqc.yaml"):
        assert (tmp_path / name).exists()


def test_qc_bad_sample_key_is_one_line_error(sim_dir, tmp_path, cli):
    d, _ = sim_dir
    sheet = (d / "samplesheet.csv").read_text().replace(",S02,D02", ",NOPE,D02")
    (d / "bad.csv").write_text(sheet)
    proc = cli("qc", "--input", d / "bad.csv", "--outdir", tmp_path / "o", check=False)
    assert proc.returncode == 2
    assert "no cells with sample == 'NOPE' (samplesheet row 3, column 'sc_id')" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "cell_qc.tsv.gz").exists()
