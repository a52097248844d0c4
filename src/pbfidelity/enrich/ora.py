"""Over-representation analysis with gseapy's offline hypergeometric test, against a given background.

gseapy reports only sets with at least one hit and adjusts p-values among those; here every tested set
(after restriction to the background and the size bounds) is kept, sets without a hit get p = 1, and the
Benjamini-Hochberg adjustment is recomputed over all of them, so the multiplicity is the number of sets tested.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from pbfidelity.enrich.genesets import GeneSets

ORA_COLUMNS = [
    "term",
    "name",
    "set_size",
    "n_query",
    "n_background",
    "overlap",
    "odds_ratio",
    "pvalue",
    "padj",
    "genes",
]


def ora(query: list[str], background: set[str], gene_sets: GeneSets) -> pd.DataFrame:
    """Hypergeometric over-representation of ``query`` in each set (already restricted to ``background``)."""
    import gseapy

    q = sorted(set(query) & background)
    rows = pd.DataFrame({"term": list(gene_sets.sets), "set_size": [len(v) for v in gene_sets.sets.values()]})
    rows["name"] = rows["term"].map(gene_sets.names)
    rows["n_query"], rows["n_background"] = len(q), len(background)
    rows["overlap"], rows["odds_ratio"], rows["pvalue"], rows["genes"] = 0, np.nan, 1.0, ""
    if q and len(rows):
        quiet = logging.getLogger("gseapy")
        level, quiet.level = quiet.level, logging.ERROR
        try:
            res = gseapy.enrich(
                gene_list=q,
                gene_sets=gene_sets.sets,
                background=set(background),
                outdir=None,
                cutoff=1.0,
                no_plot=True,
                verbose=False,
            ).results
        finally:
            quiet.level = level
        if isinstance(res, pd.DataFrame) and len(res):
            res = res.set_index("Term")
            hit = rows["term"].isin(res.index)
            r = res.reindex(rows.loc[hit, "term"])
            rows.loc[hit, "overlap"] = [int(str(o).split("/")[0]) for o in r["Overlap"]]
            rows.loc[hit, "odds_ratio"] = r["Odds Ratio"].to_numpy(dtype=float)
            rows.loc[hit, "pvalue"] = r["P-value"].to_numpy(dtype=float)
            rows.loc[hit, "genes"] = [";".join(sorted(str(g).split(";"))) for g in r["Genes"]]
    rows["padj"] = false_discovery_control(rows["pvalue"].to_numpy()) if len(rows) else []
    rows = rows.sort_values(["pvalue", "term"], kind="stable").reset_index(drop=True)
    return rows[ORA_COLUMNS]
