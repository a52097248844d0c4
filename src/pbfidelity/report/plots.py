"""Extra QC and pseudo-bulk plots the report adds from the stages' tables (pure: DataFrames in, plot data out)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: per-cell QC columns shown as box plots (column -> axis label); total counts is drawn by the qc stage
CELL_METRICS = {"n_genes": "detected genes per cell", "pct_mito": "% mitochondrial counts per cell"}
#: per-sample QC columns shown as violins (column -> title)
SAMPLE_METRICS = {
    "n_cells": "Cells",
    "n_cells_pass": "Cells passing QC",
    "median_counts": "Median counts per cell",
    "median_genes": "Median genes per cell",
    "median_pct_mito": "Median % mito",
    "bulk_library_size": "Bulk library size",
    "bulk_n_genes": "Bulk detected genes",
}


def cell_metric_boxes(
    cells: pd.DataFrame, dataset: str, max_cells: int = 1000, seed: int = 42
) -> dict[str, dict[str, list[float]]]:
    """{metric: {"<dataset>_<sample>": values}} with at most ``max_cells`` cells per sample (seeded subsample)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list[float]]] = {}
    for metric in CELL_METRICS:
        if metric not in cells.columns:
            continue
        boxes = {}
        for sample, sub in cells.groupby("sample", sort=False):
            values = sub[metric].astype(float).to_numpy()
            values = values[np.isfinite(values)]
            if values.size > max_cells:
                values = np.sort(rng.choice(values, max_cells, replace=False))
            if values.size:
                boxes[f"{dataset}_{sample}"] = [round(float(x), 4) for x in values]
        if boxes:
            out[metric] = boxes
    return out


def sample_qc_violin(per_sample: pd.DataFrame, dataset: str) -> tuple[dict, dict]:
    """Violin data ``{"<dataset>_<sample>": {metric: value}}`` and MultiQC headers, from ``sample_qc.tsv``."""
    cols = [c for c in SAMPLE_METRICS if c in per_sample.columns]
    data = {
        f"{dataset}_{sample}": {c: (None if pd.isna(row[c]) else float(row[c])) for c in cols}
        for sample, row in per_sample.iterrows()
    }
    headers = {c: {"title": SAMPLE_METRICS[c], "format": "{:,.4g}"} for c in cols}
    return data, headers


def library_sizes(obs: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{sample: {"bulk": counts, "pseudo-bulk": counts}} for the primary profiles (replicate 0)."""
    o = obs.copy()
    if "replicate" in o.columns:
        o = o[o["replicate"].astype(int) == 0]
    if "pb_method" in o.columns:
        pb = o[o["modality"] == "pseudobulk"]
        methods = pb["pb_method"].astype(str).unique().tolist()
        primary = "sum" if "sum" in methods else (methods[0] if methods else None)
        o = o[(o["modality"] == "bulk") | (o["pb_method"].astype(str) == primary)]
    label = {"bulk": "bulk", "pseudobulk": "pseudo-bulk"}
    out: dict[str, dict[str, float]] = {}
    for _, row in o.iterrows():
        n = row.get("n_counts")
        if n is None or pd.isna(n):
            continue
        out.setdefault(f"{row['dataset']}_{row['sample']}", {})[
            label.get(row["modality"], row["modality"])
        ] = float(n)
    return out


def cells_per_sample(obs: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{sample: {"cells": n_cells}} for the primary pseudo-bulk profiles."""
    o = obs[obs["modality"] == "pseudobulk"]
    if "replicate" in o.columns:
        o = o[o["replicate"].astype(int) == 0]
    if "pb_method" in o.columns and (o["pb_method"].astype(str) == "sum").any():
        o = o[o["pb_method"].astype(str) == "sum"]
    if "n_cells" not in o.columns:
        return {}
    return {f"{r['dataset']}_{r['sample']}": {"cells": float(r["n_cells"])} for _, r in o.iterrows()}


def hard_threshold_lines(metric: str, params) -> list[dict]:
    """MultiQC ``x_lines`` for the fixed thresholds of the qc stage on a per-cell metric's box plot."""
    if params is None:
        return []
    style = {"color": "#d62728", "dash": "dash", "width": 2}
    if metric == "pct_mito":
        return [{"value": float(params.max_pct_mito), "label": f"cap {params.max_pct_mito:g}%", **style}]
    if metric == "n_genes" and params.min_genes > 0:
        return [{"value": float(params.min_genes), "label": f"min {params.min_genes}", **style}]
    if metric == "total_counts" and params.min_counts > 0:
        return [{"value": float(params.min_counts), "label": f"min {params.min_counts}", **style}]
    return []


def celltype_composition(obs: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{"<dataset>_<sample>": {cell type: n_cells}} from the per-cell-type pseudo-bulk profiles (replicate 0)."""
    o = obs
    if "modality" in o.columns:
        o = o[o["modality"].astype(str) == "pseudobulk"]
    if "replicate" in o.columns:
        o = o[o["replicate"].astype(int) == 0]
    if not {"cell_type", "n_cells", "sample"} <= set(o.columns):
        return {}
    out: dict[str, dict[str, float]] = {}
    for r in o.itertuples():
        key = f"{r.dataset}_{r.sample}"
        out.setdefault(key, {})[str(r.cell_type)] = out.get(key, {}).get(str(r.cell_type), 0.0) + float(
            r.n_cells
        )
    return out
