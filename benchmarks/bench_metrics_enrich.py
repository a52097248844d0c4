"""Benchmark: ``pbfidelity metrics`` + ``pbfidelity enrich`` on 100 profiles x 20,000 genes.

Builds 50 bulk + 50 summed pseudo-bulk profiles from a simulation (50 donors, 20,000 genes), a GMT of
``--n-gene-sets`` random gene sets (sizes 10-500, seeded) plus the simulation's planted sets, then times the
two stage commands exactly as the pipeline runs them (in-process). Prints wall-clock and CPU seconds per stage
and in total (CPU time includes finished child processes; with ``--threads 1`` everything runs in this
process, so CPU seconds bound the wall time on an idle core even on a shared, loaded machine), and writes
``bench_metrics_enrich.json`` into ``--workdir``.

    .venv/bin/python benchmarks/bench_metrics_enrich.py --workdir /tmp/bench [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def build_inputs(workdir: Path, n_donors: int, n_genes: int, n_sets: int, seed: int) -> tuple[Path, Path]:
    import anndata as ad
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    from pbfidelity.io.profiles import write_profiles
    from pbfidelity.normalize import add_normalised_layers
    from pbfidelity.simulate import SimulationParams, simulate

    sim = simulate(SimulationParams(n_donors=n_donors, n_genes=n_genes, cells_per_sample=60, seed=seed))
    samples = list(sim.samples.index)
    codes = pd.Categorical(sim.cells.obs["sample"].astype(str), categories=samples).codes
    ind = sp.csr_matrix(
        (np.ones(codes.size), (codes, np.arange(codes.size))), shape=(len(samples), codes.size)
    )
    pb = np.asarray((ind @ sim.cells.X).todense())
    bulk = sim.bulk[sim.samples["bulk_id"]].T.to_numpy()
    obs = pd.DataFrame(
        {
            "dataset": "bench",
            "sample": samples * 2,
            "donor": list(sim.samples["donor"]) * 2,
            "modality": ["bulk"] * len(samples) + ["pseudobulk"] * len(samples),
            "pb_method": ["bulk"] * len(samples) + ["sum"] * len(samples),
            "replicate": 0,
            "n_cells": [0] * len(samples) + list(np.asarray(ind.sum(axis=1)).ravel().astype(int)),
        }
    )
    obs["n_counts"] = np.vstack([bulk, pb]).sum(axis=1)
    obs.index = [f"{s}:{m}" for s, m in zip(obs["sample"], obs["modality"], strict=True)]
    adata = ad.AnnData(
        X=np.vstack([bulk, pb]).astype(np.float32),
        obs=obs,
        var=pd.DataFrame(index=sim.cells.var_names.astype(str)),
    )
    add_normalised_layers(adata)
    profiles = workdir / "profiles.h5ad"
    write_profiles(adata, profiles)
    rng = np.random.default_rng(seed)
    genes = np.asarray(adata.var_names)
    lines = [
        f"{k}\tplanted\t" + "\t".join(v)
        for k, v in sim.truth["distortions"].items()
        if isinstance(v, list) and len(v) >= 10
    ]
    for i in range(n_sets):
        size = int(rng.integers(10, 501))
        lines.append(f"RANDOM_{i:05d}\trandom set\t" + "\t".join(rng.choice(genes, size, replace=False)))
    gmt = workdir / "genesets.gmt"
    gmt.write_text("\n".join(lines) + "\n")
    return profiles, gmt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("bench_metrics_enrich"))
    ap.add_argument("--n-donors", type=int, default=50, help="profiles = 2 x donors")
    ap.add_argument("--n-genes", type=int, default=20000)
    ap.add_argument("--n-gene-sets", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=2, help="processes/threads given to pydeseq2 and prerank")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--reuse-inputs", action="store_true", help="keep profiles/GMT already in --workdir")
    args = ap.parse_args()

    from pbfidelity.cli import dispatch

    args.workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    profiles, gmt = args.workdir / "profiles.h5ad", args.workdir / "genesets.gmt"
    if not (args.reuse_inputs and profiles.exists() and gmt.exists()):
        profiles, gmt = build_inputs(args.workdir, args.n_donors, args.n_genes, args.n_gene_sets, args.seed)
    t_build = time.perf_counter() - t0
    out = args.workdir / "results"
    t0, c0 = time.perf_counter(), cpu_seconds()
    dispatch(
        [
            "metrics",
            "--profiles",
            str(profiles),
            "--outdir",
            str(out / "metrics"),
            "--seed",
            str(args.seed),
            "--n-cpus",
            str(args.threads),
            "--quiet",
        ]
    )
    t_metrics, c_metrics = time.perf_counter() - t0, cpu_seconds() - c0
    t0, c0 = time.perf_counter(), cpu_seconds()
    dispatch(
        [
            "enrich",
            "--de",
            str(out / "metrics" / "de_results.tsv"),
            "--gene-sets",
            str(gmt),
            "--outdir",
            str(out / "enrich"),
            "--seed",
            str(args.seed),
            "--threads",
            str(args.threads),
            "--quiet",
        ]
    )
    t_enrich, c_enrich = time.perf_counter() - t0, cpu_seconds() - c0
    summary = json.loads((out / "metrics" / "metrics_summary.json").read_text())
    report = {
        "profiles": summary["n_bulk"] + summary["n_pseudobulk"],
        "genes": summary["n_genes"],
        "gene_sets": args.n_gene_sets,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "seconds_build_inputs": round(t_build, 1),
        "seconds_metrics": round(t_metrics, 1),
        "seconds_enrich": round(t_enrich, 1),
        "seconds_metrics_plus_enrich": round(t_metrics + t_enrich, 1),
        "cpu_seconds_metrics": round(c_metrics, 1),
        "cpu_seconds_enrich": round(c_enrich, 1),
        "cpu_seconds_metrics_plus_enrich": round(c_metrics + c_enrich, 1),
        "n_de": summary["n_de"],
    }
    (args.workdir / "bench_metrics_enrich.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
