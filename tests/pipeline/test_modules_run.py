"""Render every module's ``script:`` (with the test profile's ext.args) and run it against the real CLI.

Each module is executed in its own task folder, with its inputs staged the way Nextflow stages them
(``stageAs`` names included), in pipeline order on a small simulated dataset; then its declared outputs
must exist. A flag renamed in Python, an output renamed in a stage or a module that drifts from its CLI
fails here. Stages whose CLI is not in this installation yet are reported as not available.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nf_render
import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDER = [
    "PBF_SIMULATE",
    "PBF_QC",
    "PBF_PSEUDOBULK",
    "PBF_METRICS",
    "PBF_DISCRIMINATE",
    "PBF_CALIBRATE",
    "PBF_DECONVOLVE",
    "PBF_ENRICH",
    "PBF_SSL",
    "PBF_REPORT",
    "MULTIQC",
]
DATASET = "sim"


@dataclass
class Chain:
    """Runs the modules in order; remembers each one's task folder, or why it did not run."""

    base: Path
    modules: dict[str, nf_render.Module]
    ext_args: dict[str, str]
    done: dict[str, Path] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)

    def task_dir(self, process: str) -> Path:
        d = self.base / process.lower()
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def needs(self, *processes: str) -> str | None:
        for p in processes:
            if p not in self.done:
                return f"needs {p} ({self.status.get(p, 'not run')})"
        return None

    def execute(self, process: str, env: dict, task: Path) -> None:
        module = self.modules[process]
        script = nf_render.render_script(module, env, self.ext_args.get(process, ""))
        (task / ".command.sh").write_text(script)
        shim = self.base / "bin"
        shim.mkdir(exist_ok=True)
        launcher = shim / "pbfidelity"
        launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m pbfidelity "$@"\n')
        launcher.chmod(0o755)
        path = os.pathsep.join([str(shim), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", ".command.sh"],
            cwd=task,
            capture_output=True,
            text=True,
            env={**os.environ, "PATH": path},
            timeout=900,
        )
        (task / ".command.err").write_text(proc.stderr)
        if proc.returncode != 0:
            raise AssertionError(
                f"{process} exited {proc.returncode}\n--- command\n{script}--- stderr\n{proc.stderr[-3000:]}"
            )
        for output, patterns in nf_render.render_outputs(module, env):
            for pattern in patterns:
                found = list(task.glob(pattern))
                if not found and not output.optional:
                    raise AssertionError(
                        f"{process}: declared output '{pattern}' (emit {output.emit}) "
                        f"was not written\n--- command\n{script}"
                    )


def stage(task: Path, source: Path, name: str) -> str:
    """Stage ``source`` into the task folder as ``name`` (a symlink, as Nextflow does); return ``name``."""
    link = task / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(source.resolve())
    return name


def dataset_inputs(sheet: Path, task: Path) -> tuple[str, list[str], list[str]]:
    """What PREPARE_INPUT hands to PBF_QC/PBF_PSEUDOBULK: quoted per-dataset samplesheet lines and staged files.

    Mirrors subworkflows/local/prepare_input/main.nf: rows sorted by sample, distinct files sorted by
    path and staged as bulk<i>/<name>, sc<i>/<name> (the processes' stageAs patterns 'bulk*/*', 'sc*/*').
    """
    with open(sheet, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["dataset"] == DATASET]
    rows.sort(key=lambda r: r["sample"])
    header = list(rows[0])
    bulk = sorted({(sheet.parent / r["bulk"]).resolve() for r in rows}, key=str)
    sc = sorted({(sheet.parent / r["singlecell"]).resolve() for r in rows}, key=str)
    lines = [",".join(header)]
    for r in rows:
        values = dict(r)
        values["bulk"] = f"bulk{bulk.index((sheet.parent / r['bulk']).resolve()) + 1}/{Path(r['bulk']).name}"
        values["singlecell"] = (
            f"sc{sc.index((sheet.parent / r['singlecell']).resolve()) + 1}/{Path(r['singlecell']).name}"
        )
        lines.append(",".join(values[c] for c in header))
    staged_bulk = [stage(task, f, f"bulk{i + 1}/{f.name}") for i, f in enumerate(bulk)]
    staged_sc = [stage(task, f, f"sc{i + 1}/{f.name}") for i, f in enumerate(sc)]
    return " ".join(shlex.quote(line) for line in lines), staged_bulk, staged_sc


def _meta() -> dict:
    return {"id": DATASET}


def run_simulate(chain: Chain, task: Path) -> None:
    chain.execute("PBF_SIMULATE", {"seed": 42, "params": {"seed": 42}}, task)


def _sim(chain: Chain) -> Path:
    return chain.done["PBF_SIMULATE"] / "simulated"


def run_qc(chain: Chain, task: Path) -> None:
    lines, bulk, sc = dataset_inputs(_sim(chain) / "samplesheet.csv", task)
    env = {
        "meta": _meta(),
        "samplesheet": lines,
        "bulk": bulk,
        "singlecell": sc,
        "gene_annotation": [],
        "params": {"seed": 42},
    }
    chain.execute("PBF_QC", env, task)


def run_pseudobulk(chain: Chain, task: Path) -> None:
    lines, bulk, sc = dataset_inputs(_sim(chain) / "samplesheet.csv", task)
    qc = chain.done["PBF_QC"] / DATASET
    env = {
        "meta": _meta(),
        "samplesheet": lines,
        "bulk": bulk,
        "singlecell": sc,
        "cell_qc": stage(task, qc / "cell_qc.tsv.gz", "cell_qc.tsv.gz"),
        "bulk_qc": stage(task, qc / "bulk_qc.tsv", "bulk_qc.tsv"),
        "gene_annotation": [],
        "proportions": stage(task, _sim(chain) / "proportions.tsv", "proportions.tsv"),
        "params": {"seed": 42},
    }
    chain.execute("PBF_PSEUDOBULK", env, task)


def _profiles(chain: Chain, task: Path) -> str:
    return stage(task, chain.done["PBF_PSEUDOBULK"] / DATASET / "profiles.h5ad", "profiles.h5ad")


def run_profiles_stage(process: str, extra: dict | None = None):
    def run(chain: Chain, task: Path) -> None:
        env = {"meta": _meta(), "profiles": _profiles(chain, task), "params": {"seed": 42}, **(extra or {})}
        chain.execute(process, env, task)

    return run


def run_enrich(chain: Chain, task: Path) -> None:
    shap = chain.done.get("PBF_DISCRIMINATE", Path("/nonexistent")) / DATASET / "shap_top_genes.tsv"
    shap_all = shap.with_name("shap_genes.tsv")
    env = {
        "meta": _meta(),
        "params": {"seed": 42},
        "de_results": stage(task, chain.done["PBF_METRICS"] / DATASET / "de_results.tsv", "de_results.tsv"),
        "ranked_genes": stage(task, shap, "shap_top_genes.tsv") if shap.exists() else [],
        "shap_genes": stage(task, shap_all, "shap_genes.tsv") if shap_all.exists() else [],
        "profiles": _profiles(chain, task),
        "gene_sets": stage(task, _sim(chain) / "genesets.gmt", "genesets.gmt"),
    }
    chain.execute("PBF_ENRICH", env, task)


def run_deconvolve(chain: Chain, task: Path) -> None:
    pb = chain.done["PBF_PSEUDOBULK"] / DATASET
    de = chain.done.get("PBF_METRICS", Path("/nonexistent")) / DATASET / "de_results.tsv"
    env = {
        "meta": _meta(),
        "params": {"seed": 42},
        "profiles": _profiles(chain, task),
        "celltype_profiles": stage(task, pb / "celltype_profiles.h5ad", "celltype_profiles.h5ad"),
        "de_results": stage(task, de, "de_results.tsv") if de.exists() else [],
        "proportions": stage(task, _sim(chain) / "proportions.tsv", "proportions.tsv"),
    }
    chain.execute("PBF_DECONVOLVE", env, task)


REPORT_INPUTS = {
    "qc": "PBF_QC",
    "pseudobulk": "PBF_PSEUDOBULK",
    "metrics": "PBF_METRICS",
    "discriminate": "PBF_DISCRIMINATE",
    "calibrate": "PBF_CALIBRATE",
    "deconvolve": "PBF_DECONVOLVE",
    "enrich": "PBF_ENRICH",
    "ssl": "PBF_SSL",
}


def run_report(chain: Chain, task: Path) -> None:
    env: dict = {"params": {"seed": 42}}
    for name, process in REPORT_INPUTS.items():  # path x, stageAs: 'results/<stage>/*'
        env[name] = (
            [stage(task, chain.done[process] / DATASET, f"results/{name}/{DATASET}")]
            if process in chain.done
            else []
        )
    chain.execute("PBF_REPORT", env, task)


def run_multiqc(chain: Chain, task: Path) -> None:
    report = chain.done["PBF_REPORT"] / "report"
    files = [stage(task, report / "multiqc_inputs", "1/multiqc_inputs")]  # stageAs: '?/*'
    env = {
        "multiqc_files": files,
        "extra_multiqc_config": [],
        "multiqc_config": stage(task, ROOT / "assets" / "multiqc_config.yml", "multiqc_config.yml"),
        "section_order_config": stage(
            task, report / "multiqc_section_order.yml", "multiqc_section_order.yml"
        ),
    }
    chain.execute("MULTIQC", env, task)
    html = (task / "multiqc_report.html").read_text()
    assert "pbfidelity" in html


#: process -> (how to run it, processes it needs, the pbfidelity stage whose CLI it calls)
RUNNERS = {
    "PBF_SIMULATE": (run_simulate, (), "simulate"),
    "PBF_QC": (run_qc, ("PBF_SIMULATE",), "qc"),
    "PBF_PSEUDOBULK": (run_pseudobulk, ("PBF_QC",), "pseudobulk"),
    "PBF_METRICS": (
        run_profiles_stage("PBF_METRICS", {"gene_annotation": []}),
        ("PBF_PSEUDOBULK",),
        "metrics",
    ),
    "PBF_DISCRIMINATE": (run_profiles_stage("PBF_DISCRIMINATE"), ("PBF_PSEUDOBULK",), "discriminate"),
    "PBF_CALIBRATE": (run_profiles_stage("PBF_CALIBRATE"), ("PBF_PSEUDOBULK",), "calibrate"),
    "PBF_DECONVOLVE": (run_deconvolve, ("PBF_PSEUDOBULK",), "deconvolve"),
    "PBF_ENRICH": (run_enrich, ("PBF_METRICS",), "enrich"),
    "PBF_SSL": (run_profiles_stage("PBF_SSL", {"label_column": "phenotype"}), ("PBF_PSEUDOBULK",), "ssl"),
    "PBF_REPORT": (run_report, ("PBF_QC",), "report"),
    "MULTIQC": (run_multiqc, ("PBF_REPORT",), None),
}


def cli_available(stage: str | None) -> bool:
    if stage is None:
        return shutil.which("multiqc", path=str(Path(sys.executable).parent)) is not None
    return (
        importlib.util.find_spec(f"pbfidelity.{stage}") is not None
        and importlib.util.find_spec(f"pbfidelity.{stage}.cli") is not None
    )


def test_every_module_has_a_runner(modules):
    assert set(modules) == set(RUNNERS) == set(ORDER)


@pytest.mark.slow
def test_modules_run_against_the_cli(modules, tmp_path):
    """One chain, in pipeline order: each available stage must run and write its declared outputs."""
    ext_args = nf_render.ext_args_literals(ROOT / "conf" / "test.config")
    chain = Chain(base=tmp_path, modules=modules, ext_args=ext_args)
    failures = []
    for process in ORDER:
        run, needs, stage_name = RUNNERS[process]
        if not cli_available(stage_name):
            chain.status[process] = "not available in this installation"
            continue
        missing = chain.needs(*needs)
        if missing:
            chain.status[process] = f"not run: {missing}"
            continue
        task = chain.task_dir(process)
        t0 = time.perf_counter()
        try:
            run(chain, task)
        except AssertionError as exc:
            chain.status[process] = "FAILED"
            failures.append(str(exc))
            continue
        chain.done[process] = task
        chain.status[process] = f"passed ({time.perf_counter() - t0:.1f} s)"
    summary = "\n".join(f"  {p}: {chain.status[p]}" for p in ORDER)
    print(f"module runs:\n{summary}")
    assert not failures, f"module runs:\n{summary}\n\n" + "\n\n".join(failures)
    assert "PBF_SIMULATE" in chain.done, summary
