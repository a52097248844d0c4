"""The Python API (pbf.pp / pbf.tl): docs/api.md runs as a doctest; options are keyword-only."""

from __future__ import annotations

import doctest
import inspect
from pathlib import Path

import pytest

import pbfidelity as pbf

ROOT = Path(__file__).resolve().parents[1]


def test_docs_api_examples_run():
    result = doctest.testfile(
        str(ROOT / "docs" / "api.md"),
        module_relative=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
    )
    assert result.attempted > 20 and result.failed == 0


@pytest.mark.parametrize(
    "func", [pbf.pp.pseudobulk, pbf.pp.build_profiles, pbf.tl.fidelity, pbf.tl.discriminate, pbf.tl.calibrate]
)
def test_options_are_keyword_only(func):
    params = list(inspect.signature(func).parameters.values())
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert positional in (["adata"], ["bulk", "adata", "pairs"], ["profiles"]), positional


def test_cli_builds_profiles_with_the_api_function():
    """No second implementation: the pseudobulk CLI and pbf.pp.build_profiles both call build_dataset_profiles."""
    from pbfidelity.pseudobulk import cli

    src = inspect.getsource(cli.run) + inspect.getsource(pbf.pp.build_profiles)
    assert src.count("build_dataset_profiles(") == 2
    assert "aggregate_stream" not in inspect.getsource(cli)
