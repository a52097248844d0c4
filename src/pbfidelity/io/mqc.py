"""MultiQC custom-content files (``<id>_mqc.yaml``) written by the stage that computed the data.

MultiQC silently drops custom content it cannot parse, so values are converted to plain YAML types here
(NaN/inf become null) and ids are restricted to safe characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

_ID_RE = re.compile(r"^[A-Za-z0-9_]+$")


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

def _key(k: Any) -> Any:
    """Mapping keys stay numbers when they are numbers (line-plot x values must not become text, or MultiQC
    sorts them as strings: 10, 100, 1000, 20, ...); everything else becomes a string."""
    if isinstance(k, (bool, np.bool_)):
        return str(k)
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, (float, np.floating)) and math.isfinite(float(k)):
        f = float(k)
        return int(f) if f.is_integer() else f
    return str(k)


def to_builtin(value: Any) -> Any:
    """Recursively convert numpy/pandas values to YAML/JSON-safe builtins (non-finite floats -> None).

    Numeric mapping keys stay numeric (YAML keeps them; ``json.dumps`` turns them into strings itself)."""
    if isinstance(value, Mapping):
        return {_key(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        return [to_builtin(v) for v in list(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or (isinstance(value, str)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def diagonal(lo: float, hi: float, n: int = 40) -> list[dict]:
    """Points along y = x (MultiQC scatter plots draw no lines; a dotted grey series stands in). Every point
    carries a ``group``: MultiQC's report gives each ungrouped point its own legend entry."""
    return [
        {
            "x": round(float(v), 4),
            "y": round(float(v), 4),
            "color": "#555555",
            "marker_size": 2,
            "name": "y = x",
            "group": "y = x",
            "annotate": False,
        }
        for v in np.linspace(lo, hi, n)
    ]


def write_mqc(
    directory: Path,
    mqc_id: str,
    section_name: str,
    description: str,
    plot_type: str,
    data: Any,
    pconfig: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write one MultiQC custom-content section as ``<directory>/<mqc_id>_mqc.yaml``.

    ``plot_type`` is a MultiQC custom-content type: table, bargraph, linegraph, scatter, heatmap, box,
    violin or html. ``extra`` passes further top-level keys (e.g. ``parent_id``, ``headers``).
    """
    if not _ID_RE.match(mqc_id):
        raise ValueError(f"MultiQC id {mqc_id!r} must match {_ID_RE.pattern}")
    doc: dict[str, Any] = {
        "id": mqc_id,
        "section_name": section_name,
        "description": description,
        "plot_type": plot_type,
    }
    doc.update(extra)
    cfg = {"id": f"{mqc_id}_plot", "title": f"pbfidelity: {section_name}"}
    cfg.update(pconfig or {})
    doc["pconfig"] = cfg
    doc["data"] = data
    path = Path(directory) / f"{mqc_id}_mqc.yaml"
    # libyaml's emitter when PyYAML has it: the pure-Python one spent 35 of metrics' 88 s at 300 donors on the
    # pair-correlation box plots (one value per pair of profiles)
    path.write_text(yaml.dump(to_builtin(doc), Dumper=_DUMPER, sort_keys=False, allow_unicode=True))
    return path


def write_mqc_table(
    directory: Path,
    mqc_id: str,
    section_name: str,
    description: str,
    table: pd.DataFrame,
    pconfig: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write a DataFrame (index = row names) as a MultiQC table section.

    Unless ``headers`` are given, every column gets a readable title and a number format from
    :func:`column_headers` (MultiQC's own default shows one decimal everywhere: r = 0.951 as 1.0, p = 0.001 as
    0.0, counts as 400.0)."""
    data = {str(idx): {str(c): v for c, v in row.items()} for idx, row in table.iterrows()}
    if "headers" not in extra:
        extra["headers"] = column_headers(table)
    return write_mqc(directory, mqc_id, section_name, description, "table", data, pconfig, **extra)


_P_COLUMN = re.compile(r"(^|[_ ])(p|pval|pvalue|p_value|padj|fdr|qvalue|q_value)($|[_ ])|permutation_p", re.I)


def column_format(name: str, values: pd.Series) -> str | None:
    """The number format of one table column: scientific for p-values, integers as integers, else 3 decimals
    (correlations, AUROC, fractions); None for text columns."""
    if pd.api.types.is_bool_dtype(values) or any(isinstance(x, (bool, np.bool_)) for x in values):
        return None
    v = pd.to_numeric(values, errors="coerce")
    if v.notna().sum() == 0 or (values.notna() & v.isna()).any():
        return None
    if _P_COLUMN.search(str(name)):
        return "{:.2e}"
    finite = v[np.isfinite(v)]
    if len(finite) and (pd.api.types.is_integer_dtype(values) or bool(np.all(finite == np.round(finite)))):
        if pd.api.types.is_integer_dtype(values) or re.search(
            r"(^|_)(n|count|counts|size|genes|cells)($|_)|^n_", str(name)
        ):
            return "{:,.0f}"
    return "{:,.3f}"


def readable(name: str) -> str:
    """``n_genes_detected`` -> ``n genes detected``; ``auroc_ci_low`` -> ``AUROC CI low``."""
    words = str(name).replace("_", " ").split()
    upper = {
        "auroc",
        "ci",
        "de",
        "rmse",
        "ccc",
        "lfc",
        "cpm",
        "umi",
        "pca",
        "shap",
        "fdr",
        "ssl",
        "mad",
        "ercc",
    }
    return " ".join(w.upper() if w.lower() in upper else w for w in words) or str(name)


def column_headers(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """MultiQC table headers (title, description, format) for every column of ``table``."""
    out: dict[str, dict[str, Any]] = {}
    for c in table.columns:
        h: dict[str, Any] = {"title": readable(c), "description": str(c)}
        fmt = column_format(c, table[c])
        if fmt:
            h["format"] = fmt
        out[str(c)] = h
    return out
