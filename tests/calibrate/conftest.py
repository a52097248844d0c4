"""Simulated profiles built by the real stages (simulate -> qc -> pseudobulk), cached per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pbfidelity.cli import dispatch


@pytest.fixture(scope="session")
def sim_planted(tmp_path_factory) -> tuple[Path, dict]:
    """Planted-distortion simulation (default size) with two bootstrap pseudo-replicates per sample."""
    root = tmp_path_factory.mktemp("calib_sim")
    inp, qc, pb = root / "input", root / "qc", root / "pseudobulk"
    dispatch(["simulate", "--outdir", str(inp), "--seed", "42", "-q"])
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
            "2",
            "--outdir",
            str(pb),
            "-q",
        ]
    )
    return pb / "profiles.h5ad", json.loads((inp / "ground_truth.json").read_text())
