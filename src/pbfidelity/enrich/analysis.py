"""Enrichment of one dataset's DE results (and optional ranked genes) in user gene sets (no files)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pbfidelity.enrich.genesets import GeneSets
from pbfidelity.enrich.ora import ora
from pbfidelity.enrich.paired import donor_flip_enrichment
from pbfidelity.enrich.prerank import prerank

DE_REQUIRED = ("gene", "stat", "pvalue", "direction")
DIRECTIONS = ("bulk_up", "pseudobulk_up", "ns")


@dataclass(frozen=True)
class EnrichParams:
    min_size: int = 10
    max_size: int = 500
    permutations: int = 1000
    #: "auto": donor sign-flip when paired profiles are given, else gseapy "multilevel" (gene permutation)
    prerank_method: str = "auto"
    flip_permutations: int = 10_000
    threads: int = 1
    top_n: int = 10
    alpha: float = 0.05
    seed: int = 42


@dataclass
class EnrichResult:
    ora: pd.DataFrame
    prerank: pd.DataFrame
    top: pd.DataFrame
    summary: dict = field(default_factory=dict)


def queries(de: pd.DataFrame, ranked: pd.DataFrame | None) -> dict[str, list[str]]:
    """Gene lists for ORA: DE genes per direction, and the ranked (e.g. SHAP) genes in all and per direction."""
    out = {d: sorted(de.loc[de["direction"] == d, "gene"]) for d in ("bulk_up", "pseudobulk_up")}
    if ranked is not None and len(ranked):
        out["shap_top"] = sorted(ranked["gene"])
        if "direction" in ranked.columns:
            for d, grp in ranked.groupby(ranked["direction"].astype(str), sort=True):
                out[f"shap_{d}"] = sorted(grp["gene"])
    return out


def _top(table: pd.DataFrame, analysis: str, key: str, n: int, alpha: float, genes_col: str) -> pd.DataFrame:
    part = table.head(n).copy()
    part.insert(0, "analysis", analysis)
    part.insert(1, "query", key)
    part.insert(2, "rank", range(1, len(part) + 1))
    part["significant"] = part["padj"] < alpha
    part = part.rename(columns={genes_col: "genes"})
    stat = "overlap" if analysis == "ora" else "nes"
    return part[
        [
            "analysis",
            "query",
            "rank",
            "term",
            "name",
            "set_size",
            stat,
            "pvalue",
            "padj",
            "significant",
            "genes",
        ]
    ].rename(columns={stat: "statistic"})


GENE_PERMUTATION_CAVEAT = (
    "gene-permutation p-values (gseapy) assume independent genes; with co-regulated genes they are "
    "anti-conservative (sets can look enriched where the modalities do not differ)"
)


def run_enrichment(
    de: pd.DataFrame,
    gene_sets: GeneSets,
    ranked: pd.DataFrame | None = None,
    params: EnrichParams = EnrichParams(),
    dataset: str = "dataset",
    paired: tuple | None = None,
    ranked_background: set[str] | None = None,
) -> EnrichResult:
    """ORA per query and preranked enrichment; top processes and a summary.

    ``paired`` = (donor-level paired log-CPM differences bulk - pseudo-bulk, donors x genes; their gene ids):
    the preranked test is then the donor sign-flip test (:func:`donor_flip_enrichment`), whose null keeps
    gene-gene correlation; without it gseapy's gene-permutation prerank on the DE ``stat`` is used and flagged.
    ORA of DE genes uses the tested genes as background; ORA of ranked (SHAP) genes uses
    ``ranked_background`` (the genes the discriminator could choose from) when given.
    """
    tested = de.dropna(subset=["pvalue"])
    background = set(tested["gene"].astype(str))
    sets = gene_sets.restrict(background, params.min_size, params.max_size)
    qs = queries(tested, ranked)
    shap_bg = set(map(str, ranked_background)) if ranked_background else background
    shap_sets = gene_sets.restrict(shap_bg, params.min_size, params.max_size) if ranked_background else sets
    ora_parts, tops, query_sizes = [], [], {}
    for key, genes in qs.items():
        is_shap = key.startswith("shap_")
        bg, gs = (shap_bg, shap_sets) if is_shap else (background, sets)
        t = ora(genes, bg, gs)
        query_sizes[key] = len(set(genes) & bg)
        tops.append(_top(t, "ora", key, params.top_n, params.alpha, "genes"))
        ora_parts.append(
            t.assign(
                query=key,
                background=(
                    "discriminator candidates" if is_shap and ranked_background else "DE-tested genes"
                ),
            )
        )
    ora_all = pd.concat(ora_parts, ignore_index=True) if ora_parts else pd.DataFrame()
    if len(ora_all):
        ora_all = ora_all[["query", *[c for c in ora_all.columns if c != "query"]]]
    method = params.prerank_method
    if method == "auto":
        method = "donor-flip" if paired is not None else "multilevel"
    flip_info: dict = {}
    if method == "donor-flip":
        if paired is None:
            raise ValueError("prerank_method 'donor-flip' needs paired profiles")
        diffs, genes = paired
        genes = pd.Index(pd.Series(genes).astype(str))
        keep = genes.isin(background)
        genes_kept = genes[keep]
        flip_sets = gene_sets.restrict(set(genes_kept), params.min_size, params.max_size)
        pr, _, flip_info = donor_flip_enrichment(
            diffs[:, keep], genes_kept.to_numpy(), flip_sets, params.flip_permutations, params.seed
        )
        pr_label = f"donor sign-flip ({flip_info['permutations']} {'exact' if flip_info['exact'] else 'random'} flips)"
    else:
        pr = prerank(
            tested.set_index("gene")["stat"].astype(float),
            sets,
            params.seed,
            params.permutations,
            method,
            params.threads,
        )
        pr_label = f"gseapy {method} (gene permutation; not robust to gene-gene correlation)"
    for d in ("bulk_up", "pseudobulk_up"):
        tops.append(_top(pr[pr["direction"] == d], "prerank", d, params.top_n, params.alpha, "leading_edge"))
    top = pd.concat(tops, ignore_index=True)
    underpowered = bool(flip_info) and flip_info.get("min_attainable_p", 0.0) > params.alpha
    summary = {
        "dataset": dataset,
        "n_background": len(background),
        "n_shap_background": len(shap_bg) if ranked is not None else 0,
        "shap_background": "discriminator candidate genes" if ranked_background else "DE-tested genes",
        "n_gene_sets_read": len(gene_sets.sets),
        "n_gene_sets_tested": len(sets.sets),
        "set_size_bounds": [params.min_size, params.max_size],
        "query_sizes": query_sizes,
        "ora_significant": {
            k: int(((ora_all["query"] == k) & (ora_all["padj"] < params.alpha)).sum()) for k in qs
        }
        if len(ora_all)
        else {},
        "prerank_method": method,
        "prerank_test": pr_label,
        "prerank_null_safe": method == "donor-flip",
        "prerank_caveat": "" if method == "donor-flip" else GENE_PERMUTATION_CAVEAT,
        "prerank_permutations": int(flip_info.get("permutations", params.permutations)),
        "prerank_min_attainable_p": flip_info.get("min_attainable_p"),
        "prerank_underpowered": underpowered,
        "prerank_significant": {
            d: int(((pr["direction"] == d) & (pr["padj"] < params.alpha)).sum())
            for d in ("bulk_up", "pseudobulk_up")
        },
        "top_processes": {
            f"{r.analysis}:{r.query}": {"term": r.term, "name": r.name, "padj": r.padj}
            for r in top[top["rank"] == 1].itertuples()
        },
        "alpha": params.alpha,
        "seed": params.seed,
    }
    if flip_info:
        summary["prerank_n_donors"] = flip_info["n_donors"]
        summary["prerank_s0"] = flip_info["s0"]
    return EnrichResult(ora_all, pr, top, summary)
