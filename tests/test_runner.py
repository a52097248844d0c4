import json

import anndata as ad
import numpy as np
import pytest
import yaml

from pbfidelity.simulate import SimulationParams, simulate, write_simulation


def test_run_writes_the_pipeline_layout(tmp_path, cli):
    write_simulation(simulate(SimulationParams(n_donors=4, cells_per_sample=80, n_genes=600)), tmp_path / "in")
    out = tmp_path / "results"
    proc = cli("run", "--input", tmp_path / "in" / "samplesheet.csv", "--outdir", out, "--no-progress",
               "--skip-stages", "metrics", "discriminate", "calibrate", "deconvolve", "enrich", "ssl", "report")
    assert f"results in {out}" in proc.stdout
    assert (out / "qc" / "sim" / "cell_qc.tsv.gz").exists()
    prof = ad.read_h5ad(out / "pseudobulk" / "sim" / "profiles.h5ad")
    assert (prof.obs["modality"] == "bulk").sum() == 4 and (prof.obs["modality"] == "pseudobulk").sum() == 4
    summary = json.loads((out / "pipeline_info" / "run_summary.json").read_text())
    done = [(s["stage"], s.get("dataset")) for s in summary["steps"] if s["status"] == "done"]
    assert done == [("qc", "sim"), ("pseudobulk", "sim")]
    assert {s["stage"] for s in summary["steps"] if s["status"] == "not run"} >= {"metrics", "report"}
    versions = yaml.safe_load((out / "pipeline_info" / "pbfidelity_software_versions.yml").read_text())
    assert {"PBF_QC", "PBF_PSEUDOBULK"} <= set(versions)
    assert not list(out.rglob(".pbf-tmp-*"))


def test_run_bad_samplesheet_fails_cleanly(tmp_path, cli):
    (tmp_path / "s.csv").write_text("dataset,sample\nd,S1\n")
    proc = cli("run", "--input", tmp_path / "s.csv", "--outdir", tmp_path / "r", check=False)
    assert proc.returncode == 2 and "required column(s) bulk, singlecell missing" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.realdata
def test_cellbench_pools_vs_proportion_matched_pseudobulk(shared_data, tmp_path, cli):
    cli("recipe", "cellbench", "--data-dir", shared_data / "cellbench", "--outdir", tmp_path / "in")
    out = tmp_path / "results"
    cli("run", "--input", tmp_path / "in" / "samplesheet.csv", "--outdir", out, "--no-progress",
        "--proportions", tmp_path / "in" / "proportions.tsv",
        "--gene-annotation", shared_data / "genesets" / "human_gene_annotation.tsv.gz",
        "--skip-stages", "metrics", "discriminate", "calibrate", "deconvolve", "enrich", "ssl", "report")
    prof = ad.read_h5ad(out / "pseudobulk" / "cellbench_cellmix5" / "profiles.h5ad")
    obs = prof.obs
    bulk, pb = obs[obs["modality"] == "bulk"], obs[obs["modality"] == "pseudobulk"]
    assert len(bulk) == len(pb) == 21 and set(pb["pb_method"]) == {"proportion"}
    assert (pb["n_cells"] == 90).all()  # each pool's pseudo-bulk sums as many cells as the pool had
    assert prof.n_vars > 10_000
    # n_counts is the library over all shared genes; the detection filter keeps almost all of it
    kept = prof.X.sum(axis=1) / obs["n_counts"].to_numpy()
    assert np.all(kept <= 1) and np.all(kept > 0.95)
    logcpm = prof.layers["logcpm"]
    pos = {name: i for i, name in enumerate(prof.obs_names)}
    matched, unmatched = [], []
    for s in bulk["sample"]:
        b = logcpm[pos[f"cellbench_cellmix5:{s}:bulk"]]
        for t in pb["sample"]:
            r = np.corrcoef(b, logcpm[pos[f"cellbench_cellmix5:{t}:proportion"]])[0, 1]
            (matched if s == t else unmatched).append(r)
    assert np.mean(matched) > 0.85
    assert np.mean(matched) > np.mean(unmatched)


SKIP_ANALYSES = ["--skip-stages", "metrics", "discriminate", "calibrate", "deconvolve", "enrich", "ssl", "report"]


def test_failed_stage_publishes_nothing_and_rerun_completes(tmp_path, monkeypatch):
    import pbfidelity.io.profiles as profiles_io
    from pbfidelity.cli import main

    write_simulation(simulate(SimulationParams(n_donors=3, cells_per_sample=60, n_genes=600)), tmp_path / "in")
    out = tmp_path / "results"
    argv = ["run", "--input", str(tmp_path / "in" / "samplesheet.csv"), "--outdir", str(out), "--no-progress",
            "--resume", *SKIP_ANALYSES]
    real = profiles_io.write_profiles

    def crash_mid_write(adata, path):
        with open(path, "wb") as fh:
            fh.write(b"\x89HDF\r\n half an h5ad")
        raise OSError("simulated crash while writing profiles")

    monkeypatch.setattr(profiles_io, "write_profiles", crash_mid_write)
    assert main(argv) == 1
    pb_dir = out / "pseudobulk" / "sim"
    assert not (pb_dir / "profiles.h5ad").exists() and not list(pb_dir.glob(".pbf-tmp-*"))
    monkeypatch.setattr(profiles_io, "write_profiles", real)
    assert main(argv) == 0
    steps = json.loads((out / "pipeline_info" / "run_summary.json").read_text())["steps"]
    status = {s["stage"]: s["status"] for s in steps if s.get("dataset") == "sim"}
    assert status == {"qc": "cached", "pseudobulk": "done"}
    assert ad.read_h5ad(pb_dir / "profiles.h5ad").n_obs == 6


def test_resume_reruns_when_an_input_changes(tmp_path, cli):
    write_simulation(simulate(SimulationParams(n_donors=3, cells_per_sample=60, n_genes=600)), tmp_path / "in")
    args = ["run", "--input", tmp_path / "in" / "samplesheet.csv", "--outdir", tmp_path / "r", "--no-progress",
            "--resume", *SKIP_ANALYSES]
    cli(*args)
    assert "0 steps done, 2 unchanged" in cli(*args).stdout
    bulk = tmp_path / "in" / "bulk_counts.tsv"
    lines = bulk.read_text().splitlines()
    first = lines[1].split("\t")
    first[1] = str(int(first[1]) + 1)
    lines[1] = "\t".join(first)
    bulk.write_text("\n".join(lines) + "\n")
    assert "2 steps done, 0 unchanged" in cli(*args).stdout


def test_stage_args_are_split_per_stage_and_checked():
    """--stage-args is the runner's ext.args: options appended to one stage's command."""
    from pbfidelity.errors import UserError
    from pbfidelity.runner import stage_args

    got = stage_args(["discriminate=--n-permutations 19 --n-bootstrap 50", "ssl=--methods 'scarf'",
                      "discriminate=--n-folds 3"])
    assert got == {"discriminate": ["--n-permutations", "19", "--n-bootstrap", "50", "--n-folds", "3"],
                   "ssl": ["--methods", "scarf"]}
    assert stage_args(None) == {}
    for bad in ("discrimin=--x 1", "--n-permutations 19", "ssl=--methods 'scarf"):
        with pytest.raises(UserError, match="--stage-args"):
            stage_args([bad])


def _stage_cli(stage):
    import importlib

    return importlib.import_module(f"pbfidelity.{stage}.cli")


def test_a_failing_step_stops_the_step_beside_it_and_leaves_no_partial_output(tmp_path, monkeypatch, capsys):
    """--max-parallel 2: metrics fails with a user error while calibrate runs beside it; the run exits 2 with
    metrics' message, calibrate is stopped (SIGTERM) and removes its unfinished output."""
    import time

    from pbfidelity.cli import main
    from pbfidelity.errors import UserError
    from pbfidelity.io.atomic import atomic_outdir

    write_simulation(simulate(SimulationParams(n_donors=3, cells_per_sample=60, n_genes=600)), tmp_path / "in")
    out = tmp_path / "results"
    started = tmp_path / "calibrate-started"

    def slow_calibrate(args):
        with atomic_outdir(args.outdir) as tmp:
            (tmp / "half_written.tsv").write_text("x\n")
            started.write_text("yes")
            time.sleep(60)

    def failing_metrics(args):
        deadline = time.time() + 30
        while not started.exists() and time.time() < deadline:  # fail only once calibrate is under way
            time.sleep(0.05)
        raise UserError("bad gene 'XYZ' in the profiles")

    monkeypatch.setattr(_stage_cli("calibrate"), "run", slow_calibrate)
    monkeypatch.setattr(_stage_cli("metrics"), "run", failing_metrics)
    t0 = time.perf_counter()
    code = main(["run", "--input", str(tmp_path / "in" / "samplesheet.csv"), "--outdir", str(out), "--no-progress",
                 "--threads", "2", "--max-parallel", "2",
                 "--skip-stages", "discriminate", "deconvolve", "enrich", "ssl", "report"])
    err = capsys.readouterr().err
    assert code == 2 and "stage metrics [sim]: bad gene 'XYZ' in the profiles" in err, err
    assert "Traceback" not in err
    assert time.perf_counter() - t0 < 45  # calibrate's 60 s sleep was cut short
    assert started.exists()
    assert not (out / "calibrate" / "sim" / "half_written.tsv").exists()
    assert not list(out.rglob(".pbf-tmp-*"))


def test_a_killed_step_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import os
    import signal

    from pbfidelity.cli import main

    write_simulation(simulate(SimulationParams(n_donors=3, cells_per_sample=60, n_genes=600)), tmp_path / "in")
    monkeypatch.setattr(_stage_cli("pseudobulk"), "run", lambda args: os.kill(os.getpid(), signal.SIGKILL))
    code = main(["run", "--input", str(tmp_path / "in" / "samplesheet.csv"), "--outdir", str(tmp_path / "r"),
                 "--no-progress", *SKIP_ANALYSES])
    err = capsys.readouterr().err
    assert code == 2 and "stage pseudobulk [sim]: the step process was killed by signal 9 (out of memory?)" in err
    assert "Traceback" not in err


_MEMORY_PROBE = """
import sys
import numpy as np
import pbfidelity.qc.cli as qc_cli
from pbfidelity.cli import main

real = qc_cli.run

def hungry(args):
    block = np.ones(600 * 2**20 // 8)  # 600 MB, touched
    assert block.sum() > 0
    del block
    return real(args)

qc_cli.run = hungry
code = main(sys.argv[1:])
# VmHWM: this process's own peak; ru_maxrss would also count the process that forked it before exec
# (a pytest worker that already holds gigabytes)
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("RUNNER_MAXRSS_MB", hwm_kb / 1024)
raise SystemExit(code)
"""


@pytest.mark.parametrize("mode", ["forked", "in-process"])
def test_a_step_s_memory_stays_in_its_own_process(tmp_path, mode):
    """Each step runs in a forked process: a step that holds 600 MB leaves the runner's own peak far below that
    (and execution_trace.tsv records it on the step); with --in-process the runner itself reaches it."""
    import subprocess
    import sys

    write_simulation(simulate(SimulationParams(n_donors=3, cells_per_sample=60, n_genes=600)), tmp_path / "in")
    out = tmp_path / "r"
    argv = ["run", "--input", str(tmp_path / "in" / "samplesheet.csv"), "--outdir", str(out), "--no-progress",
            *SKIP_ANALYSES] + (["--in-process"] if mode == "in-process" else [])
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, *argv], capture_output=True, text=True, check=True)
    runner_mb = float(proc.stdout.split("RUNNER_MAXRSS_MB")[1].split()[0])
    trace = (out / "pipeline_info" / "execution_trace.tsv").read_text().splitlines()
    qc_mb = float(dict(zip(trace[0].split("\t"), trace[1].split("\t"), strict=True))["peak_rss_mb"])
    assert qc_mb >= 600
    if mode == "forked":
        assert runner_mb < 450, runner_mb
    else:
        assert runner_mb >= 600, runner_mb


def test_a_step_s_log_records_reach_the_caller_once(tmp_path, monkeypatch, capsys, caplog):
    """A forked step's log records are relayed to the runner's process: its handlers (stderr, pytest's caplog, a
    notebook's) see each record once, in order, even when a step logs more than a pipe holds before it ends."""
    import logging

    from pbfidelity.cli import main

    write_simulation(simulate(SimulationParams(n_donors=3, cells_per_sample=60, n_genes=600)), tmp_path / "in")
    qc_cli = _stage_cli("qc")
    real = qc_cli.run

    def chatty_qc(args):
        lg = logging.getLogger("pbfidelity.qc")
        for i in range(2000):  # ~150 KB of records: more than a pipe's buffer
            lg.info("filler %d %s", i, "x" * 50)
        lg.warning("gene %r counted twice in %s", "MT-CO1", "sc.h5ad")
        return real(args)

    monkeypatch.setattr(qc_cli, "run", chatty_qc)
    with caplog.at_level("INFO", logger="pbfidelity"):
        code = main(["run", "--input", str(tmp_path / "in" / "samplesheet.csv"), "--outdir", str(tmp_path / "r"),
                     "--no-progress", *SKIP_ANALYSES])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("[pbfidelity WARNING] gene 'MT-CO1' counted twice in sc.h5ad") == 1, err[-2000:]
    mine = [r for r in caplog.records if r.name == "pbfidelity.qc"]
    assert [r.getMessage() for r in mine if r.levelno == logging.INFO and r.getMessage().startswith("filler")] == [
        f"filler {i} {'x' * 50}" for i in range(2000)]
    assert [r.levelname for r in mine if "counted twice" in r.getMessage()] == ["WARNING"]
