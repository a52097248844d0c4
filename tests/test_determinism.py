"""Same inputs + seed => identical output tables: every TSV/JSON/YAML a run writes, compared by checksum."""

import hashlib

import pytest

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
    for name in ("a", "b"):
        cli("run", "--input", tmp_path / "in" / "samplesheet.csv", "--outdir", out, "--no-progress", "--seed", "7",
            "--gene-sets", tmp_path / "in" / "genesets.gmt", "--label-column", "phenotype")
        runs.append(_digests(out))
        out.rename(tmp_path / name)
    a, b = runs
    assert len(a) > 20
    assert a.keys() == b.keys()
    differing = sorted(k for k in a if a[k] != b[k])
    assert differing == [], differing
