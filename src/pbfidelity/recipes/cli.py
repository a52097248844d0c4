"""Prepare a public paired data set as pbfidelity input (samplesheet, bulk matrix, h5ad, proportions)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=["cellbench"], help="which data set")
    p.add_argument("--data-dir", required=True, type=Path, help="folder with the data set's files")
    p.add_argument("--outdir", required=True, type=Path, help="folder to write the pbfidelity input into")
    p.add_argument(
        "--mixes",
        nargs="+",
        default=["cellmix5"],
        help="CellBench pool series to use as the bulk side (cellmix5 = 90-cell pools)",
    )
    p.add_argument("--keep-poor-quality", action="store_true", help="keep pools flagged poor_quality")
    p.add_argument(
        "--exchangeable-null",
        action="store_true",
        help="negative control: each pool's bulk is drawn (seeded) with the pool's cell-line numbers from the "
        "same single cells the pseudo-bulk uses, so nothing should separate the modalities",
    )
    p.add_argument(
        "--half-split-null",
        action="store_true",
        help="half-split case: cells split once into halves; each pool's bulk is drawn from half A and the "
        "single-cell file holds half B (only the cells differ, no protocol)",
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the null draws")


def run(args: argparse.Namespace) -> int:
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.recipes.cellbench import prepare_cellbench

    with atomic_outdir(args.outdir) as tmp:
        paths = prepare_cellbench(
            args.data_dir,
            tmp,
            tuple(args.mixes),
            args.keep_poor_quality,
            exchangeable_null=args.exchangeable_null,
            seed=args.seed,
            half_split_null=args.half_split_null,
        )
    print(
        f"wrote {args.outdir / paths['samplesheet'].name}; run with "
        f"--proportions {args.outdir / paths['proportions'].name}"
    )
    return 0
