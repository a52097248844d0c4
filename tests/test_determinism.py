"""Same inputs + seed => identical output tables: every TSV/JSON/YAML a run writes, compared by checksum."""

import hashlib

import pytest
import yaml

from pbfidelity.simulate import SimulationParams, simulate, write_simulation

#: files that legitimately differ between runs: timings (like Nextflow's trace) and MultiQC's own
#: time-stamped data folder; the report's verdict tables are compared via report/.
VOLATILE = ("pipeline_info/execution_trace.tsv", "multiqc/")


def _digests(root):
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and p.suffix in (".tsv", ".json", ".yaml", ".yml", ".gz") and not rel.startswith(VOLATILE) \
                and not p.name.startswith("."):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.slow
def test_two_runs_give_identical_tables(tmp_path, cli):
    sim = simulate(SimulationParams(n_donors=8, cells_per_sample=100, n_genes=800))
    write_simulation(sim, tmp_path / "in")
    runs = []
    out = tmp_path / "results"  # the same path both times: outputs may record where they were written
    # run a: every step in the runner's own process, one thread. Run b: each step in its own process, two steps
    # side by side, two threads each (folds, permutations, DE chunks, ssl tasks run concurrently). Same tables.
    for name, how in (("a", ["--threads", "1", "--in-process"]), ("b", ["--threads", "4", "--max-parallel", "2"])):
        cli("run", "--input", tmp_path / "in" / "samplesheet.csv", "--outdir", out, "--no-progress", "--seed", "7",
            "--gene-sets", tmp_path / "in" / "genesets.gmt", "--label-column", "phenotype", *how)
        runs.append(_digests(out))
        trace = (out / "pipeline_info" / "execution_trace.tsv").read_text().splitlines()
        assert trace[0].split("\t") == ["stage", "dataset", "seconds", "cpu_seconds", "peak_rss_mb", "threads"]
        assert {line.split("\t")[-1] for line in trace[1:]} == {"1" if name == "a" else "2"}
        assert len(trace) == 10  # nine stages, one dataset
        out.rename(tmp_path / name)
    a, b = runs
    assert len(a) > 20
    assert a.keys() == b.keys()
    differing = sorted(k for k in a if a[k] != b[k])
    # the run's own parameter records name the thread count and parallel steps; apart from them they agree
    records = ("pipeline_info/run_summary.json", "report/multiqc_inputs/pbf_report_params_table_mqc.yaml")
    assert set(differing) <= set(records), differing
    for rel in records:
        da, db = (_without_threads(yaml.safe_load((tmp_path / run / rel).read_text())) for run in "ab")
        assert da == db, rel


def _without_threads(doc):
    """``doc`` without any ``threads`` entry, ``--threads N`` or ``--param threads=N`` argument (the one parameter
    the runs differ in)."""
    if isinstance(doc, dict):
        return {k: _without_threads(v) for k, v in doc.items() if k not in ("threads", "max_parallel")}
    if isinstance(doc, list):
        out, skip = [], False
        for v in doc:
            if skip:
                skip = False
                continue
            if v in ("--threads", "--max-parallel"):
                skip = True
                continue
            if isinstance(v, str) and v.startswith(("threads=", "max_parallel=")):  # the report's "--param k=v"
                if out and out[-1] == "--param":
                    out.pop()
                continue
            out.append(_without_threads(v))
        return out
    return doc
