"""Preranked gene-set enrichment (gseapy ``prerank``) on a per-gene statistic, e.g. DESeq2's Wald stat.

Genes are ranked by the statistic (descending: positive = higher in bulk at the top). Default method is
gseapy's ``multilevel`` (a port of fgsea's adaptive multilevel procedure), which resolves small p-values
without millions of permutations; ``permutation`` is the classic gene-set permutation. Seeded; tied
statistics are ordered by gene id so the ranking does not depend on input order.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from pbfidelity.enrich.genesets import GeneSets

PRERANK_COLUMNS = [
    "term",
    "name",
    "set_size",
    "es",
    "nes",
    "pvalue",
    "padj",
    "fdr_gsea",
    "direction",
    "leading_edge",
]


def break_ties(stat: pd.Series) -> pd.Series:
    """Sort descending, ties in gene-id order, nudged apart by 1e-10 relative so the ranking is deterministic."""
    order = np.lexsort((stat.index.to_numpy(dtype=str), -stat.to_numpy()))
    s = stat.iloc[order]
    k = s.groupby(s.to_numpy(), sort=False).cumcount().to_numpy()
    v = s.to_numpy(dtype=float)
    return pd.Series(v - k * 1e-10 * (1.0 + np.abs(v)), index=s.index)


def prerank(
    stat: pd.Series,
    gene_sets: GeneSets,
    seed: int = 42,
    permutations: int = 1000,
    method: str = "multilevel",
    threads: int = 1,
) -> pd.DataFrame:
    """Enrichment of every set along the ranking ``stat`` (index = gene); sets already size-filtered.

    ``padj`` is BH over the nominal p-values of all tested sets; ``fdr_gsea`` is gseapy's own FDR q-value.
    ``direction`` is ``bulk_up`` for positive NES (set at the top of the ranking), else ``pseudobulk_up``.
    """
    import gseapy

    stat = break_ties(stat.dropna()[lambda v: ~v.index.duplicated()])
    empty = pd.DataFrame(columns=PRERANK_COLUMNS)
    if not gene_sets.sets or stat.size < 2 or np.ptp(stat.to_numpy()) == 0:
        return empty
    sizes = [len(v) for v in gene_sets.sets.values()]
    quiet = logging.getLogger("gseapy")
    level, quiet.level = quiet.level, logging.ERROR
    try:
        res = gseapy.prerank(
            rnk=stat,
            gene_sets=gene_sets.sets,
            outdir=None,
            min_size=min(sizes),
            max_size=max(sizes),
            permutation_num=permutations,
            threads=threads,
            seed=seed,
            no_plot=True,
            verbose=False,
            method=method,
            ascending=False,
        ).res2d
    finally:
        quiet.level = level
    if res is None or len(res) == 0:
        return empty
    out = pd.DataFrame(
        {
            "term": res["Term"].astype(str).to_numpy(),
            "es": pd.to_numeric(res["ES"], errors="coerce").to_numpy(),
            "nes": pd.to_numeric(res["NES"], errors="coerce").to_numpy(),
            "pvalue": pd.to_numeric(res["NOM p-val"], errors="coerce").to_numpy(),
            "fdr_gsea": pd.to_numeric(res["FDR q-val"], errors="coerce").to_numpy(),
            "leading_edge": [
                ";".join(sorted(str(g).split(";"))) if str(g) else "" for g in res["Lead_genes"]
            ],
        }
    )
    out["name"] = out["term"].map(gene_sets.names)
    out["set_size"] = out["term"].map({k: len(v) for k, v in gene_sets.sets.items()})
    out["pvalue"] = out["pvalue"].fillna(1.0).clip(upper=1.0)
    out["padj"] = false_discovery_control(out["pvalue"].to_numpy())
    out["direction"] = np.where(out["nes"] > 0, "bulk_up", "pseudobulk_up")
    out = out.sort_values(["pvalue", "term"], kind="stable").reset_index(drop=True)
    return out[PRERANK_COLUMNS]
