"""Which cells of a single-cell file belong to which samplesheet row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pbfidelity.errors import UserError
from pbfidelity.io.samplesheet import SampleRow


def assign_cells(rows: list[SampleRow], obs: pd.DataFrame, sample_key: str, path) -> dict[str, np.ndarray]:
    """Cell indices per sample for the rows that share one single-cell file.

    Cells whose ``obs[sample_key]`` equals a row's ``sc_id`` belong to that row; several rows may share
    one ``sc_id`` (e.g. pools drawn from one cell suspension). A file without that column is a per-sample
    file and is taken whole, which only works when one row uses it.
    """
    if sample_key not in obs.columns:
        if len(rows) > 1:
            raise UserError(
                f"{path}: used by {len(rows)} samplesheet rows (rows {[r.row for r in rows]}) but its "
                f"cells have no '{sample_key}' column to tell the samples apart"
            )
        return {rows[0].sample: np.arange(len(obs))}
    keys = obs[sample_key].astype(str).to_numpy()
    out = {}
    for r in rows:
        hit = np.flatnonzero(keys == r.sc_id)
        if hit.size == 0:
            known = sorted(set(keys))[:8]
            raise UserError(
                f"{path}: no cells with {sample_key} == '{r.sc_id}' (samplesheet row {r.row}, column "
                f"'sc_id'); values present: {known}"
            )
        out[r.sample] = hit
    return out


def group_by_file(rows: list[SampleRow]) -> dict:
    """Rows grouped by their single-cell file (the same file under two names is one file), in order of first
    appearance; keys are the paths as the samplesheet gives them (messages show what the user wrote)."""
    grouped: dict = {}
    shown: dict = {}
    for r in rows:
        key = shown.setdefault(r.singlecell.resolve(), r.singlecell)
        grouped.setdefault(key, []).append(r)
    return grouped
