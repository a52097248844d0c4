"""Gene-attribute bias: does the bulk/pseudo-bulk difference depend on gene type, mito/ribo, level, length?

For every attribute the genes are put in categories (gene type; mitochondrial yes/no; ribosomal-protein yes/no;
quintiles of mean log-CPM, of detection rate and of gene length when known). Per category: the mean and median
``log2_bias`` and DE counts, with a Fisher exact test of DE enrichment in the category vs the rest. Per
attribute: a bias test (Kruskal-Wallis across categories; Spearman rho with the raw value for continuous
attributes) and a DE test (chi-square of DE yes/no by category).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, fisher_exact, kruskal, spearmanr

MIN_GENES = 5  # categories with fewer genes are pooled into "other" (gene type) or not tested


def _categories(attrs: pd.DataFrame, bias: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series | None]]:
    """attribute -> (category per gene, raw continuous value or None)."""
    out: dict[str, tuple[pd.Series, pd.Series | None]] = {}
    if attrs["gene_type"].notna().any():
        t = attrs["gene_type"].fillna("unknown").astype(str)
        counts = t.value_counts()
        out["gene_type"] = (t.where(t.map(counts) >= MIN_GENES, "other"), None)
    out["mitochondrial"] = (attrs["is_mito"].map({True: "mito", False: "non-mito"}), None)
    out["ribosomal_protein"] = (attrs["is_ribo"].map({True: "ribosomal", False: "non-ribosomal"}), None)
    continuous = {
        "expression_level": bias["mean_logcpm"],
        "detection_rate": (bias["detection_bulk"] + bias["detection_pseudobulk"]) / 2,
    }
    if attrs["length"].notna().sum() >= 5 * MIN_GENES:
        continuous["gene_length"] = attrs["length"].astype(float)
    for name, v in continuous.items():
        ok = v.notna()
        q = pd.Series("unknown", index=v.index, dtype=object)
        if ok.sum() >= 5:
            bins = pd.qcut(v[ok].rank(method="first"), 5, labels=[f"Q{i}" for i in range(1, 6)])
            q[ok] = bins.astype(str)
        out[name] = (q, v)
    return out


def attribute_bias(
    bias: pd.DataFrame, de: pd.DataFrame, attrs: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-category table and per-attribute test table (genes = index of ``bias``)."""
    direction = de.set_index("gene")["direction"].reindex(bias.index).fillna("ns")
    is_de = direction != "ns"
    lb = bias["log2_bias"]
    cat_rows, test_rows = [], []
    for attr, (cat, raw) in _categories(attrs.reindex(bias.index), bias).items():
        levels = [c for c in sorted(cat.unique()) if c != "unknown"]
        groups = [lb[cat == c].to_numpy() for c in levels if (cat == c).sum() >= MIN_GENES]
        for c in levels:
            m = (cat == c).to_numpy()
            a, b = int((m & is_de).sum()), int((m & ~is_de).sum())
            c2, d = int((~m & is_de).sum()), int((~m & ~is_de).sum())
            odds, p = (
                fisher_exact([[a, b], [c2, d]], alternative="two-sided") if m.sum() else (np.nan, np.nan)
            )
            cat_rows.append(
                {
                    "attribute": attr,
                    "category": c,
                    "n_genes": int(m.sum()),
                    "mean_log2_bias": float(lb[m].mean()),
                    "median_log2_bias": float(lb[m].median()),
                    "n_de": a,
                    "n_bulk_up": int((m & (direction == "bulk_up")).sum()),
                    "n_pseudobulk_up": int((m & (direction == "pseudobulk_up")).sum()),
                    "de_fraction": a / m.sum() if m.sum() else np.nan,
                    "de_odds_ratio": float(odds),
                    "de_fisher_p": float(p),
                }
            )
        row = {"attribute": attr, "n_categories": len(levels)}
        if raw is not None:
            ok = raw.notna() & lb.notna()
            rho = spearmanr(raw[ok], lb[ok]) if ok.sum() >= 3 and raw[ok].nunique() > 1 else None
            row.update(
                bias_test="spearman",
                bias_statistic=float(rho.statistic) if rho else np.nan,
                bias_p=float(rho.pvalue) if rho else np.nan,
            )
        elif len(groups) >= 2:
            h = kruskal(*groups)
            row.update(bias_test="kruskal_wallis", bias_statistic=float(h.statistic), bias_p=float(h.pvalue))
        else:
            row.update(bias_test="none", bias_statistic=np.nan, bias_p=np.nan)
        known = cat != "unknown"
        tab = pd.crosstab(cat[known], is_de[known])
        if tab.shape == (tab.shape[0], 2) and tab.shape[0] >= 2:
            chi = chi2_contingency(tab.to_numpy())
            row.update(de_test="chi_square", de_statistic=float(chi.statistic), de_p=float(chi.pvalue))
        else:
            row.update(de_test="none", de_statistic=np.nan, de_p=np.nan)
        test_rows.append(row)
    return pd.DataFrame(cat_rows), pd.DataFrame(test_rows)
