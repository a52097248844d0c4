"""Shared fixtures: the real data folder (../shared/data) and a CLI runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pbfidelity.cli import dispatch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests using it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (present in CI beside the checkout)")
    return SHARED_DATA


def run_cli(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``pbfidelity ARGS`` in a subprocess, exactly as a user or a Nextflow module would."""
    proc = subprocess.run(
        [sys.executable, "-m", "pbfidelity", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"pbfidelity {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli


def build_sim_profiles(root: Path, null: bool, n_replicates: int = 2, seed: int = 42) -> tuple[Path, dict]:
    """Default-size simulation through the real stages (simulate, qc, pseudobulk with bootstrap
    pseudo-replicates); returns the profiles path and the ground truth."""
    inp, qc, pb = root / "input", root / "qc", root / "pseudobulk"
    dispatch(["simulate", "--outdir", str(inp), "--seed", str(seed), "-q", *(["--null"] if null else [])])
    dispatch(["qc", "--input", str(inp / "samplesheet.csv"), "--outdir", str(qc), "-q"])
    dispatch(["pseudobulk", "--input", str(inp / "samplesheet.csv"), "--cell-qc", str(qc / "cell_qc.tsv.gz"),
              "--bulk-qc", str(qc / "bulk_qc.tsv"), "--n-replicates", str(n_replicates), "--outdir", str(pb), "-q"])
    return pb / "profiles.h5ad", json.loads((inp / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def sim_planted(tmp_path_factory) -> tuple[Path, dict]:
    """Planted-distortion simulation (default size, two pseudo-replicates per sample), built once per session."""
    return build_sim_profiles(tmp_path_factory.mktemp("sim_planted"), null=False)


@pytest.fixture(scope="session")
def sim_null(tmp_path_factory) -> tuple[Path, dict]:
    """Null simulation (no planted distortion), built once per session."""
    return build_sim_profiles(tmp_path_factory.mktemp("sim_null"), null=True)
