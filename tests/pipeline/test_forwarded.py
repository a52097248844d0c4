"""The input options of `pbfidelity run` (runner.FORWARDED) exist with the same names on the stages, as
pipeline parameters (nextflow.config + nextflow_schema.json) and in the processes' ext.args."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import nf_render
import pytest

from pbfidelity import runner as pbf_runner
from pbfidelity.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _schema_props() -> dict:
    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    return {k: v for g in schema["$defs"].values() for k, v in g["properties"].items()}


def _ext_args_blocks() -> dict[str, str]:
    """Text of each withName block of conf/modules.config."""
    text = (ROOT / "conf" / "modules.config").read_text()
    out, current = {}, None
    for line in text.splitlines():
        m = re.match(r"\s*withName:\s*'([\w:]+)'", line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif current:
            out[current] += line + "\n"
    return out


@pytest.mark.parametrize(("flag", "param", "stages"), pbf_runner.FORWARDED)
def test_forwarded_option_everywhere(flag, param, stages):
    assert flag.lstrip("-").replace("-", "_") == param, "flag and parameter share one name"
    assert flag in _flags(_subparser("run")), f"run lacks {flag}"
    for stage in stages:
        assert flag in _flags(_subparser(stage)), f"pbfidelity {stage} lacks {flag}"
        block = _ext_args_blocks()[f"PBF_{stage.upper()}"]
        assert f"params.{param}" in block and flag in block, (
            f"conf/modules.config PBF_{stage.upper()}: {flag}"
        )
    props = _schema_props()
    assert param in props, f"nextflow_schema.json lacks {param}"
    assert param in nf_render.config_params(ROOT / "nextflow.config")
    run_action = next(a for a in _subparser("run")._actions if flag in a.option_strings)
    boolean = isinstance(run_action, argparse._StoreTrueAction)
    assert props[param]["type"] == ("boolean" if boolean else "string")


def test_runner_passes_given_options_only(tmp_path):
    args = argparse.Namespace(
        input=tmp_path / "s.csv",
        outdir=tmp_path / "o",
        seed=1,
        gene_annotation=None,
        proportions=None,
        layer="raw_counts",
        sc_sample_key="sample_id",
        celltype_key=None,
        round_bulk_counts=True,
        exclude_genes="GFP,PhiX.*",
        exclude_gene_classes=None,
    )
    ctx = pbf_runner.RunContext(args=args, rows=[], outdir=args.outdir)

    builders = {s: b for s, b, *_ in pbf_runner.STEPS}
    qc = builders["qc"](ctx, "d")
    pb = builders["pseudobulk"](ctx, "d")
    assert qc[qc.index("--layer") + 1] == "raw_counts" and "--round-bulk-counts" in qc
    assert "--exclude-genes" not in qc and "--celltype-key" not in pb
    assert (
        pb[pb.index("--exclude-genes") + 1] == "GFP,PhiX.*"
        and pb[pb.index("--sc-sample-key") + 1] == "sample_id"
    )
