"""Biological processes among bulk-up / pseudo-bulk-up genes: over-representation and preranked GSEA (GMT).

Reads de_results.tsv from 'pbfidelity metrics' (and optionally the discriminator's shap_top_genes.tsv and
shap_genes.tsv), the profiles .h5ad and a GMT of gene sets. ORA background = the genes DESeq2 tested (SHAP lists:
the discriminator's candidate genes). Preranked p-values come from flipping modality labels within donor when
the profiles are given (null-safe under gene correlation), else from gseapy's gene permutation (flagged).
Outputs: ora_results.tsv, prerank_results.tsv, top_processes.tsv, enrich_summary.json, *_mqc.yaml, versions.yml.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pbfidelity.parallel import add_threads_argument

log = logging.getLogger("pbfidelity.enrich")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--de", required=True, type=Path, help="de_results.tsv from 'pbfidelity metrics'")
    p.add_argument("--gene-sets", required=True, type=Path, help="GMT file (plain or .gz) of gene sets")
    p.add_argument("--outdir", required=True, type=Path, help="output folder for this dataset")
    p.add_argument(
        "--ranked-genes",
        type=Path,
        help="shap_top_genes.tsv (gene, mean_abs_shap, direction) from 'pbfidelity discriminate'",
    )
    p.add_argument(
        "--profiles",
        type=Path,
        help="profiles .h5ad from 'pbfidelity pseudobulk': enables the donor sign-flip prerank (null-safe)",
    )
    p.add_argument(
        "--shap-genes",
        type=Path,
        help="shap_genes.tsv from 'pbfidelity discriminate' (all genes, column 'candidate'): ORA background "
        "of the SHAP gene lists = the genes the discriminator could choose from",
    )
    p.add_argument(
        "--pb-method", default="auto", help="pseudo-bulk construction paired with bulk (as metrics)"
    )
    p.add_argument("--dataset", help="dataset name (default: from metrics_summary.json beside --de)")
    p.add_argument("--min-size", type=int, default=10, help="smallest gene set (genes in the background)")
    p.add_argument("--max-size", type=int, default=500, help="largest gene set (genes in the background)")
    p.add_argument("--permutations", type=int, default=1000, help="prerank permutations")
    p.add_argument(
        "--prerank-method",
        choices=["auto", "donor-flip", "multilevel", "permutation"],
        default="auto",
        help="prerank p-values: donor-flip = modality labels flipped within donor (needs --profiles; holds "
        "when genes are correlated); multilevel/permutation = gseapy's gene permutation (anti-conservative "
        "for co-regulated genes); auto = donor-flip when --profiles is given",
    )
    p.add_argument(
        "--flip-permutations",
        type=int,
        default=10_000,
        help="donor sign flips (all 2^donors when fewer)",
    )
    add_threads_argument(p, "prerank permutations")
    p.add_argument("--top-n", type=int, default=10, help="top processes reported per query and direction")
    p.add_argument("--alpha", type=float, default=0.05, help="significance threshold on BH-adjusted p")
    p.add_argument("--seed", type=int, default=42, help="seed for prerank")


def _read_table(path: Path, what: str, required: tuple[str, ...], dtype: dict | None = None):
    """A TSV with the ``required`` columns, or one UserError naming the file."""
    import pandas as pd

    from pbfidelity.errors import UserError

    if not path.exists():
        raise UserError(f"{path}: {what} does not exist")
    try:
        t = pd.read_csv(path, sep="\t", dtype=dtype or {"gene": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read as TSV ({exc})") from None
    missing = [c for c in required if c not in t.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {missing}; has {list(t.columns)}")
    return t


def read_de(path: Path):
    import pandas as pd

    from pbfidelity.enrich.analysis import DE_REQUIRED, DIRECTIONS
    from pbfidelity.errors import UserError

    de = _read_table(path, "DE table", DE_REQUIRED)
    bad = de.loc[~de["direction"].isin(DIRECTIONS), "direction"]
    if len(bad):
        raise UserError(
            f"{path}: row {bad.index[0] + 2}, column 'direction': {bad.iloc[0]!r} is not one of "
            f"{list(DIRECTIONS)}"
        )
    for col in ("stat", "pvalue"):
        v = pd.to_numeric(de[col], errors="coerce")
        bad_rows = v.isna() & de[col].notna()
        if bad_rows.any():
            i = int(bad_rows.idxmax())
            raise UserError(f"{path}: row {i + 2}, column '{col}': {de.loc[i, col]!r} is not a number")
        de[col] = v
    if de["gene"].isna().any() or de["gene"].duplicated().any():
        g = de.loc[de["gene"].duplicated(), "gene"]
        raise UserError(f"{path}: column 'gene': empty or duplicate gene id {g.iloc[0] if len(g) else ''!r}")
    return de


def read_ranked(path: Path):
    t = _read_table(path, "ranked-genes table", ("gene",), {"gene": str, "direction": str})
    return t.dropna(subset=["gene"]).drop_duplicates("gene")


def read_candidates(path: Path, dataset: str) -> set[str]:
    """Genes the discriminator could choose from (``candidate`` true in shap_genes.tsv)."""
    t = _read_table(path, "SHAP gene table", ("gene", "candidate"))
    if "dataset" in t.columns and (t["dataset"].astype(str) == dataset).any():
        t = t[t["dataset"].astype(str) == dataset]
    flag = t["candidate"].astype(str).str.lower().isin(["true", "1"])
    return set(t.loc[flag, "gene"].dropna().astype(str))


def paired_differences_from(path: Path, dataset: str, pb_method: str):
    """Donor-level paired log-CPM differences (bulk - pseudo-bulk) of ``dataset``: (matrix, genes)."""
    from pbfidelity.discriminate.profiles import select_profiles
    from pbfidelity.enrich.paired import paired_differences
    from pbfidelity.errors import StageSkipped, UserError
    from pbfidelity.io.profiles import read_profiles

    adata = read_profiles(path)
    try:
        ps = select_profiles(adata, dataset, pb_method, replicates=False, source=str(path))
    except StageSkipped as exc:
        raise UserError(f"{path}: {exc}") from None
    pairs = ps.matched_pairs()
    if len(pairs) < 2:
        raise UserError(f"{path}: dataset '{dataset}' has {len(pairs)} bulk/pseudo-bulk pair(s); need >= 2")
    x = ps.logcpm()
    diffs, _ = paired_differences(x[pairs["bulk"].to_numpy()], x[pairs["pb"].to_numpy()], pairs["donor"])
    return diffs, ps.genes


def dataset_name(args: argparse.Namespace) -> str:
    if args.dataset:
        return args.dataset
    summary = args.de.parent / "metrics_summary.json"
    if summary.exists():
        try:
            return str(json.loads(summary.read_text())["dataset"])
        except (ValueError, KeyError):
            pass
    return args.de.resolve().parent.name or "dataset"


def run(args: argparse.Namespace) -> int:
    from pbfidelity.enrich.analysis import EnrichParams, run_enrichment
    from pbfidelity.enrich.genesets import read_gmt
    from pbfidelity.enrich.mqc import write_enrich_mqc
    from pbfidelity.errors import UserError
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.mqc import to_builtin
    from pbfidelity.io.versions import write_versions

    if args.min_size < 1 or args.max_size < args.min_size:
        raise UserError(f"--min-size/--max-size: need 1 <= min <= max, got {args.min_size}, {args.max_size}")
    if (
        args.permutations < 1
        or args.flip_permutations < 1
        or args.top_n < 1
        or not 0 < args.alpha < 1
    ):
        raise UserError(
            "--permutations, --flip-permutations and --top-n must be >= 1 and --alpha in (0, 1)"
        )
    if args.prerank_method == "donor-flip" and not args.profiles:
        raise UserError(
            "--prerank-method donor-flip needs --profiles (the profiles .h5ad of the pseudobulk stage)"
        )
    de = read_de(args.de)
    gene_sets = read_gmt(args.gene_sets)
    ranked = read_ranked(args.ranked_genes) if args.ranked_genes else None
    ds = dataset_name(args)
    if de["pvalue"].notna().sum() == 0:
        raise UserError(f"{args.de}: no gene has a p-value (nothing was tested)")
    background = set(de.loc[de["pvalue"].notna(), "gene"])
    if not any(background & set(v) for v in gene_sets.sets.values()):
        example = next(iter(gene_sets.sets.values()))[:3]
        raise UserError(
            f"{args.gene_sets}: no gene of any set is among the tested genes of {args.de} "
            f"(sets use ids like {example}, the DE table {sorted(background)[:3]})"
        )
    paired = None
    if args.profiles and args.prerank_method in ("auto", "donor-flip"):
        paired = paired_differences_from(args.profiles, ds, args.pb_method)
    candidates = read_candidates(args.shap_genes, ds) if args.shap_genes else None
    params = EnrichParams(
        min_size=args.min_size,
        max_size=args.max_size,
        permutations=args.permutations,
        prerank_method=args.prerank_method,
        flip_permutations=args.flip_permutations,
        threads=args.threads,
        top_n=args.top_n,
        alpha=args.alpha,
        seed=args.seed,
    )
    result = run_enrichment(de, gene_sets, ranked, params, ds, paired=paired, ranked_background=candidates)
    if not result.summary["prerank_null_safe"]:
        log.warning(
            "enrich %s: %s (pass --profiles for the donor sign-flip test)",
            ds,
            result.summary["prerank_caveat"],
        )
    if result.summary["prerank_underpowered"]:
        log.warning(
            "enrich %s: underpowered: with %d donors the smallest attainable prerank p is %.3g (> alpha %.3g)",
            ds,
            result.summary["prerank_n_donors"],
            result.summary["prerank_min_attainable_p"],
            args.alpha,
        )
    result.summary.update(
        gene_sets=str(args.gene_sets),
        ranked_genes=str(args.ranked_genes or ""),
        profiles=str(args.profiles or ""),
        shap_genes=str(args.shap_genes or ""),
    )
    with atomic_outdir(args.outdir) as tmp:
        opts = {"sep": "\t", "index": False, "float_format": "%.6g"}
        result.ora.to_csv(tmp / "ora_results.tsv", **opts)
        result.prerank.to_csv(tmp / "prerank_results.tsv", **opts)
        result.top.to_csv(tmp / "top_processes.tsv", **opts)
        (tmp / "enrich_summary.json").write_text(json.dumps(to_builtin(result.summary), indent=2))
        write_enrich_mqc(tmp, result)
        write_versions(tmp, "enrich", ["numpy", "scipy", "pandas", "gseapy"])
    log.info(
        "enrich %s: %d sets tested; significant ORA %s, prerank %s (%s)",
        ds,
        result.summary["n_gene_sets_tested"],
        result.summary["ora_significant"],
        result.summary["prerank_significant"],
        result.summary["prerank_test"],
    )
    return 0
