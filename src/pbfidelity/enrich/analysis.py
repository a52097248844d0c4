"""Enrichment of one dataset's DE results (and optional ranked genes) in user gene sets (no files)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pbfidelity.enrich.genesets import GeneSets
from pbfidelity.enrich.ora import ora
from pbfidelity.enrich.prerank import prerank

DE_REQUIRED = ("gene", "stat", "pvalue", "direction")
DIRECTIONS = ("bulk_up", "pseudobulk_up", "ns")


@dataclass(frozen=True)
class EnrichParams:
    min_size: int = 10
    max_size: int = 500
    permutations: int = 1000
    prerank_method: str = "multilevel"
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


def run_enrichment(
    de: pd.DataFrame,
    gene_sets: GeneSets,
    ranked: pd.DataFrame | None = None,
    params: EnrichParams = EnrichParams(),
    dataset: str = "dataset",
) -> EnrichResult:
    """ORA per query against the tested genes, preranked enrichment on ``stat``, top processes, summary."""
    tested = de.dropna(subset=["pvalue"])
    background = set(tested["gene"].astype(str))
    sets = gene_sets.restrict(background, params.min_size, params.max_size)
    qs = queries(tested, ranked)
    ora_parts, tops = [], []
    for key, genes in qs.items():
        t = ora(genes, background, sets)
        tops.append(_top(t, "ora", key, params.top_n, params.alpha, "genes"))
        ora_parts.append(t.assign(query=key))
    ora_all = pd.concat(ora_parts, ignore_index=True) if ora_parts else pd.DataFrame()
    if len(ora_all):
        ora_all = ora_all[["query", *[c for c in ora_all.columns if c != "query"]]]
    pr = prerank(
        tested.set_index("gene")["stat"].astype(float),
        sets,
        params.seed,
        params.permutations,
        params.prerank_method,
        params.threads,
    )
    for d in ("bulk_up", "pseudobulk_up"):
        tops.append(_top(pr[pr["direction"] == d], "prerank", d, params.top_n, params.alpha, "leading_edge"))
    top = pd.concat(tops, ignore_index=True)
    summary = {
        "dataset": dataset,
        "n_background": len(background),
        "n_gene_sets_read": len(gene_sets.sets),
        "n_gene_sets_tested": len(sets.sets),
        "set_size_bounds": [params.min_size, params.max_size],
        "query_sizes": {k: len(set(v) & background) for k, v in qs.items()},
        "ora_significant": {
            k: int(((ora_all["query"] == k) & (ora_all["padj"] < params.alpha)).sum()) for k in qs
        }
        if len(ora_all)
        else {},
        "prerank_method": params.prerank_method,
        "prerank_permutations": params.permutations,
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
    return EnrichResult(ora_all, pr, top, summary)
