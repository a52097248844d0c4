"""Simulated profiles built by the real stages (simulate -> qc -> pseudobulk), cached per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pbfidelity.cli import dispatch


def build_sim_profiles(root: Path, null: bool, n_replicates: int = 2, seed: int = 42) -> tuple[Path, dict]:
    """Run simulate, qc and pseudobulk (with bootstrap pseudo-replicates); return profiles path and truth."""
    inp, qc, pb = root / "input", root / "qc", root / "pseudobulk"
    dispatch(["simulate", "--outdir", str(inp), "--seed", str(seed), "-q", *(["--null"] if null else [])])
    dispatch(["qc", "--input", str(inp / "samplesheet.csv"), "--outdir", str(qc), "-q"])
    dispatch(
        [
            "pseudobulk",
            "--input",
            str(inp / "samplesheet.csv"),
            "--cell-qc",
            str(qc / "cell_qc.tsv.gz"),
            "--bulk-qc",
            str(qc / "bulk_qc.tsv"),
            "--n-replicates",
            str(n_replicates),
            "--outdir",
            str(pb),
            "-q",
        ]
    )
    return pb / "profiles.h5ad", json.loads((inp / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def sim_planted(tmp_path_factory) -> tuple[Path, dict]:
    return build_sim_profiles(tmp_path_factory.mktemp("sim_planted"), null=False)


@pytest.fixture(scope="session")
def sim_null(tmp_path_factory) -> tuple[Path, dict]:
    return build_sim_profiles(tmp_path_factory.mktemp("sim_null"), null=True)
