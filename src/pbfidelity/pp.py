"""Python API, preprocessing (scanpy style): build pseudo-bulk and paired profiles from in-memory data.

>>> import pbfidelity as pbf
>>> pb = pbf.pp.pseudobulk(adata, sample_key="sample", celltype_key="cell_type")          # doctest: +SKIP
>>> profiles = pbf.pp.build_profiles(bulk, adata, pairs)                                  # doctest: +SKIP

These call the same functions as ``pbfidelity pseudobulk`` (:mod:`pbfidelity.pseudobulk.build`), so a
notebook and the CLI give identical profiles for the same inputs and seed. See ``docs/api.md``.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from pbfidelity.errors import UserError

__all__ = ["build_profiles", "pseudobulk"]


def pseudobulk(
    adata: ad.AnnData,
    *,
    sample_key: str = "sample",
    celltype_key: str | None = None,
    layer: str | None = None,
    min_cells: int = 1,
) -> ad.AnnData:
    """Sum the raw counts of the cells of each sample (and cell type, with ``celltype_key``).

    ``layer``: ``'X'``, ``'raw'`` or a name in ``adata.layers`` (default: ``layers['counts']``, then ``.raw``,
    then ``X``); values must be non-negative integers. Returns an AnnData with one row per group, integer
    counts in ``X`` and ``obs`` columns ``sample`` (+ ``cell_type``), ``n_cells`` and ``n_counts``; groups with
    fewer than ``min_cells`` cells are left out.
    """
    from pbfidelity.pseudobulk.aggregate import aggregate_stream
    from pbfidelity.pseudobulk.build import memory_source
    from pbfidelity.pseudobulk.weights import group_weights

    src = memory_source(adata, layer=layer)
    for key in (sample_key, celltype_key):
        if key is not None and key not in src.obs.columns:
            raise UserError(f"adata.obs has no column {key!r}; columns: {list(src.obs.columns)[:12]}")
    keys = [sample_key] + ([celltype_key] if celltype_key else [])
    labels = src.obs[keys].astype(str)
    groups, rows = [], []
    for values, frame in labels.groupby(keys, sort=True, observed=True):
        values = values if isinstance(values, tuple) else (values,)
        idx = src.obs.index.get_indexer(frame.index)
        if idx.size < min_cells:
            continue
        groups.append(np.sort(idx))
        rows.append(
            {**dict(zip(["sample", "cell_type"][: len(keys)], values, strict=True)), "n_cells": idx.size}
        )
    if not groups:
        raise UserError(f"no group has at least {min_cells} cells")
    x = aggregate_stream(src.iter_chunks(), group_weights(groups, src.n_obs), src.n_vars)
    obs = pd.DataFrame(rows)
    obs.index = [":".join(str(r[k]) for k in ("sample", "cell_type") if k in r) for r in rows]
    counts = np.rint(np.asarray(x)).astype(np.int64)
    obs["n_counts"] = counts.sum(axis=1)
    return ad.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=pd.Index(src.var_names, name="gene")))


def _pair_rows(pairs: pd.DataFrame | list[dict], dataset: str):
    from pbfidelity.io.samplesheet import CORE_COLUMNS, SampleRow

    table = pd.DataFrame(pairs).astype(str) if not isinstance(pairs, pd.DataFrame) else pairs.astype(str)
    if "sample" not in table.columns:
        raise UserError(f"pairs need a 'sample' column; columns: {list(table.columns)}")
    if table["sample"].duplicated().any():
        raise UserError(
            f"pairs: sample '{table['sample'][table['sample'].duplicated()].iloc[0]}' appears twice"
        )
    rows = []
    for i, rec in enumerate(table.to_dict("records"), start=1):
        rows.append(
            SampleRow(
                row=i,
                dataset=rec.get("dataset", dataset),
                sample=rec["sample"],
                bulk=Path("<bulk>"),
                singlecell=Path("<AnnData>"),
                bulk_id=rec.get("bulk_id", rec["sample"]),
                sc_id=rec.get("sc_id", rec["sample"]),
                donor=rec.get("donor", rec["sample"]),
                extra={k: v for k, v in rec.items() if k not in CORE_COLUMNS},
            )
        )
    return rows


def build_profiles(
    bulk: pd.DataFrame,
    adata: ad.AnnData,
    pairs: pd.DataFrame | list[dict],
    *,
    dataset: str = "dataset",
    sample_key: str = "sample",
    celltype_key: str = "cell_type",
    layer: str | None = None,
    gene_names: pd.Series | None = None,
    annotation: str | Path | None = None,
    passing: dict[str, list[str]] | None = None,
    proportions: dict[str, dict[str, float]] | None = None,
    min_cells: int = 10,
    n_replicates: int = 0,
    min_detection: float = 0.2,
    exclude_genes: str | None = None,
    exclude_gene_classes: str | None = None,
    seed: int = 42,
) -> ad.AnnData:
    """The profiles AnnData of the architecture contract: bulk columns beside the pseudo-bulk of their cells.

    ``bulk``: genes x samples raw counts (columns named by ``pairs['bulk_id']``, default ``pairs['sample']``).
    ``adata``: cells x genes with raw counts (see :func:`pseudobulk` for ``layer``); cells whose
    ``obs[sample_key]`` equals a pair's ``sc_id`` (default: its ``sample``) are summed.
    ``pairs``: one row per paired sample: ``sample`` [, ``bulk_id``, ``sc_id``, ``donor``, ``dataset``, extra
    columns carried to ``obs``]. ``gene_names``: bulk gene id -> symbol (as a ``gene_name`` column gives).
    ``passing``: sample -> barcodes that passed cell QC (default: all cells). Other options as
    ``pbfidelity pseudobulk``. Same function as the CLI, hence the same result for the same inputs and seed.
    """
    from pbfidelity.io.genes import GeneAnnotation
    from pbfidelity.pseudobulk.build import ProfileOptions, build_dataset_profiles, memory_source

    rows = _pair_rows(pairs, dataset)
    if len({r.dataset for r in rows}) > 1:
        raise UserError("pairs hold several datasets; build one dataset at a time")
    missing = [r.bulk_id for r in rows if r.bulk_id not in bulk.columns]
    if missing:
        raise UserError(f"bulk has no column '{missing[0]}'; columns: {list(bulk.columns)[:10]}")
    counts = bulk[[r.bulk_id for r in rows]].copy()
    counts.columns = [r.sample for r in rows]
    counts.index = counts.index.astype(str)
    values = counts.to_numpy()
    if not np.issubdtype(values.dtype, np.number) or (values < 0).any() or (values != np.round(values)).any():
        raise UserError("bulk must hold raw non-negative integer counts (round estimated counts first)")
    src = memory_source(adata, layer=layer)
    options = ProfileOptions(
        sample_key=sample_key,
        celltype_key=celltype_key,
        min_cells=min_cells,
        n_replicates=n_replicates,
        min_detection=min_detection,
        seed=seed,
        exclude_genes=exclude_genes,
        exclude_gene_classes=exclude_gene_classes,
        proportions=proportions,
    )
    result = build_dataset_profiles(
        rows,
        counts.astype(np.int64),
        [(src, rows)],
        options=options,
        bulk_symbols=gene_names,
        annotation=GeneAnnotation.read(annotation) if annotation is not None else None,
        passing={k: pd.Index(v) for k, v in passing.items()} if passing is not None else None,
    )
    return result.adata
