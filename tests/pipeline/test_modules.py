"""Static contract between the Nextflow modules, the CLI stages and the embedded runner's layout."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nf_render
import pytest
import yaml

from pbfidelity import STAGES
from pbfidelity import runner as pbf_runner

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = (ROOT / "pyproject.toml").read_text()
VERSION = re.search(r'^version = "([^"]+)"', PYPROJECT, re.M).group(1)
DEPENDENCIES = re.findall(
    r'^\s+"([^"]+)",', re.search(r"^dependencies = \[(.*?)^\]", PYPROJECT, re.M | re.S).group(1), re.M
)
EXTRA_PROCESSES = {"MULTIQC"}  # a tool step, not a pbfidelity stage


def test_every_stage_has_a_module_and_every_module_a_stage(modules):
    expected = {f"PBF_{s.upper()}" for s in STAGES} | EXTRA_PROCESSES
    assert set(modules) == expected
    for stage in STAGES:
        assert (ROOT / "modules" / "local" / f"pbf_{stage}" / "main.nf").is_file()


def test_dependencies_parsed():
    assert len(DEPENDENCIES) >= 10 and any(d.startswith("numpy") for d in DEPENDENCIES)


def test_root_conda_environment_and_dockerfile():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = {re.split(r"[<>=!]", d.split("::")[-1])[0] for d in env["dependencies"] if isinstance(d, str)}
    for dep in DEPENDENCIES:
        assert re.split(r"[<>=!\[ ]", dep)[0].lower() in names, f"environment.yml: {dep} missing"
    docker = (ROOT / "Dockerfile").read_text()
    assert f"ARG VERSION={VERSION}" in docker and '".[ssl]"' in docker


def test_runner_steps_all_have_a_module(modules):
    for stage, *_ in pbf_runner.STEPS:
        assert f"PBF_{stage.upper()}" in modules


def _labels() -> set[str]:
    return set(re.findall(r"withLabel:\s*(\w+)", (ROOT / "conf" / "base.config").read_text()))


@pytest.mark.parametrize("process", sorted({f"PBF_{s.upper()}" for s in STAGES} | EXTRA_PROCESSES))
def test_module_shape(modules, process):
    m = modules[process]
    assert m.directives["tag"], "tag"
    assert m.label in _labels(), f"label {m.label!r} is not defined in conf/base.config"
    assert m.directives["conda"] == '"${moduleDir}/environment.yml"'
    assert m.directives["container"].strip("'\"").endswith(f"pbfidelity:{VERSION}"), (
        "image tag = package version"
    )
    env_file = m.path.parent / "environment.yml"
    env = yaml.safe_load(env_file.read_text())
    assert env["channels"] and env["dependencies"], env_file
    if process != "MULTIQC":  # the conda env must hold everything the package needs
        names = {re.split(r"[<>=!]", d.split("::")[-1])[0] for d in env["dependencies"] if isinstance(d, str)}
        pip = [x for d in env["dependencies"] if isinstance(d, dict) for x in d.get("pip", [])]
        assert f"pbfidelity=={VERSION}" in pip, f"{env_file}: installs the released package"
        for dep in DEPENDENCIES:
            assert re.split(r"[<>=!\[ ]", dep)[0].lower() in names, f"{env_file}: {dep} missing"
    emits = [o.emit for o in m.outputs]
    assert "versions" in emits and len(set(emits)) == len(emits)
    assert "task.ext.when == null || task.ext.when" in m.path.read_text()
    assert any(name == "args" and "task.ext.args" in expr for name, expr in m.defs), "task.ext.args"
    assert m.stub.strip(), "stub"
    meta = yaml.safe_load((m.path.parent / "meta.yml").read_text())
    assert meta["name"] == process.lower()
    documented = {next(iter(o)) for o in meta["output"]}
    assert documented == set(emits), "meta.yml documents every emit"
    assert meta["input"], "meta.yml documents the inputs"
    if process != "PBF_SIMULATE" and process in {f"PBF_{s.upper()}" for s in STAGES}:
        # per-dataset stages take a meta map; report and multiqc gather every dataset
        if process not in ("PBF_REPORT",):
            assert m.input_lines[0].startswith("tuple val(meta)"), m.input_lines[0]


def _flags(argv: list[str]) -> set[str]:
    return {a for a in argv if a.startswith("--")}


def _runner_argv(tmp_path: Path, stage: str) -> list[str]:
    args = argparse.Namespace(
        input=tmp_path / "samplesheet.csv",
        outdir=tmp_path / "out",
        seed=42,
        gene_annotation=tmp_path / "ann.tsv",
        gene_sets=tmp_path / "sets.gmt",
        proportions=tmp_path / "prop.tsv",
        label_column="phenotype",
        no_parent_paths=False,
        no_progress=True,
        quiet=False,
    )
    ctx = pbf_runner.RunContext(args=args, rows=[], outdir=args.outdir)
    shap = ctx.stage_dir("discriminate", "ds") / "shap_top_genes.tsv"
    shap.parent.mkdir(parents=True, exist_ok=True)
    shap.write_text("gene\n")
    shap.with_name("shap_genes.tsv").write_text("gene\tcandidate\n")
    control = ctx.stage_dir("pseudobulk", "ds") / "negative_control.h5ad"
    control.parent.mkdir(parents=True, exist_ok=True)
    control.write_text("")
    de = ctx.stage_dir("metrics", "ds") / "de_results.tsv"
    de.parent.mkdir(parents=True, exist_ok=True)
    de.write_text("gene\n")
    builder = {s: b for s, b, *_ in pbf_runner.STEPS}[stage]
    return builder(ctx, "ds")


#: flags the Nextflow module does not pass itself, and why
NOT_IN_MODULE = {
    # MultiQC is the MULTIQC process in Nextflow; run parameters reach the report through ext.args
    "report": {"--multiqc-outdir", "--param"},
}
#: flags only the Nextflow module passes, and why
ONLY_IN_MODULE = {
    # the report stages MultiQC's inputs for the MULTIQC process and words its methods for Nextflow
    "report": {"--no-multiqc", "--nextflow"},
}


def _all_inputs_env(m: nf_render.Module) -> dict:
    """Bindings with every optional input given, so the rendered command shows every flag."""
    env = {"meta": {"id": "ds"}, "params": {"seed": 42}, "seed": 42, "samplesheet": "'x'"}
    for line in m.input_lines:
        for name in re.findall(r"(?:path|val)\((\w+)", line) + re.findall(r"^(?:path|val)\s+(\w+)", line):
            env.setdefault(name, name if name != "label_column" else "phenotype")
    return env


@pytest.mark.parametrize("stage", [s for s, *_ in pbf_runner.STEPS])
def test_module_passes_the_runners_flags(modules, tmp_path, stage):
    m = modules[f"PBF_{stage.upper()}"]
    rendered = nf_render.render_script(m, _all_inputs_env(m))
    words = nf_render.shell_words(rendered)
    assert f"pbfidelity {stage}" in " ".join(words), rendered
    module_flags = _flags(words)
    runner_flags = _flags(_runner_argv(tmp_path, stage))
    expected = (runner_flags - NOT_IN_MODULE.get(stage, set())) | ONLY_IN_MODULE.get(stage, set())
    assert module_flags == expected, (
        f"{m.path}: flags {sorted(module_flags)} differ from the runner's {sorted(runner_flags)}"
    )


def test_publish_dirs_match_the_runner_layout(modules):
    paths = nf_render.publish_paths(ROOT / "conf" / "modules.config")
    outdir = Path("OUT")
    ctx = pbf_runner.RunContext(args=argparse.Namespace(), rows=[], outdir=outdir)
    for stage, _builder, per_dataset, _why in pbf_runner.STEPS:
        process = f"PBF_{stage.upper()}"
        published = Path(paths[process].replace("${params.outdir}", "OUT"))
        m = modules[process]
        results = next(o for o in m.outputs if o.emit == "results")
        folder = nf_render.interpolate(results.patterns[0], {"meta": {"id": "ds"}})
        if per_dataset:
            assert published / folder == ctx.stage_dir(stage, "ds"), process
        else:
            assert published / folder == ctx.stage_dir(stage), process
    assert Path(paths["MULTIQC"].replace("${params.outdir}", "OUT")) == outdir / "multiqc"
    assert '"${params.outdir}/pipeline_info"' in (ROOT / "workflows" / "pbfidelity.nf").read_text()


def test_test_profile_ext_args_name_real_processes(modules):
    for process in nf_render.ext_args_literals(ROOT / "conf" / "test.config"):
        assert process in modules
