"""Whole-job scale benchmark: seconds, CPU seconds and peak RSS per stage vs cohort size, growth exponents.

Simulates cohorts (``pbfidelity simulate``), then runs each stage of ``pbfidelity run`` in its own process
(the other stages skipped, earlier outputs reused) and measures it with ``os.wait4`` (wall, user+sys CPU,
ru_maxrss of that process). The growth exponent of a stage is the log-log slope between consecutive sizes.

    python benchmarks/bench_pipeline.py --donors 25 50 100 300 --cells 100 --genes 20000 \\
        --stage-args 'metrics=--de-method deseq2-blocked'

``--whole-job`` also runs the whole job as one ``pbfidelity run`` (as a user runs it) and reports its wall time,
CPU time, the peak RSS of its largest process and the peak memory of all its processes together (summed PSS:
pages a forked process shares with its parent count once; steps run side by side with ``--max-parallel`` add up), and each stage's seconds, CPU seconds and peak RSS from ``execution_trace.tsv``.
``--src OLD_CHECKOUT`` measures another source tree with the same venv, for before/after tables in one run.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ["qc", "pseudobulk", "metrics", "discriminate", "calibrate", "deconvolve", "enrich", "ssl", "report"]


def _pss_kb(pid: int, rss_pages: int) -> float:
    """Proportional set size of ``pid`` in kB (shared pages split among their sharers: forked step and ssl
    worker processes share the parent's pages), or its RSS where smaps_rollup is unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return rss_pages * os.sysconf("SC_PAGE_SIZE") / 1024


def _tree_memory_mb(root: int) -> float:
    """Memory in use by ``root`` and all its descendants now (Linux /proc): summed PSS, MB."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = int(fields[1])
        rss[int(d)] = int(fields[21])
    tree, grew = {root}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in tree} - tree
        tree |= new
        grew = bool(new)
    return sum(_pss_kb(p, rss.get(p, 0)) for p in tree) / 1024


def measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, float, int, float]:
    """wall s, CPU s, peak RSS of the largest single process (ru_maxrss) MB, exit status, and the peak memory of
    the process and its descendants together (summed PSS sampled every 0.2 s; steps side by side add up) MB."""
    errfile = tempfile.TemporaryFile()  # a file, not a pipe: a chatty job cannot block on a full pipe
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errfile, env=env)
    peak = 0.0
    while True:
        got, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if got:
            break
        if os.path.isdir("/proc"):
            peak = max(peak, _tree_memory_mb(proc.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    errfile.seek(0)
    err = errfile.read().decode(errors="replace")
    errfile.close()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.stderr.write(err[-2000:])
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, rc, peak


def _exponents(ns: list[int], vals: list[float]) -> str:
    """Log-log slopes between consecutive sizes."""
    out = [math.log(b / a) / math.log(m / n) for n, m, a, b in zip(ns, ns[1:], vals, vals[1:], strict=False)
           if a > 0 and b > 0]
    return ", ".join(f"{e:.2f}" for e in out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--donors", type=int, nargs="+", default=[25, 50, 100, 300])
    ap.add_argument("--cells", type=int, default=100, help="cells per sample")
    ap.add_argument("--genes", type=int, default=20000)
    ap.add_argument("--stages", nargs="+", default=STAGES)
    ap.add_argument("--stage-args", action="append", default=[], help="as 'pbfidelity run --stage-args'")
    ap.add_argument("--workdir", type=Path, default=Path("bench_pipeline_work"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="'pbfidelity run --threads'")
    ap.add_argument("--whole-job", action="store_true", help="also time one 'pbfidelity run' of all stages")
    ap.add_argument("--no-per-stage", action="store_true", help="skip the per-stage processes")
    ap.add_argument("--max-parallel", type=int, default=1, help="'pbfidelity run --max-parallel'")
    ap.add_argument("--in-process", action="store_true", help="'pbfidelity run --in-process'")
    ap.add_argument("--src", type=Path, help="run pbfidelity from this source tree (PYTHONPATH), e.g. an older "
                    "commit's worktree for a before/after table; its run must know the options given")
    ap.add_argument("--tag", default="", help="suffix of the job folders (several variants in one workdir)")
    a = ap.parse_args()
    env = None
    if a.src:
        env = {**os.environ, "PYTHONPATH": str(a.src.resolve() / "src")}
    py = [sys.executable, "-m", "pbfidelity"]
    rows: dict[str, dict[int, tuple]] = {s: {} for s in a.stages}
    jobs: dict[int, tuple] = {}
    job_stages: dict[int, dict[str, float]] = {}
    for n in a.donors:
        sim = a.workdir / f"sim{n}"
        if not (sim / "samplesheet.csv").exists():
            measured([*py, "simulate", "--outdir", str(sim), "--n-donors", str(n), "--cells-per-sample",
                      str(a.cells), "--n-genes", str(a.genes), "-q"])
        out = a.workdir / f"run{n}"
        base = [*py, "run", "--input", str(sim / "samplesheet.csv"), "--no-progress", "-q",
                "--gene-sets", str(sim / "genesets.gmt"), "--label-column", "phenotype", "--threads", str(a.threads)]
        if a.max_parallel != 1:
            base += ["--max-parallel", str(a.max_parallel)]
        if a.in_process:
            base.append("--in-process")
        for sa in a.stage_args:
            base += ["--stage-args", sa]
        if a.whole_job:
            job_dir = a.workdir / f"job{n}{a.tag}"
            shutil.rmtree(job_dir, ignore_errors=True)
            jobs[n] = measured([*base, "--outdir", str(job_dir)], env)
            lines = (job_dir / "pipeline_info" / "execution_trace.tsv").read_text().splitlines()
            cols = lines[0].split("\t")
            job_stages[n] = {}
            for line in lines[1:]:
                rec = dict(zip(cols, line.split("\t"), strict=True))
                # traces of older versions have no cpu_seconds / peak_rss_mb columns: shown as nan
                new = (float(rec["seconds"]), float(rec.get("cpu_seconds", "nan")),
                       float(rec.get("peak_rss_mb", "nan")))
                old = job_stages[n].get(rec["stage"])
                job_stages[n][rec["stage"]] = new if old is None else (old[0] + new[0], old[1] + new[1],
                                                                       max(old[2], new[2]))
            w, c, r, rc, tree = jobs[n]
            print(f"{n:>5} donors whole job     {w:8.1f} s {c:8.1f} CPU s {r:8.0f} MB (largest process) "
                  f"{tree:8.0f} MB (all processes, PSS){'' if rc == 0 else ' FAILED'}"
                  f"  ({', '.join(f'{k} {v[0]:.1f}' for k, v in job_stages[n].items())})", flush=True)
        for stage in ([] if a.no_per_stage else a.stages):
            others = [s for s in STAGES if s != stage]
            rows[stage][n] = measured([*base, "--outdir", str(out), "--skip-stages", *others], env)
            w, c, r, rc, _ = rows[stage][n]
            print(f"{n:>5} donors {stage:<13} {w:8.1f} s {c:8.1f} CPU s {r:8.0f} MB{'' if rc == 0 else ' FAILED'}",
                  flush=True)
    if jobs:
        ns = sorted(jobs)
        print("\n| whole job (one `pbfidelity run`): s / CPU s / peak RSS MB | "
              + " | ".join(f"{n} donors" for n in ns) + " | exponents (s) |")
        print("|---|" + "---|" * (len(ns) + 1))
        for stage in STAGES:
            vals = [job_stages[n].get(stage) for n in ns]
            if all(v is None for v in vals):
                continue
            print(f"| {stage} | " + " | ".join("" if v is None else f"{v[0]:.1f} / {v[1]:.1f} / {v[2]:.0f}"
                                               for v in vals) + " | "
                  + _exponents(ns, [v[0] if v else 0.0 for v in vals]) + " |")
        for label, i, fmt in (("wall s", 0, "{:.1f}"), ("CPU s", 1, "{:.1f}"),
                              ("peak RSS MB, largest process", 2, "{:.0f}"),
                              ("peak memory MB, all processes (PSS)", 4, "{:.0f}")):
            vals = [jobs[n][i] for n in ns]
            print(f"| **{label}** | " + " | ".join(fmt.format(v) for v in vals) + " | " + _exponents(ns, vals) + " |")
    if a.no_per_stage:
        print(f"load: {os.getloadavg()}")
        return
    print("\n| stage | " + " | ".join(f"{n} donors s / CPU s / MB" for n in a.donors) + " | exponents |")
    print("|---|" + "---|" * (len(a.donors) + 1))
    for stage, by_n in rows.items():
        cells = [f"{by_n[n][0]:.1f} / {by_n[n][1]:.1f} / {by_n[n][2]:.0f}" for n in a.donors]
        ns = [n for n in a.donors if n in by_n]
        exps = [math.log(by_n[m][0] / by_n[n][0]) / math.log(m / n) for n, m in zip(ns, ns[1:], strict=False)
                if by_n[n][0] > 0]
        print(f"| {stage} | " + " | ".join(cells) + " | " + ", ".join(f"{e:.2f}" for e in exps) + " |")
    tot = {n: sum(rows[s][n][0] for s in rows) for n in a.donors}
    print("| total | " + " | ".join(f"{tot[n]:.1f}" for n in a.donors) + " | |")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
