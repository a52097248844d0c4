"""Fixtures for the Nextflow-layer tests: the parsed modules and configs (tools/nf_render.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import nf_render  # noqa: E402


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def modules() -> dict[str, nf_render.Module]:
    return {m.process: m for m in nf_render.discover_modules()}
