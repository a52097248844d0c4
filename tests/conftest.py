"""Shared fixtures: the real data folder (../shared/data) and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
