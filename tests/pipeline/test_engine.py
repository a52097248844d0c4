"""The real Nextflow engine runs the pipeline, and publishes what ``pbfidelity run`` publishes.

Nextflow comes from Maven Central (tools/nf-runtime/pom.xml, ``make nf-runtime``) and runs through
tools/nf-runtime/nextflow, offline; the plugin-free entry main_offline.nf runs the same RUN_PBFIDELITY workflow as
main.nf. Every run uses ``-profile test`` plus tests/pipeline/engine.config (local executor, 2 cores, 22 GB) with
``pbfidelity`` from this checkout (bin/pbfidelity, the virtualenv's Python first on PATH). Work folders, caches
and NXF_HOME live in pytest's temporary folder.

1. the test profile runs (PBF_SIMULATE and every stage), and its published tables equal those of
   ``pbfidelity run`` on the same simulated input, seed and stage options (the test profile's ext.args);
2. ``-resume`` re-executes no task;
3. two datasets, one with a single donor: metrics/discriminate exit 3 for it (ignored), the other finishes and
   the report is written; in the same run one out-of-memory exit (137, injected into the report stage by the
   CLI's PBF_TEST_FAIL_ONCE hook) is retried with more memory.

Each test appends one summary line to .cache/nf-runtime/engine_tests.log (PBF_ENGINE_LOG), which `make test`
prints after pytest; without the runtime the tests skip and the log says why.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nf_render
import pytest
import yaml

from pbfidelity.simulate import SimulationParams, simulate, write_simulation

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "tools" / "nf-runtime" / "nextflow"
LIB = Path(os.environ.get("NXF_RUNTIME_LIB", ROOT / ".cache" / "nf-runtime" / "lib"))
LOG = Path(os.environ.get("PBF_ENGINE_LOG", ROOT / ".cache" / "nf-runtime" / "engine_tests.log"))
ENTRY = ROOT / "main_offline.nf"
CONFIG = ROOT / "tests" / "pipeline" / "engine.config"
SEED = 42

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.xdist_group("nf_engine")]


def note(text: str) -> None:
    """One line for the CI log: printed, and appended to the summary `make test` shows."""
    line = f"nextflow engine: {text}"
    print(line)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "a") as fh:
        fh.write(line + "\n")


@dataclass
class Run:
    proc: subprocess.CompletedProcess
    outdir: Path
    trace: list[dict[str, str]]
    seconds: float

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def rows(self, process: str) -> list[dict[str, str]]:
        return [r for r in self.trace if r["process"].split(":")[-1] == process]


class Engine:
    """tools/nf-runtime/nextflow in one launch folder (its .nextflow cache and work/ stay in tmp)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.launch = base / "launch"
        self.launch.mkdir(parents=True, exist_ok=True)
        venv_bin = Path(sys.executable).parent
        self.env = {
            **os.environ,
            "NXF_HOME": str(base / "nxf_home"),
            "NXF_RUNTIME_LIB": str(LIB),
            "NXF_ANSI_LOG": "false",
            # bin/pbfidelity (Nextflow puts the project's bin/ on the tasks' PATH) runs on this Python and
            # imports this checkout
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT / "src"),
        }
        self.env.pop(TEST_HOOK, None)

    def version(self) -> str:
        out = subprocess.run(
            [str(LAUNCHER), "-version"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.launch,
        )
        m = re.search(r"version (\S+) build (\d+)", out.stdout)
        assert out.returncode == 0 and m, out.stdout + out.stderr
        return f"{m.group(1)} build {m.group(2)}"

    def run(self, outdir: Path, tag: str, *args: str, env: dict[str, str] | None = None) -> Run:
        cmd = [
            str(LAUNCHER),
            "run",
            str(ENTRY),
            "--offline",
            "-profile",
            "test",
            "-c",
            str(CONFIG),
            "--outdir",
            str(outdir),
            "--trace_report_suffix",
            tag,
            "-ansi-log",
            "false",
            *args,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=900, cwd=self.launch
        )
        seconds = time.perf_counter() - t0
        trace_file = outdir / "pipeline_info" / f"execution_trace_{tag}.txt"
        trace = list(csv.DictReader(trace_file.open(), delimiter="\t")) if trace_file.exists() else []
        return Run(proc, outdir, trace, seconds)


TEST_HOOK = "PBF_TEST_FAIL_ONCE"


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    reason = ""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        reason = "java not found (Java 17+ runs Nextflow)"
    elif not list(LIB.glob("nextflow-*.jar")):
        reason = (
            f"the Nextflow runtime is not resolved in {LIB} (`make nf-runtime`: Maven Central unreachable?)"
        )
    if reason:
        note(f"did not run: {reason}")
        pytest.skip(reason)
    return Engine(tmp_path_factory.mktemp("nf_engine"))


@pytest.fixture(scope="module")
def profile_run(engine) -> Run:
    """The test profile: PBF_SIMULATE, then every stage on the simulated dataset."""
    version = engine.version()
    run = engine.run(engine.base / "results", "first")
    assert run.proc.returncode == 0, run.output[-6000:]
    note(
        f"Nextflow {version} (io.nextflow:nextflow from Maven Central, tools/nf-runtime/pom.xml), entry "
        f"main_offline.nf, -profile test, local executor"
    )
    return run


def all_processes() -> set[str]:
    return {m.process for m in nf_render.discover_modules()}


def test_test_profile_runs_every_process(profile_run):
    run = profile_run
    executed = {r["process"].split(":")[-1] for r in run.trace}
    assert run.trace and all(r["status"] == "COMPLETED" for r in run.trace), run.trace
    # every module of the pipeline ran (the test profile simulates its input, has gene sets and a label column)
    assert executed == all_processes(), f"not run: {sorted(all_processes() - executed)}"
    assert (run.outdir / "multiqc" / "multiqc_report.html").stat().st_size > 10_000
    assert "pbfidelity finished: results in" in run.output  # the completion handler ran (engine bug 2)
    versions = yaml.safe_load((run.outdir / "pipeline_info" / "pbfidelity_software_versions.yml").read_text())
    assert versions["Workflow"]["Nextflow"].startswith("25.")  # collectFile with the version (engine bug 1)
    note(
        f"test profile run: {len(run.trace)} tasks executed, all completed, in {run.seconds:.0f} s "
        f"({', '.join(sorted(executed))})"
    )


# ---------------------------------------------------------------- equivalence with the embedded runner

#: published by Nextflow only: the simulated input (the runner's --input) and Nextflow's own run reports
NEXTFLOW_ONLY = (r"^simulate/", r"^pipeline_info/(execution_(report|timeline|trace)|pipeline_dag)_.*")
#: published by the runner only: its --resume markers and its run log/timings (pipeline_info/); and
#: report/multiqc_config.yml, the packaged MultiQC config the report stage copies when it runs MultiQC itself
#: (checked identical to assets/multiqc_config.yml below; Nextflow's MULTIQC process reads that file directly)
RUNNER_ONLY = (
    r"(^|/)\.pbf_step\.json$",
    r"^pipeline_info/(run_summary\.json|execution_trace\.tsv)$",
    r"^report/multiqc_config\.yml$",
)
#: not compared: they name the engine or hold each engine's own parameters, run times and MultiQC's
#: run details, by design (the report's methods text says "Nextflow" or "the embedded runner"; the parameter
#: table lists each engine's own parameters and is compared on the parameters both have, below)
NOT_COMPARED = (
    r"^multiqc/multiqc_report\.html$",
    r"^multiqc/multiqc_data/(multiqc\.log|multiqc\.parquet|multiqc_data\.json|llms-full\.txt)$",
    r"^multiqc/multiqc_plots/.*/pbf_report_params_plot\.png$",
    r"^report/multiqc_inputs/pbf_report_methods_text_mqc\.yaml$",
)
#: report_summary.json keys about the MultiQC run (pbfidelity.report.cli._run_multiqc) and its folder: only the
#: runner's report stage runs MultiQC (Nextflow: the MULTIQC process); the runner's is checked complete below
RUNNER_REPORT_KEYS = ("multiqc_outdir", "rendered_plots", "missing_in_report", "exported_plots", "screenshot")


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(re.search(p, rel) for p in patterns)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _basenames(value):
    """Paths in a summary become file names: each engine passes its own (staged or absolute) paths."""
    if isinstance(value, dict):
        return {_basenames(k): _basenames(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_basenames(v) for v in value]
    if isinstance(value, str) and "/" in value and not value.startswith(("http://", "https://")):
        return Path(value).name
    return value


def runner_stage_args() -> list[str]:
    """The test profile's ext.args as the runner's --stage-args (PBF_SIMULATE's went into the simulation)."""
    out = []
    for process, args in nf_render.ext_args_literals(ROOT / "conf" / "test.config").items():
        stage = process.removeprefix("PBF_").lower()
        if stage != "simulate" and args:
            out += ["--stage-args", f"{stage}={args}"]
    return out


def compare_outputs(nf: Path, runner: Path) -> dict:
    """Compare the two result folders; returns counts, raises AssertionError with every difference."""
    nf_files, runner_files = _files(nf), _files(runner)
    only_nf = sorted(f for f in nf_files - runner_files if not _matches(f, NEXTFLOW_ONLY))
    only_runner = sorted(f for f in runner_files - nf_files if not _matches(f, RUNNER_ONLY))
    assert not only_nf and not only_runner, f"only Nextflow: {only_nf}; only the runner: {only_runner}"
    common = sorted(f for f in nf_files & runner_files if not _matches(f, NOT_COMPARED))
    differ, identical, normalised = [], 0, []
    for rel in common:
        a, b = nf / rel, runner / rel
        if _sha(a) == _sha(b):
            identical += 1
            continue
        if rel == "pipeline_info/pbfidelity_software_versions.yml":
            va, vb = yaml.safe_load(a.read_text()), yaml.safe_load(b.read_text())
            va.pop("PBF_SIMULATE", None)  # the runner was given the simulated input
            assert va["Workflow"].pop("Nextflow")  # the engine's own version
            same = va == vb
        elif rel == "report/multiqc_inputs/pbf_report_params_table_mqc.yaml":
            pa, pb = (yaml.safe_load(p.read_text())["data"] for p in (a, b))
            shared = (set(pa) & set(pb)) - {"outdir"}
            same = bool(shared) and all(pa[k] == pb[k] for k in shared)
        elif rel.endswith(".json"):
            ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
            if rel == "report/report_summary.json":
                assert jb["missing_in_report"] == [] and jb["exported_plots"] > 0, jb.get("missing_in_report")
                for key in RUNNER_REPORT_KEYS:
                    jb.pop(key, None)
                    ja.pop(key, None)
            same = _basenames(ja) == _basenames(jb)
        else:
            same = False
        if same:
            normalised.append(rel)
        else:
            differ.append(rel)
    assert not differ, f"{len(differ)} of {len(common)} published files differ: {differ}"
    # the copy the runner's report stage made is the packaged MultiQC config that Nextflow's MULTIQC reads
    assert _sha(runner / "report" / "multiqc_config.yml") == _sha(ROOT / "assets" / "multiqc_config.yml")
    tables = [f for f in common if f.endswith((".tsv", ".tsv.gz", ".json"))]
    return {
        "compared": len(common),
        "identical": identical,
        "normalised": normalised,
        "tables": len(tables),
        "excluded": sorted((nf_files | runner_files) - set(common)),
    }


@pytest.fixture(scope="module")
def runner_run(profile_run, tmp_path_factory) -> Path:
    """`pbfidelity run` on the input the test profile simulated, same seed, the test profile's stage options."""
    sim = profile_run.outdir / "simulate" / "simulated"
    out = tmp_path_factory.mktemp("runner") / "results"
    proc = _pbfidelity(
        "run",
        "--input",
        sim / "samplesheet.csv",
        "--outdir",
        out,
        "--seed",
        str(SEED),
        "--gene-sets",
        sim / "genesets.gmt",
        "--proportions",
        sim / "proportions.tsv",
        "--label-column",
        "phenotype",
        "--no-progress",
        "--quiet",
        "--export-plots",
        *runner_stage_args(),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def _pbfidelity(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pbfidelity", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


def test_published_outputs_equal_the_embedded_runner(profile_run, runner_run):
    result = compare_outputs(profile_run.outdir, runner_run)
    assert result["tables"] >= 40  # the comparison covered the stages' tables, not a handful of files
    note(
        f"equivalence with pbfidelity run: {result['compared']} published files compared "
        f"({result['tables']} TSV/JSON tables), all identical: {result['identical']} byte for byte, "
        f"{len(result['normalised'])} after normalising paths/engine fields ({', '.join(result['normalised'])})"
    )
    note(
        f"equivalence: not compared: {len(result['excluded'])} engine-specific files "
        f"(simulated input, pipeline_info run logs, runner resume markers, MultiQC html/data/params plot, "
        f"methods text)"
    )


def test_comparison_catches_a_changed_table(profile_run, runner_run, tmp_path):
    """Negative control: one number changed in one published table, and the comparison names that file."""
    changed = tmp_path / "changed"
    shutil.copytree(runner_run, changed)
    table = changed / "metrics" / "sim" / "correlation_summary.tsv"
    text = table.read_text()
    digit = re.search(r"\t(\d)", text)
    assert digit
    table.write_text(text[: digit.start(1)] + str((int(digit.group(1)) + 1) % 10) + text[digit.end(1) :])
    with pytest.raises(AssertionError, match="metrics/sim/correlation_summary.tsv"):
        compare_outputs(profile_run.outdir, changed)


def test_another_seed_changes_the_tables(profile_run, tmp_path):
    """Negative control: with another seed the runner's pseudo-bulk tables differ from the pipeline's."""
    nf = profile_run.outdir
    sim = nf / "simulate" / "simulated"
    out = tmp_path / "seed7"
    proc = _pbfidelity(
        "run",
        "--input",
        sim / "samplesheet.csv",
        "--outdir",
        out,
        "--seed",
        "7",
        "--proportions",
        sim / "proportions.tsv",
        "--no-progress",
        "--quiet",
        "--skip-stages",
        "metrics",
        "discriminate",
        "calibrate",
        "deconvolve",
        "enrich",
        "ssl",
        "report",
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    tables = [f for f in _files(nf / "pseudobulk") if f.endswith((".tsv", ".h5ad"))]
    assert tables and any(_sha(out / "pseudobulk" / f) != _sha(nf / "pseudobulk" / f) for f in tables)


# ---------------------------------------------------------------- resume and retry


def test_resume_reexecutes_no_task(engine, profile_run):
    run = engine.run(profile_run.outdir, "resume", "-resume")
    assert run.proc.returncode == 0, run.output[-6000:]
    status = [r["status"] for r in run.trace]
    assert len(status) == len(profile_run.trace), (len(status), len(profile_run.trace))
    assert set(status) == {"CACHED"}, run.trace
    assert "Submitted process" not in run.output
    note(
        f"-resume: {status.count('CACHED')} of {len(status)} tasks cached, 0 re-executed ({run.seconds:.0f} s)"
    )


# ---------------------------------------------------------------- a dataset with a single donor


@pytest.fixture(scope="module")
def two_datasets_run(engine, tmp_path_factory) -> Run:
    """Two datasets, 'sim' (3 donors) and 'solo' (one of its samples: one donor), no gene sets or labels; the
    report stage's first attempt exits 137 (PBF_TEST_FAIL_ONCE), as the kernel's OOM killer would make it."""
    base = tmp_path_factory.mktemp("two_datasets")
    data = base / "input"
    write_simulation(
        simulate(SimulationParams(n_donors=3, n_cell_types=3, cells_per_sample=40, n_genes=300, seed=SEED)),
        data,
    )
    lines = (data / "samplesheet.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    assert header.startswith("dataset,") and all(r.startswith("sim,") for r in rows)
    solo = rows[0].replace("sim,", "solo,", 1)
    (data / "two.csv").write_text("\n".join([header, *rows, solo]) + "\n")
    marker = base / "report_failed_once"
    run = engine.run(
        base / "results",
        "two",
        "--simulate",
        "false",
        "--input",
        str(data / "two.csv"),
        "--label_column",
        "false",
        env={TEST_HOOK: f"report:137:{marker}"},
    )
    assert run.proc.returncode == 0, run.output[-6000:]
    assert marker.exists()
    return run


def test_out_of_memory_exit_is_retried_with_more_memory(engine, two_datasets_run):
    """errorStrategy retries an exit 137 with twice the memory (conf/base.config), and the run succeeds."""
    run = two_datasets_run
    attempts = sorted(run.rows("PBF_REPORT"), key=lambda r: int(r["attempt"]))
    assert [(r["attempt"], r["status"], r["exit"]) for r in attempts] == [
        ("1", "FAILED", "137"),
        ("2", "COMPLETED", "0"),
    ], attempts
    mem = [r["memory"] for r in attempts]
    assert mem == ["6 GB", "12 GB"], mem
    # the first attempt's stderr is the hook's line: the failure was the injected one
    assert "exiting with status 137 once" in _task_err(engine, attempts[0]["hash"])
    assert [r["status"] for r in run.rows("MULTIQC")] == ["COMPLETED"]
    assert (run.outdir / "multiqc" / "multiqc_report.html").exists()
    note(
        f"retry: PBF_REPORT exit 137 on attempt 1 (memory {mem[0]}) -> attempt 2 completed (memory {mem[1]}); "
        f"run succeeded, report written"
    )


def _task_err(engine: Engine, short_hash: str) -> str:
    """stderr of the task whose trace hash is ``ab/cdef12``."""
    prefix, rest = short_hash.split("/")
    return "".join(
        p.read_text(errors="replace") for p in (engine.launch / "work" / prefix).glob(f"{rest}*/.command.err")
    )


def test_single_donor_dataset_is_skipped_and_the_other_finishes(two_datasets_run):
    run = two_datasets_run
    failed = [r for r in run.trace if r["status"] != "COMPLETED" and r["exit"] != "137"]
    assert failed, "the single-donor dataset should stop metrics/discriminate with exit 3"
    assert all(r["exit"] == "3" and r["tag"] == "solo" for r in failed), failed
    skipped = sorted(r["process"].split(":")[-1] for r in failed)
    assert {"PBF_METRICS", "PBF_DISCRIMINATE"} <= set(skipped)
    for process in ("PBF_QC", "PBF_PSEUDOBULK", "PBF_METRICS", "PBF_DISCRIMINATE", "PBF_CALIBRATE"):
        assert [r["status"] for r in run.rows(process) if r["tag"] == "sim"] == ["COMPLETED"], process
    out = run.outdir
    assert (out / "metrics" / "sim" / "metrics_summary.json").exists()
    assert not (out / "metrics" / "solo").exists()
    report = json.loads((out / "report" / "report_summary.json").read_text())
    assert "sim" in json.dumps(report)
    assert (out / "multiqc" / "multiqc_report.html").stat().st_size > 10_000
    note(
        f"two datasets: 'solo' (one donor) stopped by {', '.join(skipped)} with exit 3 (ignored); 'sim' "
        f"finished; report written ({len(run.trace)} tasks, {run.seconds:.0f} s)"
    )
