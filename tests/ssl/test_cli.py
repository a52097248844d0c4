"""End to end: simulate -> qc -> pseudobulk -> ssl, the real bulk benchmarks, and the no-torch path."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pbfidelity.cli import dispatch, main
from pbfidelity.errors import StageSkipped
from pbfidelity.simulate import SimulationParams, simulate, write_simulation

FAST = ["--folds", "2", "--repeats", "1", "--fractions", "0.1,1", "--max-epochs", "30", "-q"]
TABLES = (
    "label_fraction_runs.tsv",
    "label_fraction_curves.tsv",
    "first_match.tsv",
    "pretrain_losses.tsv",
    "ssl_power.tsv",
)


@pytest.fixture(scope="module")
def sim_profiles(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sim")
    sim = simulate(SimulationParams(n_donors=12, n_cell_types=3, cells_per_sample=120, n_genes=300, seed=5))
    write_simulation(sim, d / "in")
    dispatch(
        [
            "qc",
            "--input",
            str(d / "in" / "samplesheet.csv"),
            "--dataset",
            "sim",
            "--outdir",
            str(d / "qc"),
            "-q",
        ]
    )
    dispatch(
        [
            "pseudobulk",
            "--input",
            str(d / "in" / "samplesheet.csv"),
            "--dataset",
            "sim",
            "--cell-qc",
            str(d / "qc" / "cell_qc.tsv.gz"),
            "--bulk-qc",
            str(d / "qc" / "bulk_qc.tsv"),
            "--outdir",
            str(d / "pb"),
            "-q",
        ]
    )
    return d / "pb" / "profiles.h5ad"


def _check_outputs(out: Path, dataset: str, modality: bool) -> dict:
    for name in (*TABLES, "ssl_summary.json", "versions.yml"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".pbf-tmp-*"))
    summary = json.loads((out / "ssl_summary.json").read_text())
    assert summary["dataset"] == dataset and summary["curves"] and summary["first_match"]
    assert bool(summary["modality"]) == modality and (out / "modality.tsv").exists() == modality
    kinds = {}
    for f in out.glob("*_mqc.yaml"):
        doc = yaml.safe_load(f.read_text())
        assert doc["id"].startswith("pbf_ssl_") and doc["data"]
        kinds[doc["id"].rsplit("_", 1)[1]] = doc["plot_type"]
    expected = {"curves": "linegraph", "loss": "linegraph", "summary": "table", "power": "table"}
    assert kinds == ({**expected, "modality": "table"} if modality else expected)
    assert sorted(p.name for p in (out / "checkpoints").glob("*.pt"))
    return summary


def test_end_to_end_on_simulated_profiles_and_determinism(sim_profiles, tmp_path):
    import torch

    args = ["ssl", "--profiles", str(sim_profiles), "--label-column", "phenotype", "--seed", "3", *FAST]
    dispatch([*args, "--outdir", str(tmp_path / "a")])
    summary = _check_outputs(tmp_path / "a", "sim", modality=True)
    assert summary["classes"] == ["case", "control"] and summary["n_groups"] == 12
    ckpt = torch.load(tmp_path / "a" / "checkpoints" / "scarf_fold0.pt", weights_only=False)
    assert ckpt["n_features"] == len(ckpt["prep"]["genes"]) and ckpt["method"] == "scarf"
    dispatch([*args, "--outdir", str(tmp_path / "b"), "--no-checkpoints"])
    for name in (*TABLES, "modality.tsv"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text(), name


def test_user_errors(sim_profiles, tmp_path, capsys):
    cases = [
        (["--profiles", str(sim_profiles), "--label-column", "nope"], "no column 'nope'"),
        ([], "exactly one of --profiles or --benchmark"),
        (["--benchmark", "islets_t2d"], "--data-dir is required"),
        (["--benchmark", "islets_t2d", "--fractions", "0,1"], "fractions must be in (0, 1]"),
        (
            ["--profiles", str(sim_profiles), "--label-column", "phenotype", "--folds", "1"],
            "--folds must be at least 2",
        ),
    ]
    for extra, message in cases:
        assert main(["ssl", "--outdir", str(tmp_path / "o"), *extra]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_without_torch_the_stage_is_skipped(monkeypatch, tmp_path):
    import importlib.util

    from pbfidelity.ssl import cli as ssl_cli

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    parser = argparse.ArgumentParser()
    ssl_cli.add_arguments(parser)
    args = parser.parse_args(["--benchmark", "islets_t2d", "--outdir", str(tmp_path / "o")])
    with pytest.raises(StageSkipped, match=r"pbfidelity\[ssl\]"):
        ssl_cli.run(args)
    assert not (tmp_path / "o").exists()


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("benchmark", "n_classes"), [("islets_t2d", 2), ("tcga5_cohort", 5), ("tcga5_tumour_normal", 2)]
)
def test_benchmarks_run_the_protocol(shared_data, tmp_path, benchmark, n_classes):
    dispatch(
        ["ssl", "--benchmark", benchmark, "--data-dir", str(shared_data), "--outdir", str(tmp_path), *FAST]
    )
    summary = _check_outputs(tmp_path, benchmark, modality=False)
    assert len(summary["classes"]) == n_classes
    runs = pd.read_csv(tmp_path / "label_fraction_runs.tsv", sep="\t")
    assert set(runs["fraction"]) == {0.1, 1.0} and runs["fold"].nunique() == 2
    if benchmark == "tcga5_tumour_normal":
        assert summary["n_pretrain_extra"] == 264  # the other cohorts pre-train only
    if benchmark == "tcga5_cohort":  # five cohorts are easy to tell apart: every model far above chance
        full = runs[runs["fraction"] == 1.0].groupby("model")["balanced_accuracy"].mean()
        assert (full > 0.8).all(), full
