"""Simulate a paired bulk + single-cell dataset with planted protocol distortions (ground truth in JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pbfidelity.errors import UserError

#: effect-size and noise options: (SimulationParams field, type, help). Unset options keep the preset's value
#: (or the built-in default without ``--preset``).
EFFECT_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("capture_log_fc", float, "capture bias: natural-log fold change of the capture-bias genes (1.2 = 3.3x)"),
    ("capture_bias_genes", int, "number of capture-bias genes (half bulk-up, half pseudo-bulk-up)"),
    ("stress_log_fc", float, "dissociation stress: natural-log fold change in single cells"),
    ("stress_genes", int, "number of dissociation-stress genes"),
    ("dropout_keep", float, "single-cell dropout: fraction of the dropout genes' transcripts kept (0-1]"),
    ("dropout_genes", int, "number of dropout genes"),
    ("ambient_fraction", float, "fraction of each droplet's counts from ambient RNA"),
    ("ambient_genes", int, "number of ambient-RNA genes"),
    ("mrna_content_log_range", float, "cell types' mRNA content spans exp(+/- this)"),
    ("effect_spread", float, "each planted gene's effect scaled by a uniform factor in 1 +/- this"),
    ("dissociation_capture", float, "relative capture of the under-captured cell types by dissociation (0-1]"),
    ("undercaptured_types", int, "number of cell types under-captured by dissociation (the last ones)"),
    ("donor_sd", float, "SD of the donor effect on log expression (shared by both modalities)"),
    ("sample_noise_sd", float, "SD of per-sample, per-modality log gene noise"),
    ("phenotype_log_fc", float, "natural-log fold change of the phenotype programme in case donors"),
    ("low_quality_fraction", float, "fraction of low-quality cells (few counts, high mitochondrial fraction)"),
    ("doublet_rate", float, "fraction of droplets holding two cells"),
    ("bulk_depth", float, "mean bulk library size"),
    ("depth_ratio", float, "bulk depth as a multiple of the expected pseudo-bulk depth (overrides --bulk-depth)"),
    ("mean_umis", float, "mean UMIs per cell"),
    ("cell_dispersion", float, "negative-binomial dispersion of single-cell counts"),
    ("bulk_dispersion", float, "negative-binomial dispersion of bulk counts"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pbfidelity.simulate.model import PRESETS

    p.add_argument("--outdir", required=True, type=Path, help="folder to write the simulated input into")
    p.add_argument("--n-donors", type=int, default=12, help="donors (one bulk + one single-cell sample each)")
    p.add_argument("--n-cell-types", type=int, default=4, help="cell types")
    p.add_argument("--cells-per-sample", type=int, default=300, help="single cells per sample")
    p.add_argument("--n-genes", type=int, default=2000, help="genes")
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="graded effect sizes and noise (null-depth: no distortion, bulk 5x shallower); "
                        "options given explicitly override the preset's values")
    p.add_argument("--null", action="store_true", default=None,
                   help="no planted distortion (bulk and pseudo-bulk agree)")
    p.add_argument("--dataset", default="sim", help="dataset name written into the samplesheet")
    p.add_argument("--seed", type=int, default=42, help="random seed")
    g = p.add_argument_group("effect sizes and noise (default: the preset's value, else the built-in default)")
    for name, typ, text in EFFECT_OPTIONS:
        g.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None, help=text)


def params_from_args(args: argparse.Namespace):
    """SimulationParams from parsed options: the preset's values, overridden by every option given."""
    from pbfidelity.simulate.model import SimulationParams

    given = {name: getattr(args, name) for name, _, _ in EFFECT_OPTIONS if getattr(args, name) is not None}
    if args.null is not None:
        given["null"] = args.null
    try:
        return SimulationParams.from_preset(
            args.preset,
            n_donors=args.n_donors,
            n_cell_types=args.n_cell_types,
            cells_per_sample=args.cells_per_sample,
            n_genes=args.n_genes,
            seed=args.seed,
            dataset=args.dataset,
            **given,
        )
    except ValueError as exc:
        raise UserError(f"simulate: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.versions import write_versions
    from pbfidelity.simulate.model import simulate
    from pbfidelity.simulate.write import write_simulation

    params = params_from_args(args)
    sim = simulate(params)
    with atomic_outdir(args.outdir) as tmp:
        write_simulation(sim, tmp)
        write_versions(tmp, "simulate", ["numpy", "anndata"])
    print(
        f"simulated {sim.cells.n_obs} cells, {sim.bulk.shape[1]} bulk samples, {sim.bulk.shape[0]} genes "
        f"({len(sim.truth['distorted_genes'])} planted distorted genes, {len(sim.truth['affected_genes'])} "
        f"affected genes in the ground truth{', preset ' + params.preset if params.preset else ''}) in {args.outdir}"
    )
    return 0
