"""MultiQC custom content of the metrics stage (ids ``pbf_metrics_<dataset>_*``), written from a result."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pbfidelity.io.mqc import diagonal, write_mqc, write_mqc_table
from pbfidelity.metrics.analysis import MetricsResult

PARENT = {
    "parent_id": "pbf_metrics",
    "parent_name": "Fidelity metrics",
    "parent_description": "How closely pseudo-bulk follows bulk: correlations, PCA, DE, gene biases.",
}
COLORS = {
    "bulk_up": "#d62728",
    "pseudobulk_up": "#1f77b4",
    "ns": "#bbbbbb",
    "bulk": "#d62728",
    "pseudobulk": "#1f77b4",
}


def safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", str(text))


MODALITY_LABELS = {"bulk": "bulk", "pseudobulk": "pseudo-bulk"}
#: gene-mean scatter: colour and legend label per DE direction (discordant genes drawn as their own series)
GENE_SERIES = {
    "bulk_up": ("discordant: higher in bulk", COLORS["bulk_up"]),
    "pseudobulk_up": ("discordant: higher in pseudo-bulk", COLORS["pseudobulk_up"]),
    "ns": ("concordant", COLORS["ns"]),
}


def axis_label(component: str, fraction: float | None) -> str:
    """``PC1 (41.3% of variance)``; the bare name when the fraction is unknown."""
    if fraction is None or not np.isfinite(fraction):
        return component
    return f"{component} ({100 * float(fraction):.1f}% of variance)"


def modality_points(scores: pd.DataFrame) -> dict[str, list[dict]]:
    """Scatter data with one legend entry per modality: ``{modality: [point, ...]}``, each point named by its
    profile and grouped by modality (MultiQC's legend shows ``<group>: <names>``)."""
    out: dict[str, list[dict]] = {}
    for r in scores.itertuples():
        out.setdefault(MODALITY_LABELS.get(r.modality, str(r.modality)), []).append(
            {
                "x": round(float(r.comp1), 4),
                "y": round(float(r.comp2), 4),
                "color": COLORS.get(r.modality, "#7f7f7f"),
                "name": str(r.profile),
                "group": MODALITY_LABELS.get(r.modality, str(r.modality)),
            }
        )
    return out


def gene_mean_points(
    bias: pd.DataFrame, de: pd.DataFrame, max_concordant: int = 1500, seed: int = 42
) -> dict[str, list[dict]]:
    """Gene-wise mean log-CPM, bulk (x) vs pseudo-bulk (y): every discordant (DE) gene plus a seeded sample of
    at most ``max_concordant`` concordant ones; ``{series label: [point, ...]}``."""
    b = bias.set_index("gene") if "gene" in bias.columns else bias
    direction = de.set_index("gene")["direction"].reindex(b.index).fillna("ns")
    out: dict[str, list[dict]] = {}
    for key, (label, color) in GENE_SERIES.items():
        genes = b.index[direction.to_numpy() == key]
        if key == "ns" and len(genes) > max_concordant:
            rng = np.random.default_rng(seed)
            genes = genes[np.sort(rng.choice(len(genes), max_concordant, replace=False))]
        pts = [
            {
                "x": round(float(b.at[g, "mean_logcpm_bulk"]), 4),
                "y": round(float(b.at[g, "mean_logcpm_pseudobulk"]), 4),
                "color": color,
                "name": str(g),
                "group": label,
                **({"marker_size": 4, "opacity": 0.5, "annotate": False} if key == "ns" else {}),
            }
            for g in genes
        ]
        if pts:
            out[label] = pts
    return out


def write_gene_means(outdir: Path, pre: str, ds: str, bias: pd.DataFrame, de: pd.DataFrame) -> Path:
    """Scatter of per-gene mean log-CPM, bulk vs pseudo-bulk, with discordant genes as their own series."""
    data = gene_mean_points(bias, de)
    vals = [v for pts in data.values() for p in pts for v in (p["x"], p["y"])]
    if vals:
        data["y = x"] = diagonal(min(vals), max(vals))
    n_b = int((de["direction"] == "bulk_up").sum())
    n_p = int((de["direction"] == "pseudobulk_up").sum())
    return write_mqc(
        outdir,
        f"{pre}_gene_means",
        f"Gene means: bulk vs pseudo-bulk ({ds})",
        "Mean log-CPM of every gene in bulk (x) and pseudo-bulk (y). Discordant genes (DESeq2 DE between "
        f"modalities) are coloured: {n_b} higher in bulk (red), {n_p} higher in pseudo-bulk (blue); concordant "
        "genes are grey (a random sample when there are many); the dotted line is y = x.",
        "scatter",
        data,
        {
            "xlab": "mean log-CPM, bulk",
            "ylab": "mean log-CPM, pseudo-bulk",
            "showlegend": True,
        },
        **PARENT,
    )


#: the report's box plot of pair correlations draws at most this many values per kind: evenly spaced order
#: statistics (minimum and maximum included) when there are more; every pair is in correlation_pairs.tsv
BOX_MAX_VALUES = 2000
#: the correlation heatmap shows at most this many profiles: the profiles of evenly spaced donors when there
#: are more (both modalities of each donor shown); every pair is in correlation_pairs.tsv
HEATMAP_MAX_PROFILES = 200


def order_statistics(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` sorted, or ``k`` evenly spaced order statistics of them (first and last included)."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) <= k:
        return v
    return v[np.round(np.linspace(0, len(v) - 1, k)).astype(int)]


def heatmap_rows(donors: np.ndarray | None, n: int, max_profiles: int = HEATMAP_MAX_PROFILES) -> np.ndarray:
    """Rows of the correlation heatmap: all ``n`` profiles, or those of evenly spaced donors (sorted by name)
    so that at most ``max_profiles`` are shown."""
    if n <= max_profiles or donors is None:
        return np.arange(n)
    names = np.unique(donors)
    per_donor = n / len(names)
    k = max(1, int(max_profiles // per_donor))
    keep = set(names[np.round(np.linspace(0, len(names) - 1, min(k, len(names)))).astype(int)])
    rows = np.flatnonzero(np.isin(donors, list(keep)))
    return rows[:max_profiles]


def write_metrics_mqc(outdir: Path, result: MetricsResult) -> list[Path]:
    """Write every metrics section; returns the paths."""
    s, t = result.summary, result.tables
    ds = str(s["dataset"])
    pre = f"pbf_metrics_{safe_id(ds)}"
    out = []
    keys = [
        "n_bulk",
        "n_pseudobulk",
        "n_matched_pairs",
        "n_genes",
        "matched_pair_r",
        "unmatched_pair_r",
        "matched_vs_unmatched_p",
        "ccc_mean",
        "rmse_mean",
        "n_de",
        "n_de_bulk_up",
        "n_de_pseudobulk_up",
        "separating_component",
        "f1_overlap",
        "de_design",
        "pb_method",
    ]
    row = pd.DataFrame([{k: s.get(k) for k in keys}], index=[ds])
    row["separating_component"] = row["separating_component"].fillna("none")
    out.append(
        write_mqc_table(
            outdir,
            f"{pre}_summary",
            f"Fidelity summary ({ds})",
            "Matched-pair Pearson r on log-CPM, DESeq2 DE genes (padj < "
            f"{s['de_alpha']}, |log2FC| > {s['de_lfc_threshold']}), the sparse component "
            "separating modality and its gene overlap with DE genes (F1).",
            row,
            **PARENT,
        )
    )
    cs = t["correlation_summary"].set_index("kind")
    cs.index = [f"{ds}: {k}" for k in cs.index]
    out.append(
        write_mqc_table(
            outdir,
            f"{pre}_correlation",
            f"Correlation by pair kind ({ds})",
            "Pearson and Spearman r between profiles (log-CPM) within each modality, for "
            "matched bulk/pseudo-bulk pairs and for unmatched ones.",
            cs,
            **PARENT,
        )
    )
    mp = t["matched_pairs"].set_index("sample")
    kinds = t["correlation_pairs"]["kind"].to_numpy()
    pear = t["correlation_pairs"]["pearson"].to_numpy()
    box = {
        k: order_statistics(pear[kinds == k], BOX_MAX_VALUES).tolist()
        for k in ("matched", "unmatched", "within_bulk", "within_pseudobulk")
        if (kinds == k).any()
    }
    box_thinned = any(int((kinds == k).sum()) > BOX_MAX_VALUES for k in box)
    out.append(
        write_mqc(
            outdir,
            f"{pre}_matched_box",
            f"Matched vs unmatched r ({ds})",
            "Distribution of Pearson r of matched and unmatched bulk/pseudo-bulk pairs"
            + (f" (kinds with more than {BOX_MAX_VALUES:,} pairs drawn from {BOX_MAX_VALUES:,} evenly spaced "
               "quantiles, minimum and maximum included; every pair is in correlation_pairs.tsv)."
               if box_thinned else "."),
            "box",
            box,
            {"xlab": "Pearson r"},
            **PARENT,
        )
    )
    if len(mp):
        mp.index = [f"{ds}: {i}" for i in mp.index]
        out.append(
            write_mqc_table(
                outdir,
                f"{pre}_pairs",
                f"Matched pairs ({ds})",
                "Per matched pair: Pearson, Spearman, concordance correlation (CCC) and RMSE of log-CPM.",
                mp,
                **PARENT,
            )
        )
    rows = heatmap_rows(result.donors, len(result.profiles), HEATMAP_MAX_PROFILES)
    labels = [str(result.profiles[i]) for i in rows]
    pe = np.round(result.pearson[np.ix_(rows, rows)], 4)
    shown = (
        "all primary profiles (bulk and pseudo-bulk)"
        if len(rows) == len(result.profiles)
        else f"the {len(rows)} primary profiles of {len(np.unique(result.donors[rows]))} evenly spaced donors "
        f"(of {len(result.profiles)} profiles; every pair is in correlation_pairs.tsv)"
    )
    out.append(
        write_mqc(
            outdir,
            f"{pre}_heatmap",
            f"Correlation heatmap ({ds})",
            f"Pearson r of log-CPM between {shown}.",
            "heatmap",
            pe.tolist(),
            {"xlab": "profile", "ylab": "profile", "square": True},
            xcats=labels,
            ycats=labels,
            **PARENT,
        )
    )
    d = t["gene_mean_density"]
    out.append(
        write_mqc(
            outdir,
            f"{pre}_density",
            f"Gene mean densities ({ds})",
            "Density of per-gene mean log-CPM in each modality.",
            "linegraph",
            {
                m: dict(zip(d["mean_logcpm"].round(4), d[m].round(6), strict=True))
                for m in ("bulk", "pseudobulk")
            },
            {"xlab": "mean log-CPM", "ylab": "density", "showlegend": True},
            **PARENT,
        )
    )
    v = t["volcano"]
    out.append(
        write_mqc(
            outdir,
            f"{pre}_volcano",
            f"Volcano ({ds})",
            "DESeq2 bulk vs pseudo-bulk: log2 fold change (positive = higher in bulk) against "
            "-log10 p; all DE genes plus a random sample of the others.",
            "scatter",
            {
                g: {"x": x, "y": y, "color": COLORS[dr], "group": GENE_SERIES[dr][0]}
                for g, x, y, dr in zip(
                    v["gene"],
                    v["log2FoldChange"].round(4),
                    v["neg_log10_pvalue"].round(4),
                    v["direction"],
                    strict=True,
                )
            },
            {"xlab": "log2 fold change (bulk / pseudo-bulk)", "ylab": "-log10 p", "showlegend": True},
            **PARENT,
        )
    )
    sc = t["component_scores"]
    var = t["components"].set_index(["method", "component"])["variance_explained"]
    for method in ("pca", "sparse_pca"):
        part = sc[sc["method"] == method]
        if "comp2" not in part.columns or part["comp2"].isna().all():
            continue
        names = ("PC1", "PC2") if method == "pca" else ("sPC1", "sPC2")
        labels = [axis_label(n, var.get((method, n))) for n in names]
        out.append(
            write_mqc(
                outdir,
                f"{pre}_{method}_scores",
                f"{method.replace('_', ' ').upper()} ({ds})",
                f"Profiles on the first two components ({names[0]}, {names[1]}; % of variance explained in "
                "the axis titles); red = bulk, blue = pseudo-bulk (legend).",
                "scatter",
                modality_points(part),
                # empty suffixes: MultiQC would put '%' on the ticks of an axis title containing '%'
                {"xlab": labels[0], "ylab": labels[1], "xsuffix": "", "ysuffix": "", "showlegend": True},
                **PARENT,
            )
        )
    out.append(write_gene_means(outdir, pre, ds, t["gene_bias"], t["de_results"]))
    comp = t["components"].copy()
    comp.index = [f"{ds}: {m} {c}" for m, c in zip(comp["method"], comp["component"], strict=True)]
    out.append(
        write_mqc_table(
            outdir,
            f"{pre}_components",
            f"Components vs modality ({ds})",
            "Variance explained and bulk-vs-pseudo-bulk test of every PCA and sparse PCA "
            "component (BH-adjusted within method; auc = P(bulk score > pseudo-bulk score)).",
            comp.drop(columns=["method", "component"]),
            **PARENT,
        )
    )
    at = t["gene_attribute_tests"].set_index("attribute")
    if len(at):
        at.index = [f"{ds}: {a}" for a in at.index]
        out.append(
            write_mqc_table(
                outdir,
                f"{pre}_attributes",
                f"Gene-attribute bias ({ds})",
                "Does the bulk/pseudo-bulk log2 bias or DE status depend on gene attributes?",
                at,
                **PARENT,
            )
        )
    ab = t["gene_attribute_bias"].copy()
    if len(ab):
        ab.index = [f"{ds}: {a}: {c}" for a, c in zip(ab["attribute"], ab["category"], strict=True)]
        out.append(
            write_mqc_table(
                outdir,
                f"{pre}_attribute_categories",
                f"Bias by gene category ({ds})",
                "Per gene category: mean/median log2 bias (bulk / pseudo-bulk), DE counts and a "
                "Fisher test of DE enrichment in the category.",
                ab.drop(columns=["attribute", "category"]),
                **PARENT,
            )
        )
    return out


def write_control_mqc(outdir: Path, dataset: str, table: pd.DataFrame, floor: dict) -> list[Path]:
    """The half-split negative control: floor ratios (summary row) and the per-pair table."""
    pre = f"pbf_metrics_{safe_id(dataset)}"
    keys = [
        "n_pairs_compared",
        "matched_pair_r",
        "control_r",
        "distance_ratio",
        "rmse_ratio",
        "distance_ratio_depth_matched",
        "pairs_above_floor",
        "auroc",
        "auroc_ci_low",
        "auroc_ci_high",
        "median_cells_per_half",
    ]
    row = pd.DataFrame([{k: floor.get(k) for k in keys}], index=[dataset])
    lo, hi = floor.get("distance_ratio_ci95", [None, None])
    row.insert(4, "distance_ratio_ci_low", lo)
    row.insert(5, "distance_ratio_ci_high", hi)
    out = [
        write_mqc_table(
            outdir,
            f"{pre}_negative_control",
            f"Negative control: cell-sampling floor ({dataset})",
            "Two pseudo-bulks per pair from disjoint halves of its single-cell sample, compared like bulk "
            "with pseudo-bulk. distance_ratio = mean (1 - r) of matched bulk/pseudo-bulk pairs over that of "
            "the half pairs (1: no more different than two cell samples); auroc: the discriminate "
            f"classifier on half A vs half B. {floor.get('statement', '')}",
            row,
            **PARENT,
        )
    ]
    if len(table):
        t = table.set_index("sample")
        t.index = [f"{dataset}: {i}" for i in t.index]
        out.append(
            write_mqc_table(
                outdir,
                f"{pre}_negative_control_pairs",
                f"Negative control per pair ({dataset})",
                "Per pair: Pearson r and RMSE (log-CPM) of bulk vs pseudo-bulk and of half A vs half B.",
                t,
                **PARENT,
            )
        )
    return out
