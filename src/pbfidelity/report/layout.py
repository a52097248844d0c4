"""Report layout: parent group per stage, section order inside each group, custom-content checks (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: stage -> parent group title (the group id is ``pbf_<stage>``)
STAGE_TITLES: dict[str, str] = {
    "qc": "Quality control",
    "pseudobulk": "Pseudo-bulk profiles",
    "metrics": "Fidelity metrics and differential expression",
    "enrich": "Biological processes",
    "discriminate": "Discrimination: bulk vs pseudo-bulk",
    "calibrate": "Calibration of pseudo-bulk",
    "deconvolve": "Deconvolution: does the infidelity matter?",
    "ssl": "Self-supervised phenotype prediction",
}
STAGE_DESCRIPTIONS: dict[str, str] = {
    "qc": "Single-cell and bulk quality control, per sample.",
    "pseudobulk": "How the pseudo-bulk profiles were built and what they contain.",
    "metrics": "How closely pseudo-bulk follows bulk: correlations, PCA, differential expression, gene biases.",
    "enrich": "Processes over-represented among genes that differ between the modalities.",
    "discriminate": "Can a classifier tell bulk from pseudo-bulk on held-out donors, and which genes let it?",
    "calibrate": "A gene-wise correction learned on training donors, evaluated on held-out donors.",
    "deconvolve": "Cell-type proportions of bulk and of its pseudo-bulk from the single-cell reference: how "
    "optimistic a pseudo-bulk benchmark is, and how much a cross-fitted calibration recovers.",
    "ssl": "Self-supervised encoders against supervised baselines as labels become scarce.",
}
#: within a stage group and dataset, sections are ordered by the part of their id after the dataset name:
#: an exact match of a keyword first, then the first keyword it starts with, then by id
SECTION_KEYWORDS: tuple[str, ...] = (
    # qc and pseudobulk
    "summary",
    "overview",
    "samples",
    "metrics",
    "profiles",
    "genes",
    "cells",
    "counts_box",
    "qc_n_genes",
    "qc_pct_mito",
    "qc_violin",
    "library_sizes",
    "cells_per_sample",
    # metrics: correlations, then structure, then genes
    "corr",
    "matched",
    "pairs",
    "heatmap",
    "scatter",
    "density",
    "pca",
    "sparse",
    "components",
    "volcano",
    "de",
    "bias",
    "attribute",
    "overlap",
    # enrich, discriminate, calibrate, ssl
    "ora",
    "prerank",
    "gsea",
    "roc",
    "auroc",
    "pair_r",
    "learning",
    "permutation",
    "baseline",
    "shap",
    "beeswarm",
    "top",
    "cross",
    "before",
    "after",
    "calib",
    "curves",
    "fraction",
    "modality",
    "transfer",
    "loss",
)
ALLOWED_PLOT_TYPES = {
    "table",
    "bargraph",
    "linegraph",
    "scatter",
    "heatmap",
    "box",
    "violin",
    "html",
    "image",
    "generalstats",
}


def parent_id(stage: str) -> str:
    return f"pbf_{stage}"


def with_parent(doc: dict, stage: str) -> dict:
    """Custom-content ``doc`` placed in its stage's group (a stage's own ``parent_id`` is kept)."""
    out = dict(doc)
    if "parent_id" not in out:
        out["parent_id"] = parent_id(stage)
        out["parent_name"] = STAGE_TITLES.get(stage, stage)
    if (
        out["parent_id"] == parent_id(stage)
        and "parent_description" not in out
        and stage in STAGE_DESCRIPTIONS
    ):
        out["parent_description"] = STAGE_DESCRIPTIONS[stage]
    return out


def check_custom_content(doc: Any) -> str | None:
    """Why MultiQC would drop this custom-content document, or None if it looks valid."""
    if not isinstance(doc, Mapping):
        return "not a YAML mapping"
    if not doc.get("id") or not re.match(r"^[A-Za-z0-9_-]+$", str(doc["id"])):
        return f"missing or unsafe id {doc.get('id')!r}"
    plot_type = doc.get("plot_type")
    if plot_type not in ALLOWED_PLOT_TYPES:
        return f"plot_type {plot_type!r} is not one of {sorted(ALLOWED_PLOT_TYPES)}"
    data = doc.get("data")
    if data is None or (hasattr(data, "__len__") and len(data) == 0):
        return "no data"
    return None


def _section_key(section_id: str, datasets: Sequence[str]) -> tuple:
    ds_rank, rest = len(datasets), section_id
    for i, d in enumerate(datasets):
        marker = f"_{d}_"
        if marker in f"{section_id}_":
            ds_rank, rest = i, f"{section_id}_".split(marker, 1)[1].rstrip("_")
            break
    kw_rank = next((i for i, k in enumerate(SECTION_KEYWORDS) if rest == k), None)
    if kw_rank is None:
        kw_rank = next(
            (i for i, k in enumerate(SECTION_KEYWORDS) if rest.startswith(k)), len(SECTION_KEYWORDS)
        )
    return ds_rank, kw_rank, section_id


def section_order(
    section_ids: Iterable[str], datasets: Sequence[str], reserved: Iterable[str] = ()
) -> dict[str, dict[str, int]]:
    """``report_section_order`` entries putting sections in dataset order, then by kind, then by id.

    MultiQC sorts sections inside a group by ascending ``order``. ``reserved`` ids (group anchors) are left
    out: MultiQC would read them as the order of a whole group.
    """
    skip = set(reserved) | {parent_id(s) for s in STAGE_TITLES}
    ids = [s for s in dict.fromkeys(section_ids) if s not in skip]
    ordered = sorted(ids, key=lambda s: _section_key(s, datasets))
    return {sid: {"order": 10 * (i + 1)} for i, sid in enumerate(ordered)}
