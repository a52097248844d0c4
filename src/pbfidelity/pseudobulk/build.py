"""Build the profiles AnnData of one dataset: bulk columns beside pseudo-bulk profiles of their paired cells.

The logic of ``pbfidelity pseudobulk`` lives here, reachable from the CLI (which reads files and writes
outputs) and from the Python API (:func:`pbfidelity.pp.build_profiles`, in-memory AnnData):

1. per single-cell source, one sparse weight matrix over its cells (sum per sample, proportion-matched
   draws, bootstrap pseudo-replicates, per-cell-type sums), applied in one streamed pass;
2. gene ids harmonised into one namespace (gene names carried by the inputs — a bulk ``gene_name`` column,
   10x ``features/name``, an ``.h5ad`` symbol column — map Ensembl ids and symbols without an annotation);
3. technical gene classes recognised (spike-ins, mitochondrial, ribosomal; :mod:`pbfidelity.qc.genes`),
   per-profile covariates computed over the shared genes *before* any exclusion (``pct_spike_in``,
   ``pct_mito``, ``pct_ribo``, ``n_genes_detected``), then spike-ins (and ``exclude_gene_classes``)
   removed from the genes of every downstream stage, and what was removed recorded in ``uns``;
4. the detection filter and normalised layers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import UserError
from pbfidelity.io.assign import assign_cells
from pbfidelity.io.genes import GeneAnnotation, choose_target, harmonise_ids, intersection_report
from pbfidelity.io.samplesheet import SampleRow
from pbfidelity.io.singlecell import SingleCellSource
from pbfidelity.memory import release
from pbfidelity.pseudobulk.aggregate import aggregate_stream
from pbfidelity.pseudobulk.control import (
    control_rng,
    halfsplit_cells,
    replacement_warning,
    shared_sample_warning,
    split_halves,
)
from pbfidelity.pseudobulk.profiles import (
    filter_and_normalise,
    integer_counts,
    profiles_anndata,
    target_cell_numbers,
)
from pbfidelity.pseudobulk.weights import bootstrap_weights, group_weights, proportion_weights
from pbfidelity.qc.genes import class_covariates, gene_classes, parse_exclude_genes, parse_gene_classes

log = logging.getLogger("pbfidelity.pseudobulk")

#: per-profile technical covariates in ``obs`` (over the shared genes, before any gene exclusion)
COVARIATE_COLUMNS = ("pct_spike_in", "pct_mito", "pct_ribo", "n_genes_detected")
NEGATIVE_CONTROL_DESIGN = (
    "two pseudo-bulks per pair from disjoint halves of its single-cell sample (split once per sample, "
    "stratified by cell type; proportion-matched halves keep the pair's composition with at most half its "
    "cells each); pb_method=halfsplit, obs 'half' = A/B"
)


@dataclass
class ProfileOptions:
    """Options of :func:`build_dataset_profiles` (the CLI flags of ``pbfidelity pseudobulk``)."""

    sample_key: str = "sample"
    celltype_key: str = "cell_type"
    min_cells: int = 10
    n_replicates: int = 0
    min_detection: float = 0.2
    seed: int = 42
    chunk_size: int = 20_000
    exclude_genes: str | list[str] | None = None
    exclude_gene_classes: str | list[str] | None = None
    proportions: dict[str, dict[str, float]] | None = None
    proportions_source: str = "proportions"


@dataclass
class ProfilesResult:
    """The profiles AnnData, the per-cell-type profiles and the half-split negative control (or None), the
    gene-filter table, the summary and the sampling warnings."""

    adata: ad.AnnData
    celltype: ad.AnnData | None
    gene_table: pd.DataFrame
    summary: dict
    notes: list[str] = field(default_factory=list)
    control: ad.AnnData | None = None
    warnings: list[dict] = field(default_factory=list)


@dataclass
class _FilePlan:
    weights: sp.csr_matrix | None
    obs_rows: list[dict]
    n_main: int
    ct_rows: list[dict]
    ctrl_rows: list[dict] = field(default_factory=list)
    ctrl_fraction: list[float] = field(default_factory=list)


def _plan_source(
    src: SingleCellSource,
    frows: list[SampleRow],
    ds: str,
    opts: ProfileOptions,
    passing: dict[str, pd.Index] | None,
    rng: np.random.Generator,
    notes: list[str],
    ctrl_rng: np.random.Generator,
    warnings: list[dict],
    targets: dict[str, dict[str, int]] | None = None,
) -> _FilePlan:
    """The weight matrix (profiles x cells of ``src``) for the samplesheet rows that use ``src``; ``targets``
    collects the cells drawn per cell type of each proportion-matched pseudo-bulk."""
    path = src.path
    members = assign_cells(frows, src.obs, opts.sample_key, path)
    barcodes = src.obs.index.to_numpy()
    has_ct = opts.celltype_key in src.obs.columns
    cts = src.obs[opts.celltype_key].astype(str).to_numpy() if has_ct else None
    props = opts.proportions
    groups, obs_rows, ct_groups, ct_rows = [], [], [], []
    prop_pools, prop_targets, prop_rows = [], [], []
    halves: dict[str, tuple] = {}  # sc_id -> (half A, half B) of that single-cell sample's cells
    primary_rows = []  # (row, passing cells, target numbers or None) of rows with a pseudo-bulk
    for r in frows:
        idx = members[r.sample]
        if r.sc_id not in halves:
            halves[r.sc_id] = split_halves(idx, cts[idx] if has_ct else None, ctrl_rng)
        if passing is not None:
            idx = idx[pd.Index(barcodes[idx]).isin(passing.get(r.sample, pd.Index([])))]
        if idx.size < opts.min_cells:
            notes.append(
                f"sample {r.sample}: {idx.size} cells pass QC (< --min-cells {opts.min_cells}); no pseudo-bulk"
            )
            log.warning("%s", notes[-1])
            continue
        meta = {"dataset": ds, "sample": r.sample, "donor": r.donor, "modality": "pseudobulk", **r.extra}
        if props is not None:
            if not has_ct:
                raise UserError(f"{path}: --proportions needs cell types in obs column '{opts.celltype_key}'")
            target = target_cell_numbers(props[r.sample], idx.size)
            pools = {}
            for ct, n in target.items():
                pool = idx[cts[idx] == ct]
                if n > 0 and pool.size == 0:
                    raise UserError(
                        f"{opts.proportions_source}: sample '{r.sample}' asks for {n} '{ct}' cells but "
                        f"{path} has no passing '{ct}' cells for it"
                    )
                if n > pool.size:
                    warnings.append(replacement_warning(r.sample, ct, n, pool.size))
                pools[ct] = pool
            primary_rows.append((r, idx, target))
            if targets is not None:
                targets[str(r.sample)] = {str(ct): int(n) for ct, n in target.items()}
            prop_pools.append(pools)
            prop_targets.append(target)
            n_cells = int(sum(target.values()))
            prop_rows.append({**meta, "pb_method": "proportion", "replicate": 0, "n_cells": n_cells})
        else:
            primary_rows.append((r, idx, None))
            groups.append(idx)
            obs_rows.append({**meta, "pb_method": "sum", "replicate": 0, "n_cells": int(idx.size)})
        if has_ct:
            for ct in sorted(set(cts[idx])):
                sub = idx[cts[idx] == ct]
                if sub.size >= opts.min_cells:
                    ct_groups.append(sub)
                    ct_rows.append(
                        {
                            **meta,
                            "cell_type": ct,
                            "pb_method": "sum",
                            "replicate": 0,
                            "n_cells": int(sub.size),
                        }
                    )
    n = src.n_obs
    mats = []
    if groups:
        mats.append(group_weights(groups, n))
    if prop_targets:
        mats.append(proportion_weights(prop_pools, prop_targets, n, rng))
        obs_rows = prop_rows
    reps = opts.n_replicates
    if reps > 0 and obs_rows:
        if prop_targets:  # each replicate is a fresh proportion-matched draw
            draws = [proportion_weights(prop_pools, prop_targets, n, rng) for _ in range(reps)]
            n_s = len(prop_targets)
            mats.append(
                sp.vstack(draws, format="csr")[[k * n_s + i for i in range(n_s) for k in range(reps)]]
            )
            sizes = [int(sum(t.values())) for t in prop_targets]
        else:  # bootstrap: as many cells as the sample has, drawn with replacement
            mats.append(bootstrap_weights(groups, reps, n, rng))
            sizes = [len(g) for g in groups]
        # replicate rows follow the primary rows, sample by sample, so row order is stable
        for o, size in zip(list(obs_rows), sizes, strict=True):
            for k in range(1, reps + 1):
                obs_rows.append({**o, "pb_method": "bootstrap", "replicate": k, "n_cells": size})
    n_main = sum(m.shape[0] for m in mats)
    if mats:  # one single-cell sample feeding several pairs: their pseudo-bulks share cells
        by_sc: dict[str, list[int]] = {}
        for k, (r, _idx, _t) in enumerate(primary_rows):
            by_sc.setdefault(r.sc_id, []).append(k)
        for sc_id, ks in by_sc.items():
            if len(ks) > 1 and opts.sample_key in src.obs.columns:
                w = mats[0][ks]  # primary rows come first, in primary_rows order
                warnings.append(
                    shared_sample_warning(sc_id, Path(path).name, [primary_rows[k][0].sample for k in ks], w)
                )
    if ct_groups:
        mats.append(group_weights(ct_groups, n))
    ctrl_groups, ctrl_rows, ctrl_fraction = [], [], []
    for r, idx, target in primary_rows:
        hplan = halfsplit_cells(
            idx, *halves[r.sc_id], cts if has_ct else None, target, ctrl_rng, max(2, opts.min_cells // 2)
        )
        if hplan.note:
            notes.append(f"sample {r.sample}: {hplan.note}")
            log.warning("%s", notes[-1])
            continue
        ctrl_fraction.append(hplan.fraction)
        for half, cells in (("A", hplan.a), ("B", hplan.b)):
            ctrl_groups.append(cells)
            ctrl_rows.append(
                {
                    "dataset": ds,
                    "sample": r.sample,
                    "donor": r.donor,
                    "modality": "pseudobulk",
                    **r.extra,
                    "pb_method": "halfsplit",
                    "half": half,
                    "replicate": 0,
                    "n_cells": int(cells.size),
                }
            )
    if ctrl_groups:
        mats.append(group_weights(ctrl_groups, n))
    W = sp.vstack(mats, format="csr") if mats else None
    return _FilePlan(W, obs_rows, n_main, ct_rows, ctrl_rows, ctrl_fraction)


#: profile rows moved into the harmonised gene namespace at a time (bounds the temporaries)
_ROW_STEP = 256


def _shared_counts(blocks: list[np.ndarray], collapse: sp.spmatrix, columns: np.ndarray):
    """``(np.vstack(blocks) @ collapse)[:, columns]`` in steps of :data:`_ROW_STEP` rows: yields
    ``(first_row, rows)`` in the harmonised gene ids, only the ``columns`` kept. Exact (sums of integer
    counts), so the steps stacked equal the one-shot product."""
    c = sp.csc_matrix(collapse)[:, columns]
    r = 0
    for b in blocks:
        for s in range(0, b.shape[0], _ROW_STEP):
            part = np.asarray(b[s : s + _ROW_STEP] @ c)
            yield r, part
            r += part.shape[0]


def _propagate(mask: np.ndarray, collapse: sp.csr_matrix) -> np.ndarray:
    """A per-old-gene boolean mask carried through an id collapse (any member -> the merged gene)."""
    return np.asarray(collapse.T @ mask.astype(np.float64)).ravel() > 0


def build_dataset_profiles(
    rows: list[SampleRow],
    bulk: pd.DataFrame,
    sources: Iterable[tuple[SingleCellSource, list[SampleRow]]],
    *,
    options: ProfileOptions | None = None,
    bulk_symbols: pd.Series | None = None,
    annotation: GeneAnnotation | None = None,
    passing: dict[str, pd.Index] | None = None,
    notes: list[str] | None = None,
) -> ProfilesResult:
    """Profiles of one dataset from its bulk counts (genes x samples, columns = ``row.sample``) and the
    single-cell sources of its rows (each with the rows that use it). See the module docstring."""
    opts = options or ProfileOptions()
    notes = list(notes or [])
    ds = rows[0].dataset
    by_sample = {r.sample: r for r in rows}
    rng = np.random.default_rng(opts.seed)
    ctrl_rng = control_rng(opts.seed)  # own stream: the primary draws do not depend on the control
    warnings: list[dict] = []  # structured sampling warnings (also in notes, the log and MultiQC)
    targets: dict[str, dict[str, int]] = {}  # proportion matching: cells drawn per cell type per sample
    ctrl_blocks, ctrl_obs, ctrl_fraction = [], [], []
    patterns = parse_exclude_genes(opts.exclude_genes)
    classes_out = parse_gene_classes(opts.exclude_gene_classes)

    pb_blocks, pb_obs, ct_blocks, ct_obs = [], [], [], []
    sc_genes, sc_symbols = None, None
    for src, frows in sources:
        plan = _plan_source(src, frows, ds, opts, passing, rng, notes, ctrl_rng, warnings, targets)
        if plan.weights is None:
            continue
        acc = aggregate_stream(src.iter_chunks(opts.chunk_size), plan.weights, src.n_vars)
        genes = src.var_names
        if sc_genes is not None and not genes.equals(sc_genes):
            raise UserError(
                f"{src.path}: its genes differ from the other single-cell files of dataset '{ds}'"
            )
        sc_genes = genes
        if src.gene_symbols is not None:
            sc_symbols = src.gene_symbols
        n_ct = len(plan.ct_rows)
        pb_blocks.append(acc[: plan.n_main])  # views: the accumulator lives until the last is dropped
        pb_obs += plan.obs_rows
        ct_blocks.append(acc[plan.n_main : plan.n_main + n_ct])
        ct_obs += plan.ct_rows
        ctrl_blocks.append(acc[plan.n_main + n_ct :])
        ctrl_obs += plan.ctrl_rows
        ctrl_fraction += plan.ctrl_fraction
    if not pb_obs:
        raise UserError(f"dataset '{ds}': no sample has enough cells for a pseudo-bulk profile")
    acc = None  # the blocks (views) keep what is still needed; each list is dropped once used

    # --- gene ids: one namespace (names carried by the inputs complete the annotation), collapse, intersect
    carried = [GeneAnnotation.from_pairs(s) for s in (bulk_symbols, sc_symbols) if s is not None]
    carried = [c for c in carried if c is not None]
    mapping = annotation
    for c in carried:
        mapping = c if mapping is None else mapping.merged(c)
    name_sources = [
        label
        for label, s in (("bulk gene_name column", bulk_symbols), ("single-cell gene names", sc_symbols))
        if s is not None and GeneAnnotation.from_pairs(s) is not None
    ]
    target = choose_target(bulk.index, sc_genes, mapping)
    hb, hs = harmonise_ids(bulk.index, target, mapping), harmonise_ids(sc_genes, target, mapping)
    bulk_x = hb.apply(sp.csr_matrix(bulk.T.to_numpy())).toarray()
    pb_x = np.asarray(np.vstack(pb_blocks) @ hs.collapse)
    shared = hb.ids.intersection(hs.ids, sort=False)
    inter = intersection_report(hb.ids, hs.ids, bulk_x.sum(axis=0), pb_x.sum(axis=0))
    if len(shared) == 0:
        raise UserError(
            f"dataset '{ds}': bulk and single-cell data share no gene ids "
            f"(bulk e.g. {list(hb.ids[:3])}, single-cell e.g. {list(hs.ids[:3])})"
        )
    bi, si = hb.ids.get_indexer(shared), hs.ids.get_indexer(shared)

    # --- technical gene classes on each side's own ids and names, carried to the shared genes
    cb = gene_classes(bulk.index, symbols=bulk_symbols, annotation=mapping, exclude_genes=patterns)
    cs = gene_classes(sc_genes, symbols=sc_symbols, annotation=mapping, exclude_genes=patterns)
    classes = pd.DataFrame(index=pd.Index(shared, name="gene"))
    for c in ("spike_in", "mito", "ribo"):
        classes[c] = (
            _propagate(cb[c].to_numpy(), hb.collapse)[bi] | _propagate(cs[c].to_numpy(), hs.collapse)[si]
        )
    sym_b = pd.Series(cb["symbol"].to_numpy(), index=hb.ids[np.asarray(hb.collapse.argmax(axis=1)).ravel()])
    sym_s = pd.Series(cs["symbol"].to_numpy(), index=hs.ids[np.asarray(hs.collapse.argmax(axis=1)).ravel()])
    sym = sym_s[~sym_s.index.duplicated()].reindex(shared)
    sym = sym.where(sym.notna(), sym_b[~sym_b.index.duplicated()].reindex(shared)).astype(str)
    classes["symbol"] = sym.to_numpy()

    x_shared = np.vstack([bulk_x[:, bi], pb_x[:, si]])
    del bulk_x, pb_x, pb_blocks  # the per-cell-type and control blocks still hold the accumulator
    bulk_obs = pd.DataFrame(
        [
            {
                "dataset": ds,
                "sample": s,
                "donor": by_sample[s].donor,
                "modality": "bulk",
                **by_sample[s].extra,
                "pb_method": "bulk",
                "replicate": 0,
                "n_cells": 0,
            }
            for s in bulk.columns
        ]
    )
    obs = pd.concat([bulk_obs, pd.DataFrame(pb_obs)], ignore_index=True)
    obs.index = [
        f"{o.dataset}:{o.sample}:{'bulk' if o.modality == 'bulk' else o.pb_method}"
        + (f":{o.replicate}" if o.replicate else "")
        for o in obs.itertuples()
    ]
    cov = class_covariates(x_shared, classes)
    for col in COVARIATE_COLUMNS:
        obs[col] = cov[col].to_numpy()

    excluded_mask = classes["spike_in"].to_numpy().copy()
    for c in classes_out:
        excluded_mask |= classes[c].to_numpy()
    keep = ~excluded_mask
    totals = x_shared.sum(axis=1)
    modality = obs["modality"].to_numpy()
    frac_out = x_shared[:, excluded_mask].sum(axis=1) / np.where(totals > 0, totals, 1)
    excluded = {
        "always": ["spike_in"],
        "classes": classes_out,
        "patterns": ["ERCC-*"] + [p.pattern for p in patterns],
        "genes": {c: [str(g) for g in shared[classes[c].to_numpy()]] for c in ["spike_in", *classes_out]},
        "n_genes": int(excluded_mask.sum()),
        "mean_fraction_of_counts": {
            m: float(frac_out[modality == m].mean()) for m in ("bulk", "pseudobulk") if (modality == m).any()
        },
        "n_recognised": {c: int(classes[c].sum()) for c in ("spike_in", "mito", "ribo")},
        "gene_name_sources": name_sources,
    }
    if excluded_mask.any():
        notes.append(
            f"{int(excluded_mask.sum())} gene(s) excluded from every gene-level stage "
            f"({', '.join(f'{c}: {len(v)}' for c, v in excluded['genes'].items())}); kept as QC covariates"
        )
        log.info("%s", notes[-1])
    if not keep.any():
        raise UserError(f"dataset '{ds}': every shared gene is excluded (spike-ins/--exclude-genes/classes)")
    kept_genes = shared[keep]
    kept_cols = np.flatnonzero(keep)
    adata = profiles_anndata(x_shared, obs, kept_genes, kept_cols)
    del x_shared
    adata.var["symbol"] = classes["symbol"].to_numpy()[keep]
    adata.var["is_mito"] = classes["mito"].to_numpy()[keep]
    adata.var["is_ribo"] = classes["ribo"].to_numpy()[keep]
    adata, gene_table = filter_and_normalise(adata, opts.min_detection)
    release()  # AnnData subsetting leaves reference cycles: free the unfiltered matrix now
    # per-cell-type and control profiles keep the genes of the profiles: positions in the shared genes
    final_cols = kept_cols[kept_genes.get_indexer(adata.var_names)]
    adata.uns["pbfidelity"] = {
        "stage": "pseudobulk",
        "dataset": ds,
        "seed": opts.seed,
        "primary_method": "proportion" if opts.proportions is not None else "sum",
        "gene_harmonisation": {"bulk": hb.report, "singlecell": hs.report, "intersection": inter},
        "excluded_genes": excluded,
        "covariates": {
            "columns": list(COVARIATE_COLUMNS),
            "computed_over": "genes shared by both modalities after ID harmonisation, before any exclusion",
        },
        "gene_filter": {
            "min_detection": opts.min_detection,
            "n_before": int(keep.sum()),
            "n_after": int(adata.n_vars),
        },
        "notes": notes,
    }
    ct_adata = None
    if ct_obs:
        cobs = pd.DataFrame(ct_obs)
        cobs.index = [f"{o.dataset}:{o.sample}:{o.cell_type}" for o in cobs.itertuples()]
        ct_adata = _side_profiles(
            ct_blocks, hs.collapse, si, classes, cobs, kept_cols, final_cols, adata.var_names
        )
        ct_adata.layers["mean"] = _mean_per_cell(ct_adata.X, ct_adata.obs["n_cells"].to_numpy())
        ct_adata.uns["layer_methods"] = {"mean": "summed counts / number of cells"}
    ct_blocks = None
    ctrl_adata = None
    if ctrl_obs:
        from pbfidelity.normalize import add_normalised_layers

        kobs = pd.DataFrame(ctrl_obs)
        kobs.index = [f"{o.dataset}:{o.sample}:halfsplit_{o.half}" for o in kobs.itertuples()]
        ctrl_adata = _side_profiles(
            ctrl_blocks, hs.collapse, si, classes, kobs, kept_cols, final_cols, adata.var_names
        )
        ctrl_blocks = None  # the last view of the accumulator
        add_normalised_layers(ctrl_adata)
        ctrl_adata.uns["pbfidelity"] = {
            "stage": "pseudobulk",
            "kind": "negative_control",
            "dataset": ds,
            "seed": opts.seed,
            "design": NEGATIVE_CONTROL_DESIGN,
        }
    ctrl_blocks = None
    for w in warnings:
        notes.append(w["message"])
        log.warning("%s", w["message"])
    adata.uns["pbfidelity"]["notes"] = notes
    adata.uns["pbfidelity"]["warnings"] = [w["message"] for w in warnings]
    summary = {
        "dataset": ds,
        "n_profiles": int(adata.n_obs),
        "n_genes": int(adata.n_vars),
        "n_bulk": int((adata.obs["modality"] == "bulk").sum()),
        "n_pseudobulk": int((adata.obs["modality"] == "pseudobulk").sum()),
        **adata.uns["pbfidelity"],
        "warnings": warnings,
        # cells drawn per cell type for each proportion-matched pseudo-bulk (the report's composition view)
        "cells_drawn_per_type": targets,
        "negative_control": {
            "file": "negative_control.h5ad" if ctrl_adata is not None else None,
            "n_pairs": int(len(ctrl_obs) // 2),
            "cells_per_half_fraction": float(np.median(ctrl_fraction)) if ctrl_fraction else None,
            "design": NEGATIVE_CONTROL_DESIGN,
        },
    }
    return ProfilesResult(adata, ct_adata, gene_table, summary, notes, ctrl_adata, warnings)


def _side_profiles(
    blocks: list[np.ndarray],
    collapse: sp.spmatrix,
    shared_cols: np.ndarray,
    classes: pd.DataFrame,
    obs: pd.DataFrame,
    kept_cols: np.ndarray,
    final_cols: np.ndarray,
    genes: pd.Index,
) -> ad.AnnData:
    """Per-cell-type or control profiles (``blocks``: rows of the accumulator) as an AnnData of the profiles'
    genes, as the main profiles are built: covariates over the shared genes, ``n_counts`` over the genes kept
    after exclusions (``kept_cols``), X = the rounded counts of ``final_cols``. Built in row steps (every
    quantity is per profile), so no float copy of the whole matrix is held."""
    n = sum(b.shape[0] for b in blocks)
    x = np.empty((n, len(final_cols)), dtype=np.int64)
    n_counts = np.zeros(n, dtype=np.int64)
    cov = []
    for r, part in _shared_counts(blocks, collapse, shared_cols):
        cov.append(class_covariates(part, classes))
        n_counts[r : r + part.shape[0]] = integer_counts(part, kept_cols).sum(axis=1)
        x[r : r + part.shape[0]] = integer_counts(part, final_cols)
    cov = pd.concat(cov, ignore_index=True)
    obs = obs.copy()
    for col in COVARIATE_COLUMNS:
        obs[col] = cov[col].to_numpy()
    obs["n_counts"] = n_counts
    return ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=pd.Index(genes, name="gene")))


def _mean_per_cell(x: np.ndarray, n_cells: np.ndarray) -> np.ndarray:
    """``(x / n_cells[:, None]).astype(np.float32)``, :data:`_ROW_STEP` rows at a time."""
    out = np.empty(x.shape, dtype=np.float32)
    for s in range(0, x.shape[0], _ROW_STEP):
        out[s : s + _ROW_STEP] = x[s : s + _ROW_STEP] / n_cells[s : s + _ROW_STEP, None]
    return out


def memory_source(
    adata: ad.AnnData, *, layer: str | None = None, name: str = "<AnnData>"
) -> SingleCellSource:
    """An in-memory AnnData as a :class:`SingleCellSource` (counts from ``layer``: a layer name, ``'raw'``
    or ``'X'``; default ``layers['counts']``, then ``.raw``, then ``X``, as for files)."""
    if layer is None:
        layer = "counts" if "counts" in adata.layers else ("raw" if adata.raw is not None else "X")
    if layer == "X":
        X, where, var = adata.X, "X", adata.var
    elif layer == "raw":
        if adata.raw is None:
            raise UserError(f"{name}: layer 'raw' requested but .raw is empty")
        X, where, var = adata.raw.X, ".raw.X", adata.raw.var
    elif layer in adata.layers:
        X, where, var = adata.layers[layer], f"layers['{layer}']", adata.var
    else:
        raise UserError(f"{name}: no layer {layer!r}; it offers {['X', 'raw', *adata.layers.keys()]}")
    from pbfidelity.io.singlecell import _symbols_from_var

    obs = adata.obs.copy()
    obs.index = obs.index.astype(str)
    return SingleCellSource(
        Path(name),
        obs,
        pd.Index(var.index.astype(str)),
        where,
        sp.csr_matrix(X),
        gene_symbols=_symbols_from_var(var),
    )
