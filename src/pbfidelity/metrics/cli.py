"""Fidelity metrics of pseudo-bulk vs bulk: correlations, gene biases, PCA/sparse PCA, DESeq2 DE, attributes.

Reads a profiles .h5ad and compares the bulk profiles with the primary pseudo-bulk profiles of one dataset
(replicate 0; bootstrap pseudo-replicates and per-cell-type profiles are excluded from every analysis).
Outputs: de_results.tsv, correlation_pairs.tsv, correlation_summary.tsv, matched_pairs.tsv, gene_bias.tsv,
gene_mean_density.tsv, components.tsv, component_scores.tsv, sparse_loadings.tsv, volcano.tsv,
gene_attribute_bias.tsv, gene_attribute_tests.tsv, metrics_summary.json, *_mqc.yaml, versions.yml.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pbfidelity.parallel import add_threads_argument

log = logging.getLogger("pbfidelity.metrics")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profiles", required=True, type=Path, help="profiles .h5ad from 'pbfidelity pseudobulk'")
    p.add_argument("--outdir", required=True, type=Path, help="output folder for this dataset")
    p.add_argument("--dataset", help="dataset to analyse (default: the only one in the file)")
    p.add_argument(
        "--pb-method", help="primary pseudo-bulk method to compare (default: proportion, else sum)"
    )
    p.add_argument(
        "--gene-annotation",
        type=Path,
        help="annotation TSV (ENSEMBL, SYMBOL, GENETYPE, CHR[, LENGTH]) or GTF for gene-attribute bias",
    )
    p.add_argument(
        "--normalisation",
        choices=["logcpm", "tmm_logcpm"],
        default="logcpm",
        help="log1p(CPM) scale for correlations, biases and PCA",
    )
    p.add_argument("--alpha", type=float, default=0.05, help="DE threshold on BH-adjusted p (padj)")
    p.add_argument("--lfc-threshold", type=float, default=1.0, help="DE threshold on |log2 fold change|")
    p.add_argument("--n-components", type=int, default=10, help="PCA and sparse PCA components")
    p.add_argument(
        "--spca-alpha",
        type=float,
        default=0.5,
        help="sparse PCA L1 penalty on unit-norm genes (~ the |correlation| a gene needs)",
    )
    p.add_argument(
        "--spca-max-genes",
        type=int,
        default=5000,
        help="sparse PCA on this many highest-variance genes (0 = all; run time grows with genes)",
    )
    p.add_argument(
        "--min-count",
        type=int,
        default=10,
        help="DE tests genes with >= this many counts in >= (smaller modality size) profiles (0 = all)",
    )
    p.add_argument(
        "--n-permutations", type=int, default=999, help="permutations of the matched-vs-unmatched test"
    )
    add_threads_argument(p, "the DE fit's gene chunks", 1, "--n-cpus")
    p.add_argument(
        "--de-method",
        choices=["deseq2-full", "deseq2-blocked"],
        default="deseq2-blocked",
        help="deseq2-full: pydeseq2 as is (cost ~ donors^3 per gene); deseq2-blocked: the same ~ donor + modality "
        "model solved with its donor-block structure (linear in donors)",
    )
    p.add_argument(
        "--negative-control",
        type=Path,
        help="negative_control.h5ad from 'pbfidelity pseudobulk' (half-split cell-sampling floor)",
    )
    p.add_argument("--seed", type=int, default=42, help="seed for permutations, bootstrap CIs and sparse PCA")


def _check(args: argparse.Namespace) -> None:
    from pbfidelity.errors import UserError

    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be in (0, 1), got {args.alpha}")
    if args.lfc_threshold < 0:
        raise UserError(f"--lfc-threshold must be >= 0, got {args.lfc_threshold}")
    if args.spca_max_genes < 0 or args.min_count < 0:
        raise UserError("--spca-max-genes and --min-count must be >= 0")
    if args.n_components < 1 or args.spca_alpha <= 0 or args.n_permutations < 0:
        raise UserError("--n-components must be >= 1, --spca-alpha > 0, --n-permutations >= 0")
    if args.gene_annotation is not None and not args.gene_annotation.exists():
        raise UserError(f"{args.gene_annotation}: gene annotation file does not exist")


def run(args: argparse.Namespace) -> int:
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.mqc import to_builtin
    from pbfidelity.io.profiles import read_profiles
    from pbfidelity.io.versions import write_versions
    from pbfidelity.memory import release
    from pbfidelity.metrics.analysis import MetricsParams, compute_metrics
    from pbfidelity.metrics.mqc import write_metrics_mqc
    from pbfidelity.metrics.selection import primary_comparison

    _check(args)
    # counts only (no normalised layers); the comparison keeps its own copy, so the AnnData is dropped
    comp = primary_comparison(
        read_profiles(args.profiles, layers=False), args.dataset, args.pb_method, str(args.profiles)
    )
    release()
    params = MetricsParams(
        normalisation=args.normalisation,
        alpha=args.alpha,
        lfc_threshold=args.lfc_threshold,
        n_components=args.n_components,
        spca_alpha=args.spca_alpha,
        n_permutations=args.n_permutations,
        spca_max_genes=args.spca_max_genes,
        min_count=args.min_count,
        n_cpus=args.threads,
        de_method=args.de_method,
        seed=args.seed,
    )
    result = compute_metrics(comp, params, args.gene_annotation)
    if args.negative_control is not None:
        from pbfidelity.metrics.control import compare_with_control

        table, floor = compare_with_control(
            read_profiles(args.negative_control, layers=False),
            comp,
            result.tables["matched_pairs"],
            params.normalisation,
            params.seed,
            source=str(args.negative_control),
        )
        result.tables["negative_control"] = table
        result.summary["negative_control"] = floor
        log.info("metrics %s: negative control: %s", comp.dataset, floor.get("statement", floor.get("note")))
    with atomic_outdir(args.outdir) as tmp:
        for name, table in result.tables.items():
            table.to_csv(tmp / f"{name}.tsv", sep="\t", index=False, float_format="%.6g")
        (tmp / "metrics_summary.json").write_text(json.dumps(to_builtin(result.summary), indent=2))
        write_metrics_mqc(tmp, result)
        if "negative_control" in result.summary:
            from pbfidelity.metrics.mqc import write_control_mqc

            write_control_mqc(
                tmp, comp.dataset, result.tables["negative_control"], result.summary["negative_control"]
            )
        write_versions(tmp, "metrics", ["numpy", "scipy", "pandas", "anndata", "scikit-learn", "pydeseq2"])
    s = result.summary
    log.info(
        "metrics %s: matched r %.3f (unmatched %.3f), %d DE genes, separating component %s",
        s["dataset"],
        s["matched_pair_r"],
        s["unmatched_pair_r"],
        s["n_de"],
        s["separating_component"],
    )
    return 0
