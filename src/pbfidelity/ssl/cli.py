"""Self-supervised encoders (SCARF, VIME, BYOL) evaluated on phenotype prediction with scarce labels.

Reads a profiles .h5ad (or a bulk benchmark data set), pre-trains each SSL method on the training donors'
profiles (plus --unlabeled), and compares linear probes and fine-tuned encoders with supervised baselines
(MLP, XGBoost, logistic regression) across label fractions, all splits grouped by donor. Writes tables,
ssl_summary.json, encoder checkpoints, loss curves and MultiQC content. Needs torch: pip install pbfidelity[ssl].
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import time
from pathlib import Path

from pbfidelity.errors import StageSkipped, UserError
from pbfidelity.parallel import add_threads_argument
from pbfidelity.ssl.config import BASELINES, CONFIGS, METHODS

log = logging.getLogger("pbfidelity.ssl")

BENCHMARK_NAMES = ("tcga5_cohort", "tcga5_tumour_normal", "islets_t2d", "sim_latent")  # see pbfidelity.ssl.datasets


def _csv_list(kind: type, allowed: tuple[str, ...] | None = None):
    def parse(text: str):
        items = [kind(t.strip()) for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError("empty list")
        if allowed is not None and (bad := [i for i in items if i not in allowed]):
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(allowed)}")
        if kind is float and any(not 0 < i <= 1 for i in items):
            raise argparse.ArgumentTypeError("fractions must be in (0, 1]")
        return tuple(sorted(items)) if kind is float else tuple(items)

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("input (one of)")
    src.add_argument(
        "--profiles", type=Path, help="profiles .h5ad (bulk + pseudo-bulk) from the pseudobulk stage"
    )
    src.add_argument(
        "--benchmark",
        choices=BENCHMARK_NAMES,
        help="a bulk-only benchmark data set read from --data-dir (tcga5/, islets_fadista/), or sim_latent "
        "(generated: 5,000 unlabelled + 600 labelled profiles, 10 latent classes hidden among noisy genes)",
    )
    p.add_argument("--data-dir", type=Path, help="folder holding the benchmark data sets (for --benchmark)")
    p.add_argument("--label-column", help="obs column with the phenotype label (required with --profiles)")
    p.add_argument(
        "--unlabeled",
        type=Path,
        help="extra unlabeled profiles for pre-training: .h5ad, or a genes x samples TSV/CSV",
    )
    p.add_argument("--outdir", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=42, help="seed for splits, initialisation and corruption")
    p.add_argument(
        "--config",
        choices=sorted(CONFIGS),
        default="ci",
        help="ci: small encoder, few epochs (minutes on CPU); full: the documented analysis size",
    )
    p.add_argument(
        "--eval-modality",
        choices=("bulk", "pseudobulk"),
        default="bulk",
        help="modality whose labelled profiles train and test the downstream classifiers",
    )
    p.add_argument(
        "--methods", type=_csv_list(str, METHODS), help=f"SSL methods (default: {','.join(METHODS)})"
    )
    p.add_argument(
        "--baselines", type=_csv_list(str, BASELINES), help=f"baselines (default: {','.join(BASELINES)})"
    )
    p.add_argument(
        "--fractions", type=_csv_list(float), help="label fractions, e.g. 0.01,0.1,1 (default: config)"
    )
    p.add_argument("--folds", type=int, help="donor-grouped outer folds (default: config)")
    p.add_argument("--repeats", type=int, help="label subsets drawn per fraction and fold (default: config)")
    p.add_argument("--max-epochs", type=int, help="most pre-training epochs (default: config)")
    add_threads_argument(p, "pre-training, label-fraction and modality tasks run this many at a time in worker "
                         "processes, each single-threaded")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="torch device")
    p.add_argument("--no-checkpoints", action="store_true", help="do not write encoder checkpoints")


def _load(args: argparse.Namespace):
    from pbfidelity.ssl.datasets import load_benchmark, read_unlabeled

    if (args.profiles is None) == (args.benchmark is None):
        raise UserError("give exactly one of --profiles or --benchmark")
    if args.profiles is not None:
        if not args.label_column:
            raise UserError("--label-column is required with --profiles")
        from pbfidelity.io.profiles import read_profiles
        from pbfidelity.ssl.data import from_profiles

        data = from_profiles(
            read_profiles(args.profiles), args.label_column, args.eval_modality, str(args.profiles)
        )
    else:
        data = load_benchmark(args.benchmark, args.data_dir, seed=args.seed)
    if args.unlabeled is not None:
        values, genes, ids = read_unlabeled(args.unlabeled)
        data = data.with_extra(values, genes, ids, str(args.unlabeled))
    return data


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("torch") is None:
        raise StageSkipped("torch is not installed; the ssl stage needs it: pip install 'pbfidelity[ssl]'")
    for name in ("folds", "repeats", "max_epochs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.versions import write_versions
    from pbfidelity.ssl.config import get_config
    from pbfidelity.ssl.outputs import write_checkpoints, write_multiqc, write_tables
    from pbfidelity.ssl.protocol import run_protocol
    from pbfidelity.ssl.torchutil import configure_torch, resolve_device

    cfg = get_config(
        args.config,
        methods=args.methods,
        baselines=args.baselines,
        fractions=args.fractions,
        folds=args.folds,
        repeats=args.repeats,
        max_epochs=args.max_epochs,
    )
    if cfg.downstream.folds < 2:
        raise UserError("--folds must be at least 2")
    device = resolve_device(args.device)
    configure_torch()
    data = _load(args)
    log.info(
        "%s: %d profiles x %d genes, %d labelled (%s), config %s on %s",
        data.name,
        *data.values.shape,
        len(data.labelled),
        ", ".join(data.classes),
        cfg.name,
        device,
    )
    t_start = time.perf_counter()
    result = run_protocol(
        data, cfg, seed=args.seed, device=device, checkpoints=not args.no_checkpoints, threads=args.threads
    )
    with atomic_outdir(args.outdir) as tmp:
        write_tables(result, tmp)
        if not args.no_checkpoints:
            write_checkpoints(result, tmp)
        write_multiqc(result, tmp)
        write_versions(tmp, "ssl", ["torch", "numpy", "scikit-learn", "xgboost", "pandas"])
    # run time goes to the log only, so ssl_summary.json is identical across runs with the same seed
    log.info("ssl %s: done in %.0f s; results in %s", data.name, time.perf_counter() - t_start, args.outdir)
    return 0
