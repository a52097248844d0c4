"""Checks of cross-stage options against the inputs, before the first stage of ``pbfidelity run`` runs.

A typo in ``--label-column``, ``--celltype-key``, ``--sc-sample-key`` or ``--layer`` would otherwise surface
only after QC and pseudo-bulk have run. Only metadata is read (samplesheet columns, ``.h5ad`` obs column
names and layer names with h5py, the obs table of a genes x cells CSV); every problem is listed in one
message.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from pbfidelity.errors import UserError
from pbfidelity.io.samplesheet import SampleRow

DEFAULT_SAMPLE_KEY = "sample"
DEFAULT_CELLTYPE_KEY = "cell_type"


def singlecell_metadata(path: Path) -> tuple[list[str], list[str] | None]:
    """``(obs columns, count matrices offered to --layer)`` of a single-cell input; layers is None for
    formats without layers (10x, mtx, CSV)."""
    from pbfidelity.io.singlecell import h5ad_layers, obs_table_for

    name = path.name.lower()
    if name.endswith(".h5ad") and path.is_file():
        try:
            with h5py.File(path, "r") as f:
                obs = f["obs"]
                cols = [k for k in obs.keys() if k not in ("_index", "__categories")]
                cols += [c for c in obs.attrs.get("column-order", []) if c not in cols]
        except (OSError, KeyError) as exc:
            raise UserError(f"{path}: cannot read .h5ad metadata ({type(exc).__name__}: {exc})") from None
        return [str(c) for c in cols], h5ad_layers(path)
    side = obs_table_for(path)
    if side is not None:
        import pandas as pd

        header = pd.read_csv(side, sep=None, engine="python", nrows=0).columns
        return [str(c) for c in header[1:]], None
    return [], None


def check_run_options(
    rows: list[SampleRow],
    *,
    label_column: str | None = None,
    sample_key: str | None = None,
    celltype_key: str | None = None,
    layer: str | None = None,
    proportions: bool = False,
) -> None:
    """Raise one :class:`UserError` listing every option that does not fit the inputs."""
    problems: list[str] = []
    if label_column:
        columns = sorted({k for r in rows for k in r.extra})
        if not any(label_column in r.extra for r in rows):
            problems.append(
                f"--label-column '{label_column}' is not a samplesheet column (extra columns: {columns})"
            )
    files: dict[Path, tuple[Path, list[SampleRow]]] = {}
    for r in rows:
        files.setdefault(r.singlecell.resolve(), (r.singlecell, []))[1].append(r)
    skey = sample_key or DEFAULT_SAMPLE_KEY
    ckey = celltype_key or DEFAULT_CELLTYPE_KEY
    for shown, frows in files.values():
        cols, layers = singlecell_metadata(shown)
        if len(frows) > 1 and skey not in cols:
            flag = f"--sc-sample-key '{skey}'" if sample_key else f"the sample key '{skey}' (--sc-sample-key)"
            problems.append(
                f"{shown}: used by samplesheet rows {[r.row for r in frows]} but its obs lacks {flag}; "
                f"obs columns: {cols[:12]}"
            )
        elif sample_key and len(frows) == 1 and cols and skey not in cols:
            problems.append(
                f"{shown}: --sc-sample-key '{skey}' is not an obs column; obs columns: {cols[:12]}"
            )
        if (celltype_key or proportions) and ckey not in cols:
            flag = (
                f"--celltype-key '{ckey}'" if celltype_key else f"the cell-type key '{ckey}' (--celltype-key)"
            )
            why = " (needed by --proportions)" if proportions and not celltype_key else ""
            problems.append(f"{shown}: obs lacks {flag}{why}; obs columns: {cols[:12]}")
        if layer is not None:
            if layers is None:
                problems.append(f"{shown}: --layer '{layer}' applies to .h5ad files only")
            elif layer not in layers:
                problems.append(f"{shown}: --layer '{layer}' is not in the file; it offers {layers}")
    if problems:
        raise UserError("options do not fit the inputs: " + "; ".join(problems))
