"""Run the whole job locally, without Nextflow: every stage of ``workflows/pbfidelity.nf``, same DAG.

For each step the runner builds the exact command line that the Nextflow module runs (``pbfidelity <stage> ...``)
and runs it in its own forked process, as Nextflow runs a task: the step's memory goes back to the system when
it ends, and ``pipeline_info/execution_trace.tsv`` records its wall and CPU seconds and peak RSS. Steps whose
inputs are ready run side by side up to ``--max-parallel`` (sharing ``--threads``). Outputs are published in
the pipeline's layout: ``<outdir>/<stage>/<dataset>/...``, ``<outdir>/multiqc/``, ``<outdir>/pipeline_info/``.
A dataset on which a stage cannot run (e.g. a single donor) is reported and skipped; the others go on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pbfidelity import __version__
from pbfidelity.cli import stage_available
from pbfidelity.errors import StageSkipped, UserError
from pbfidelity.io.samplesheet import SampleRow, datasets, read_samplesheet
from pbfidelity.parallel import positive_int

log = logging.getLogger("pbfidelity.runner")


@dataclass
class RunContext:
    """Everything the step builders need: parsed arguments and the validated samplesheet."""

    args: argparse.Namespace
    rows: list[SampleRow]
    outdir: Path
    skipped: dict[str, str] = field(default_factory=dict)  # dataset -> reason
    threads: int = 1  # --threads of each step: the run's threads shared by the steps that run side by side

    @property
    def datasets(self) -> list[str]:
        return [d for d in datasets(self.rows) if d not in self.skipped]

    def stage_dir(self, stage: str, dataset: str | None = None) -> Path:
        return self.outdir / stage if dataset is None else self.outdir / stage / dataset

    def common(self) -> list[str]:
        out = ["--seed", str(self.args.seed)]
        if self.args.gene_annotation:
            out += ["--gene-annotation", str(self.args.gene_annotation)]
        return out


Builder = Callable[[RunContext, str], "list[str] | None"]

#: run options forwarded to stages: (flag of run and of the stages, pipeline parameter, stages). The
#: pipeline passes them through each process's ext.args (conf/modules.config); tests/pipeline checks both.
FORWARDED: list[tuple[str, str, tuple[str, ...]]] = [
    ("--layer", "layer", ("qc", "pseudobulk")),
    ("--sc-sample-key", "sc_sample_key", ("qc", "pseudobulk")),
    ("--celltype-key", "celltype_key", ("pseudobulk",)),
    ("--round-bulk-counts", "round_bulk_counts", ("qc", "pseudobulk")),
    ("--exclude-genes", "exclude_genes", ("pseudobulk",)),
    ("--exclude-gene-classes", "exclude_gene_classes", ("pseudobulk",)),
]


def forwarded(ctx: RunContext, stage: str) -> list[str]:
    """The :data:`FORWARDED` options the user gave to ``run``, as flags of ``stage``."""
    out: list[str] = []
    for flag, dest, stages in FORWARDED:
        value = getattr(ctx.args, dest, None)
        if stage not in stages or value is None or value is False:
            continue
        out += [flag] if value is True else [flag, str(value)]
    return out


def _qc(ctx: RunContext, ds: str) -> list[str]:
    return ["qc", "--input", str(ctx.args.input), "--dataset", ds, "--outdir", str(ctx.stage_dir("qc", ds)),
            *ctx.common(), *forwarded(ctx, "qc")]


def _pseudobulk(ctx: RunContext, ds: str) -> list[str]:
    qc = ctx.stage_dir("qc", ds)
    argv = ["pseudobulk", "--input", str(ctx.args.input), "--dataset", ds,
            "--cell-qc", str(qc / "cell_qc.tsv.gz"), "--bulk-qc", str(qc / "bulk_qc.tsv"),
            "--outdir", str(ctx.stage_dir("pseudobulk", ds)), *ctx.common()]
    if ctx.args.proportions:
        argv += ["--proportions", str(ctx.args.proportions)]
    if getattr(ctx.args, "pseudo_replicates", 0):
        argv += ["--n-replicates", str(ctx.args.pseudo_replicates)]
    return argv + forwarded(ctx, "pseudobulk")


def _profiles(ctx: RunContext, ds: str) -> Path:
    return ctx.stage_dir("pseudobulk", ds) / "profiles.h5ad"


def _metrics(ctx: RunContext, ds: str) -> list[str]:
    argv = ["metrics", "--profiles", str(_profiles(ctx, ds)), "--outdir", str(ctx.stage_dir("metrics", ds)),
            *ctx.common()]
    control = ctx.stage_dir("pseudobulk", ds) / "negative_control.h5ad"
    if control.exists():  # written unless no pair had enough cells for two halves
        argv += ["--negative-control", str(control)]
    return argv + _threads(ctx)


def _threads(ctx: RunContext) -> list[str]:
    """``--threads`` for the stages that use it (Nextflow passes ``task.cpus``)."""
    return ["--threads", str(ctx.threads)]


def _discriminate(ctx: RunContext, ds: str) -> list[str]:
    return ["discriminate", "--profiles", str(_profiles(ctx, ds)),
            "--outdir", str(ctx.stage_dir("discriminate", ds)), "--seed", str(ctx.args.seed), *_threads(ctx)]


def _calibrate(ctx: RunContext, ds: str) -> list[str]:
    return ["calibrate", "--profiles", str(_profiles(ctx, ds)),
            "--outdir", str(ctx.stage_dir("calibrate", ds)), "--seed", str(ctx.args.seed), *_threads(ctx)]


def _deconvolve(ctx: RunContext, ds: str) -> list[str]:
    pb = ctx.stage_dir("pseudobulk", ds)
    argv = ["deconvolve", "--profiles", str(_profiles(ctx, ds)),
            "--celltype-profiles", str(pb / "celltype_profiles.h5ad"),
            "--outdir", str(ctx.stage_dir("deconvolve", ds)), "--seed", str(ctx.args.seed)]
    de = ctx.stage_dir("metrics", ds) / "de_results.tsv"
    if de.exists():  # written unless the metrics stage skipped this dataset
        argv += ["--de", str(de)]
    if ctx.args.proportions and str(ctx.args.proportions) != "estimate":  # known proportions: the truth
        argv += ["--proportions", str(ctx.args.proportions)]
    return argv


def _enrich(ctx: RunContext, ds: str) -> list[str] | None:
    if not ctx.args.gene_sets:
        return None
    argv = ["enrich", "--de", str(ctx.stage_dir("metrics", ds) / "de_results.tsv"), "--dataset", ds,
            "--gene-sets", str(ctx.args.gene_sets), "--outdir", str(ctx.stage_dir("enrich", ds)),
            "--profiles", str(_profiles(ctx, ds)), "--seed", str(ctx.args.seed)]
    shap = ctx.stage_dir("discriminate", ds) / "shap_top_genes.tsv"
    if shap.exists():
        argv += ["--ranked-genes", str(shap)]
    shap_all = ctx.stage_dir("discriminate", ds) / "shap_genes.tsv"
    if shap_all.exists():
        argv += ["--shap-genes", str(shap_all)]
    return argv + _threads(ctx)


def _ssl(ctx: RunContext, ds: str) -> list[str] | None:
    if not ctx.args.label_column:
        return None
    return ["ssl", "--profiles", str(_profiles(ctx, ds)), "--label-column", ctx.args.label_column,
            "--outdir", str(ctx.stage_dir("ssl", ds)), "--seed", str(ctx.args.seed), *_threads(ctx)]


def _report(ctx: RunContext, ds: str) -> list[str]:
    argv = ["report", "--results", str(ctx.outdir), "--outdir", str(ctx.stage_dir("report")),
            "--multiqc-outdir", str(ctx.outdir / "multiqc")]
    if getattr(ctx.args, "export_plots", False):
        argv.append("--export-plots")
    # the run's parameters for the report's params summary (run_summary.json is written after the report)
    for key, value in sorted(vars(ctx.args).items()):
        if key.startswith("_") or key in ("command", "debug", "quiet", "no_progress", "in_process"):
            continue
        if value is None or value is False or (isinstance(value, (list, str)) and not value):
            continue
        argv += ["--param", f"{key}={' '.join(map(str, value)) if isinstance(value, list) else value}"]
    for ds_skipped, reason in ctx.skipped.items():
        argv += ["--param", f"skipped dataset {ds_skipped}={reason}"]
    return argv


#: (stage, builder, per_dataset, why a None from the builder is fine) in ``workflows/pbfidelity.nf`` order
STEPS: list[tuple[str, Builder, bool, str]] = [
    ("qc", _qc, True, ""),
    ("pseudobulk", _pseudobulk, True, ""),
    ("metrics", _metrics, True, ""),
    ("discriminate", _discriminate, True, ""),
    ("calibrate", _calibrate, True, ""),
    ("deconvolve", _deconvolve, True, ""),
    ("enrich", _enrich, True, "no --gene-sets given"),
    ("ssl", _ssl, True, "no --label-column given"),
    ("report", _report, False, ""),
]


STEP_MARKER = ".pbf_step.json"
_NOT_INPUT_FLAGS = {"--outdir", "--multiqc-outdir", "--results"}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def step_inputs(ctx: RunContext, argv: list[str], dataset: str | None) -> dict[str, str]:
    """Checksums of every input file of a step: argv paths, and for ``--input`` the bulk and single-cell
    files of the step's dataset (each file once)."""
    files: set[Path] = set()
    rows = datasets(ctx.rows).get(dataset, ctx.rows) if dataset else ctx.rows
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag in _NOT_INPUT_FLAGS or not flag.startswith("--"):
            continue
        p = Path(value)
        if p.exists():
            files.update(_files_under(p))
            if flag == "--input":
                for r in rows:
                    files.update(_files_under(r.bulk) + _files_under(r.singlecell))
    return {str(f): _sha256(f) for f in sorted(files)}


def step_outputs(outdir: Path) -> dict[str, str]:
    return {str(p.relative_to(outdir)): _sha256(p) for p in _files_under(outdir)
            if not any(part.startswith(".") for part in p.relative_to(outdir).parts)}


def _outdir_of(argv: list[str]) -> Path:
    return Path(argv[argv.index("--outdir") + 1])


def is_cached(argv: list[str], inputs: dict[str, str]) -> bool:
    """True when a previous run of exactly this step left a marker and nothing it read or wrote changed."""
    marker = _outdir_of(argv) / STEP_MARKER
    if not marker.exists():
        return False
    try:
        done = json.loads(marker.read_text())
    except (json.JSONDecodeError, OSError):
        return False
    return (done.get("argv") == argv and done.get("inputs") == inputs
            and done.get("outputs") == step_outputs(_outdir_of(argv)) and bool(done.get("outputs")))


def mark_done(argv: list[str], inputs: dict[str, str]) -> None:
    outdir = _outdir_of(argv)
    record = {"argv": argv, "inputs": inputs, "outputs": step_outputs(outdir)}
    tmp = outdir / f"{STEP_MARKER}.tmp"
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    tmp.replace(outdir / STEP_MARKER)


def _collate_versions(outdir: Path) -> Path:
    merged: dict = {"Workflow": {"pbfidelity": __version__}}
    for path in sorted(outdir.rglob("versions.yml")):
        if "pipeline_info" in path.parts:
            continue
        for process, tools in (yaml.safe_load(path.read_text()) or {}).items():
            merged.setdefault(process, {}).update(tools)
    info = outdir / "pipeline_info"
    info.mkdir(parents=True, exist_ok=True)
    target = info / "pbfidelity_software_versions.yml"
    target.write_text(yaml.safe_dump(merged, sort_keys=True))
    return target


def stage_args(values: list[str] | None) -> dict[str, list[str]]:
    """``--stage-args STAGE=ARGS`` (repeatable) -> extra options per stage, split as a shell would: the
    runner's counterpart of a Nextflow module's ``ext.args`` (e.g. the test profile's)."""
    names = {s for s, *_ in STEPS}
    out: dict[str, list[str]] = {}
    for value in values or []:
        stage, sep, text = value.partition("=")
        if not sep or stage.strip() not in names:
            raise UserError(f"--stage-args {value!r}: expected STAGE=ARGS with STAGE one of {sorted(names)}")
        try:
            out.setdefault(stage.strip(), []).extend(shlex.split(text))
        except ValueError as exc:
            raise UserError(f"--stage-args {value!r}: {exc}") from exc
    return out


#: what each stage reads from other stages of its dataset (``workflows/pbfidelity.nf``); report reads all
DEPENDS: dict[str, tuple[str, ...]] = {
    "qc": (),
    "pseudobulk": ("qc",),
    "metrics": ("pseudobulk",),
    "discriminate": ("pseudobulk",),
    "calibrate": ("pseudobulk",),
    "deconvolve": ("pseudobulk", "metrics"),
    "enrich": ("metrics", "discriminate"),
    "ssl": ("pseudobulk",),
}


@dataclass
class _Step:
    stage: str
    dataset: str | None
    deps: list[int]
    record: dict | None = None  # the run_summary.json entry, once decided
    trace: tuple | None = None


@dataclass
class _Running:
    index: int
    argv: list[str]
    inputs: dict[str, str]
    t0: float
    pid: int
    result_fd: int  # the step's messages: its log records as they happen, then its outcome
    buf: bytes = b""
    outcome: dict = field(default_factory=dict)
    eof: bool = False


def plan_steps(stages: list[str], names: list[str]) -> list[_Step]:
    """Steps in pipeline order with the indices of the steps each waits for."""
    steps: list[_Step] = []
    where: dict[tuple[str, str | None], int] = {}
    for stage in stages:
        per_dataset = stage != "report"
        for ds in names if per_dataset else [None]:
            deps = ([where[(d, ds)] for d in DEPENDS.get(stage, ()) if (d, ds) in where] if per_dataset
                    else list(range(len(steps))))
            where[(stage, ds)] = len(steps)
            steps.append(_Step(stage, ds, deps))
    return steps


def _send(fd: int, message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


class _RelayHandler(logging.Handler):
    """In a step process: hand each log record to the parent, which logs it through its own handlers (its
    stderr, a caller's handlers, pytest's caplog), so a step's warnings reach whoever ran the pipeline."""

    pbf_relay = True

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        exc_text = logging.Formatter().formatException(record.exc_info) if record.exc_info else record.exc_text
        _send(self.fd, {"log": {"name": record.name, "levelno": record.levelno, "msg": record.getMessage(),
                                "exc_text": exc_text}})

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - the parent is gone: drop it
        pass


def _relay(r: _Running) -> None:
    """Read what a step process has sent so far (blocks only when nothing is there); re-log its records."""
    data = os.read(r.result_fd, 1 << 16)
    if not data:
        r.eof = True
        return
    *lines, r.buf = (r.buf + data).split(b"\n")
    for line in lines:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "log" in message:
            rec = message["log"]
            logging.getLogger(rec["name"]).handle(logging.makeLogRecord({
                "name": rec["name"], "levelno": rec["levelno"], "levelname": logging.getLevelName(rec["levelno"]),
                "msg": rec["msg"], "args": None, "exc_text": rec.get("exc_text")}))
        elif "outcome" in message:
            r.outcome = message["outcome"]


def _child(argv: list[str], write_fd: int) -> None:
    """In the forked step process: run one stage command with its log records relayed to the parent, send the
    outcome, exit."""
    import signal
    import sys
    import traceback

    from pbfidelity.cli import dispatch

    # a terminated step (another step failed, or Ctrl-C) unwinds, so atomic outputs clean up after themselves
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logger = logging.getLogger("pbfidelity")
    logger.handlers = [_RelayHandler(write_fd)]
    logger.propagate = False  # the parent's copy of each record propagates there, once
    code, outcome = 0, {"status": "done"}
    try:
        dispatch(argv)
    except StageSkipped as exc:
        code, outcome = 3, {"status": "skipped", "reason": str(exc)}
    except UserError as exc:
        code, outcome = 2, {"status": "error", "message": str(exc)}
    except (KeyboardInterrupt, SystemExit) as exc:
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 130
        outcome = {"status": "interrupted", "message": f"exit {code}"}
    except BaseException as exc:  # noqa: BLE001 - reported by the parent as an internal error
        traceback.print_exc()
        code, outcome = 1, {"status": "internal", "message": f"{type(exc).__name__}: {exc}"[:4000]}
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            _send(write_fd, {"outcome": outcome})
        except OSError:
            pass
        finally:
            os._exit(code)


def _start(argv: list[str]) -> tuple[int, int]:
    """Fork a step process running ``argv``; returns (pid, read end of its message pipe)."""
    import sys

    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the step process
        os.close(read_fd)
        _child(argv, write_fd)
    os.close(write_fd)
    return pid, read_fd


def _stop(running: dict[int, _Running]) -> None:
    """Terminate step processes (each cleans up its partial outputs) and wait for them."""
    for r in running.values():
        os.close(r.result_fd)  # a step blocked on a full pipe gets EPIPE instead of waiting for us
        try:
            os.kill(r.pid, 15)
        except ProcessLookupError:
            pass
    for r in running.values():
        os.waitpid(r.pid, 0)
    running.clear()


def run_pipeline(args: argparse.Namespace) -> dict:
    """Validate the samplesheet, run every available stage (each step in its own process, independent steps
    side by side up to ``--max-parallel``), return the run summary."""
    import anndata  # noqa: F401 - imported once here, shared by every forked step process
    import tqdm as tqdm_module
    from tqdm import tqdm

    from pbfidelity.io.preflight import check_run_options

    rows = read_samplesheet(args.input, allow_parent_paths=not args.no_parent_paths)
    check_run_options(rows, label_column=args.label_column, sample_key=getattr(args, "sc_sample_key", None),
                      celltype_key=getattr(args, "celltype_key", None), layer=getattr(args, "layer", None),
                      proportions=bool(args.proportions))
    outdir = Path(args.outdir)
    ctx = RunContext(args=args, rows=rows, outdir=outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    notes: list[dict] = []
    skip = set(args.skip_stages or [])
    unknown = skip - {s for s, *_ in STEPS}
    if unknown:
        raise UserError(f"--skip-stages: unknown stage(s) {sorted(unknown)}; stages: {[s for s, *_ in STEPS]}")
    stages: list[str] = []
    for stage, *_ in STEPS:
        if stage in skip:
            notes.append({"stage": stage, "status": "not run", "reason": "--skip-stages"})
            log.warning("stage %s: not run (--skip-stages)", stage)
        elif not stage_available(stage):
            notes.append({"stage": stage, "status": "not available in this version"})
            log.warning("stage %s: not available in this version of pbfidelity; skipped", stage)
        else:
            stages.append(stage)
    steps = plan_steps(stages, list(datasets(rows)))
    builders = {s: (b, why) for s, b, _p, why in STEPS}
    extra = stage_args(getattr(args, "stage_args", None))
    inline = getattr(args, "in_process", False) or not hasattr(os, "fork")
    threads = max(1, getattr(args, "threads", 1) or 1)
    parallel = 1 if inline else max(1, min(getattr(args, "max_parallel", 1) or 1, threads))
    ctx.threads = max(1, threads // parallel)  # fixed per run: commands (and run_summary.json) do not vary
    summary: dict = {"pbfidelity": __version__, "input": str(args.input), "outdir": str(outdir), "steps": notes}
    tqdm_module.tqdm.monitor_interval = 0  # no monitor thread in a process that forks
    bar = tqdm(total=len(steps), desc="pbfidelity", unit="step", disable=args.no_progress)
    running: dict[int, _Running] = {}
    try:
        while any(st.record is None for st in steps):
            for i, st in enumerate(steps):
                if len(running) >= parallel:
                    break
                if st.record is not None or i in {r.index for r in running.values()}:
                    continue
                if any(steps[d].record is None for d in st.deps):
                    continue
                launched = _launch(ctx, st, i, builders, extra, inline)
                if isinstance(launched, _Running):
                    running[launched.pid] = launched
                    bar.set_postfix_str(f"{st.stage}{'' if st.dataset is None else ' ' + st.dataset}")
                else:
                    bar.update(1)
            if running:
                _reap(ctx, steps, running, wait=len(running) >= parallel or not _ready(steps, running))
                bar.update(sum(1 for st in steps if st.record is not None) - bar.n)
    except BaseException:
        _stop(running)  # the other steps
        raise
    finally:
        bar.close()
    summary["steps"] += [st.record for st in steps if st.record]
    _collate_versions(outdir)
    info = outdir / "pipeline_info"
    (info / "run_summary.json").write_text(json.dumps(summary, indent=2))
    # timings vary run to run: kept apart (like Nextflow's trace) so run_summary.json is reproducible
    header = "stage\tdataset\tseconds\tcpu_seconds\tpeak_rss_mb\tthreads\n"
    (info / "execution_trace.tsv").write_text(
        header + "".join("\t".join(map(str, st.trace)) + "\n" for st in steps if st.trace))
    return summary


def _ready(steps: list[_Step], running: dict[int, _Running]) -> bool:
    busy = {r.index for r in running.values()}
    return any(st.record is None and i not in busy and all(steps[d].record is not None for d in st.deps)
               for i, st in enumerate(steps))


def _launch(ctx: RunContext, st: _Step, index: int, builders: dict, extra: dict, inline: bool):
    """Decide a step that needs no process (not run, cached, dataset skipped), or start it."""
    from pbfidelity.memory import release

    stage, ds = st.stage, st.dataset
    if ds is not None and ds in ctx.skipped:
        st.record = {"stage": stage, "dataset": ds, "status": "skipped",
                     "reason": f"dataset skipped earlier: {ctx.skipped[ds]}"}
        return None
    builder, why_none = builders[stage]
    argv = builder(ctx, ds or "")
    if argv is None:
        log.info("stage %s%s: not run (%s)", stage, "" if ds is None else f" [{ds}]", why_none)
        st.record = {"stage": stage, "dataset": ds, "status": "not run", "reason": why_none}
        return None
    argv += extra.get(stage, [])
    inputs = step_inputs(ctx, argv, ds) if stage != "report" else {}  # hashed once, before the step
    if ctx.args.resume and stage != "report" and is_cached(argv, inputs):
        log.info("stage %s%s: unchanged since the last run; skipped (--resume)", stage,
                 "" if ds is None else f" [{ds}]")
        st.record = {"stage": stage, "dataset": ds, "status": "cached"}
        return None
    cmd = [*argv, "--quiet"] if ctx.args.quiet else argv
    t0 = time.perf_counter()
    if not inline:
        pid, fd = _start(cmd)
        return _Running(index, argv, inputs, t0, pid, fd)
    import resource

    from pbfidelity.cli import dispatch

    before = resource.getrusage(resource.RUSAGE_SELF)
    outcome: dict = {"status": "done"}
    try:
        dispatch(cmd)
    except StageSkipped as exc:
        outcome = {"status": "skipped", "reason": str(exc)}
    except UserError as exc:
        raise UserError(f"stage {stage}{'' if ds is None else f' [{ds}]'}: {exc}") from exc
    finally:
        release()  # one process runs every step: hand freed memory back before the next
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    _finish(ctx, st, argv, inputs, outcome, time.perf_counter() - t0, cpu, after.ru_maxrss / 1024)
    return None


def _reap(ctx: RunContext, steps: list[_Step], running: dict[int, _Running], wait: bool) -> None:
    """Relay the step processes' log records; collect finished ones (block for one when ``wait``)."""
    import select

    while True:
        listening = {r.result_fd: r for r in running.values() if not r.eof}
        if listening:
            ready, _, _ = select.select(list(listening), [], [], 0.05 if wait else 0)
            for fd in ready:
                _relay(listening[fd])
        elif wait:
            time.sleep(0.05)
        finished = []
        for pid in list(running):
            got, status, ru = os.wait4(pid, os.WNOHANG)
            if got:
                r = running.pop(pid)
                while not r.eof:
                    _relay(r)
                os.close(r.result_fd)
                finished.append((r, status, ru))
        if finished or not wait:
            break
    for r, status, ru in finished:
        st = steps[r.index]
        where = f"stage {st.stage}{'' if st.dataset is None else f' [{st.dataset}]'}"
        outcome = r.outcome
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            hint = " (out of memory?)" if sig == 9 else ""
            raise UserError(f"{where}: the step process was killed by signal {sig}{hint}")
        code = os.WEXITSTATUS(status)
        if outcome.get("status") == "error":
            raise UserError(f"{where}: {outcome.get('message', '')}")
        if outcome.get("status") == "interrupted" or code == 130:
            raise KeyboardInterrupt
        if outcome.get("status") not in ("done", "skipped"):
            raise RuntimeError(f"{where} failed (exit {code}): {outcome.get('message', 'no result')}")
        _finish(ctx, st, r.argv, r.inputs, outcome, time.perf_counter() - r.t0, ru.ru_utime + ru.ru_stime,
                ru.ru_maxrss / 1024)


def _finish(ctx: RunContext, st: _Step, argv: list[str], inputs: dict[str, str], outcome: dict,
            seconds: float, cpu: float, rss_mb: float) -> None:
    stage, ds = st.stage, st.dataset
    if outcome["status"] == "skipped":
        log.warning("stage %s [%s]: skipped: %s", stage, ds, outcome["reason"])
        if stage in ("qc", "pseudobulk") and ds is not None:
            ctx.skipped[ds] = outcome["reason"]
        st.record = {"stage": stage, "dataset": ds, "status": "skipped", "reason": outcome["reason"]}
        return
    if stage != "report":
        mark_done(argv, inputs)
    st.record = {"stage": stage, "dataset": ds, "status": "done", "command": ["pbfidelity", *argv]}
    st.trace = (stage, ds or "", f"{seconds:.2f}", f"{cpu:.2f}", f"{rss_mb:.0f}", ctx.threads)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, type=Path, help="samplesheet CSV/TSV (see README)")
    p.add_argument("--outdir", required=True, type=Path, help="results folder (<outdir>/<stage>/<dataset>/...)")
    p.add_argument("--seed", type=int, default=42, help="seed for every random step")
    p.add_argument("--gene-annotation", type=Path, help="gene annotation TSV (ENSEMBL, SYMBOL, GENETYPE, CHR)")
    p.add_argument("--gene-sets", type=Path, help="GMT file of gene sets for the enrich stage")
    p.add_argument("--proportions", type=Path,
                   help="TSV of target cell-type proportions per sample for proportion-matched pseudo-bulk (also "
                        "the truth of the deconvolve stage), or 'estimate': targets deconvolved from each bulk "
                        "sample with a leave-donor-out single-cell reference")
    p.add_argument("--pseudo-replicates", type=int, default=0,
                   help="bootstrap pseudo-bulk replicates per sample (kept in their donor's fold downstream)")
    p.add_argument("--label-column", help="samplesheet column with the phenotype label for the ssl stage")
    p.add_argument("--no-parent-paths", action="store_true",
                   help="refuse samplesheet paths that leave the samplesheet's folder")
    p.add_argument("--resume", action="store_true",
                   help="skip steps whose inputs (checksums), command and outputs are unchanged since the last run")
    p.add_argument("--skip-stages", nargs="+", metavar="STAGE", help="stages not to run (reported as not run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--export-plots", action="store_true",
                   help="static PNG copies of the report's plots in multiqc/multiqc_plots/ (Nextflow: "
                        "--multiqc_export_plots)")
    p.add_argument("--threads", type=positive_int, default=int(os.environ.get("PBF_THREADS", "1")),
                   help="threads for the stages that use them (metrics DE, discriminate and calibrate folds and "
                   "permutations, ssl folds, enrich); results do not depend on it; default $PBF_THREADS or 1")
    p.add_argument("--max-parallel", type=positive_int, default=int(os.environ.get("PBF_MAX_PARALLEL", "1")),
                   metavar="N", help="independent steps run side by side, at most N at once and at most --threads; "
                   "the threads are shared (each step gets --threads / N); default $PBF_MAX_PARALLEL or 1")
    p.add_argument("--in-process", action="store_true",
                   help="run every step inside this process, one at a time (debugging; by default each step runs "
                        "in its own forked process, which returns its memory when it ends)")
    p.add_argument("--stage-args", action="append", metavar="STAGE=ARGS",
                   help="extra options for one stage's command, like a Nextflow module's ext.args "
                        "(repeatable), e.g. --stage-args 'discriminate=--n-permutations 19'")
    add_input_options(p)


def add_input_options(p: argparse.ArgumentParser) -> None:
    """Input options forwarded to qc/pseudobulk (:data:`FORWARDED`); same names as the pipeline parameters."""
    from pbfidelity.pseudobulk.cli import add_exclusion_arguments

    p.add_argument("--layer", help="where the raw counts of .h5ad inputs are: 'X', 'raw' or a layer name "
                                   "(default: layers['counts'], then .raw, then X)")
    p.add_argument("--sc-sample-key", help="obs column of the single-cell files holding sc_id (default: sample)")
    p.add_argument("--celltype-key", help="obs column with cell types (default: cell_type)")
    p.add_argument("--round-bulk-counts", action="store_true",
                   help="round non-integer bulk counts (nf-core/rnaseq salmon/RSEM matrices are rounded anyway)")
    add_exclusion_arguments(p)


def run(args: argparse.Namespace) -> int:
    summary = run_pipeline(args)
    report = Path(args.outdir) / "multiqc" / "multiqc_report.html"
    status = [s.get("status") for s in summary["steps"]]
    cached = f", {status.count('cached')} unchanged (--resume)" if args.resume else ""
    print(f"pbfidelity run: {status.count('done')} steps done{cached}, {status.count('skipped')} skipped; "
          f"results in {args.outdir}")
    if report.exists():
        print(f"Report: {report.resolve()}")
    return 0
