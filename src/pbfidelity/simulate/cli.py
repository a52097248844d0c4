"""Simulate a paired bulk + single-cell dataset with planted protocol distortions (ground truth in JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pbfidelity.errors import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outdir", required=True, type=Path, help="folder to write the simulated input into")
    p.add_argument("--n-donors", type=int, default=12, help="donors (one bulk + one single-cell sample each)")
    p.add_argument("--n-cell-types", type=int, default=4, help="cell types")
    p.add_argument("--cells-per-sample", type=int, default=300, help="single cells per sample")
    p.add_argument("--n-genes", type=int, default=2000, help="genes")
    p.add_argument("--null", action="store_true", help="no planted distortion (bulk and pseudo-bulk agree)")
    p.add_argument("--dataset", default="sim", help="dataset name written into the samplesheet")
    p.add_argument("--seed", type=int, default=42, help="random seed")


def run(args: argparse.Namespace) -> int:
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.versions import write_versions
    from pbfidelity.simulate.model import SimulationParams, simulate
    from pbfidelity.simulate.write import write_simulation

    try:
        params = SimulationParams(
            n_donors=args.n_donors,
            n_cell_types=args.n_cell_types,
            cells_per_sample=args.cells_per_sample,
            n_genes=args.n_genes,
            null=args.null,
            seed=args.seed,
            dataset=args.dataset,
        )
    except ValueError as exc:
        raise UserError(f"simulate: {exc}") from None
    sim = simulate(params)
    with atomic_outdir(args.outdir) as tmp:
        write_simulation(sim, tmp)
        write_versions(tmp, "simulate", ["numpy", "anndata"])
    print(
        f"simulated {sim.cells.n_obs} cells, {sim.bulk.shape[1]} bulk samples, {sim.bulk.shape[0]} genes "
        f"({len(sim.truth['distorted_genes'])} planted distorted genes) in {args.outdir}"
    )
    return 0
