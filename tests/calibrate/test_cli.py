"""The ``pbfidelity calibrate`` command end to end: outputs, determinism, CellBench."""

import gzip
import json

import pandas as pd
import pytest
import yaml

from pbfidelity.cli import dispatch
from pbfidelity.io.profiles import read_profiles

TABLES = [
    "calibration_metrics.tsv",
    "pair_correlation.tsv",
    "gene_calibration.tsv",
    "calibrate_summary.json",
    "calibrated_pseudobulk_counts.tsv.gz",
]


def test_outputs_and_determinism(sim_planted, tmp_path):
    path, _ = sim_planted
    for run in ("a", "b"):
        dispatch(
            [
                "calibrate",
                "--profiles",
                str(path),
                "--outdir",
                str(tmp_path / run),
                "--seed",
                "3",
                "--methods",
                "scale",
                "--n-bootstrap",
                "100",
                "-q",
            ]
        )
    for name in TABLES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a = tmp_path / "a"
    cal = read_profiles(a / "calibrated_profiles.h5ad")  # follows the profiles contract
    src = read_profiles(path)
    assert set(cal.obs["calibration"]) == {"none", "scale"}
    assert set(cal.obs_names) <= set(src.obs_names) and "logcpm" in cal.layers
    with gzip.open(a / "calibrated_pseudobulk_counts.tsv.gz", "rt") as fh:
        table = pd.read_csv(fh, sep="\t", index_col=0)
    assert table.shape == (cal.n_vars, int((cal.obs["modality"] == "pseudobulk").sum()))
    assert all(dt.kind == "i" for dt in table.dtypes)  # counts written as integers ("73", not "73.0")
    s = json.loads((a / "calibrate_summary.json").read_text())
    for key in (
        "auroc_raw",
        "auroc_calibrated",
        "auroc_drop",
        "pair_r_raw_median",
        "pair_r_calibrated_median",
    ):
        assert isinstance(s[key], float)
    kinds = {d["id"]: d["plot_type"] for d in (yaml.safe_load(p.read_text()) for p in a.glob("*_mqc.yaml"))}
    assert kinds == {
        "pbf_calibrate_sim_metrics": "table",
        "pbf_calibrate_sim_auroc": "bargraph",
        "pbf_calibrate_sim_pair_r": "scatter",
    }
    scatter = yaml.safe_load((a / "pbf_calibrate_sim_pair_r_mqc.yaml").read_text())
    diag = scatter["data"].pop("y = x")
    assert all(p["x"] == p["y"] for p in diag) and len(diag) >= 20
    xs = [v for p in scatter["data"].values() for v in (p["x"], p["y"])]
    assert diag[0]["x"] <= min(xs) + 1e-4 and diag[-1]["x"] >= max(xs) - 1e-4


@pytest.mark.realdata
def test_cellbench_calibration(cellbench_profiles, tmp_path):
    out = tmp_path / "calibrate"
    dispatch(
        [
            "calibrate",
            "--profiles",
            str(cellbench_profiles["profiles"]),
            "--outdir",
            str(out),
            "--methods",
            "scale,offset",
            "--n-bootstrap",
            "300",
            "-q",
        ]
    )
    s = json.loads((out / "calibrate_summary.json").read_text())
    assert s["n_pairs"] >= 15
    assert s["methods"]["offset"]["pair_r_median"] > s["pair_r_raw_median"]  # offsets bring pools closer
    print(
        f"CellBench calibration: AUROC {s['auroc_raw']:.3f} raw -> {s['auroc_calibrated']:.3f} ({s['method']}); "
        f"pair r {s['pair_r_raw_median']:.3f} -> {s['pair_r_calibrated_median']:.3f}; methods {s['methods']}"
    )
