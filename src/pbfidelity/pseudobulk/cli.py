"""Build pseudo-bulk profiles (sum, per cell type, proportion-matched, bootstrap) beside the bulk profiles."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger("pbfidelity.pseudobulk")

NEGATIVE_CONTROL_DESIGN = (
    "two pseudo-bulks per pair from disjoint halves of its single-cell sample (split once per sample, "
    "stratified by cell type; proportion-matched halves keep the pair's composition with at most half its "
    "cells each); pb_method=halfsplit, obs 'half' = A/B"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pbfidelity.qc.cli import add_input_arguments

    add_input_arguments(p)
    p.add_argument(
        "--cell-qc", type=Path, help="cell_qc.tsv.gz from 'pbfidelity qc' (cells failing QC are left out)"
    )
    p.add_argument(
        "--bulk-qc", type=Path, help="bulk_qc.tsv from 'pbfidelity qc' (bulk samples failing QC are left out)"
    )
    p.add_argument(
        "--proportions",
        type=Path,
        help="TSV: sample [, dataset], one column per cell type (fractions or cell numbers); "
        "makes the primary pseudo-bulk proportion-matched",
    )
    p.add_argument("--gene-annotation", type=Path, help="annotation TSV (ENSEMBL, SYMBOL) to map gene ids")
    p.add_argument("--celltype-key", default="cell_type", help="obs column with cell types")
    p.add_argument("--min-cells", type=int, default=10, help="fewest cells for a pseudo-bulk profile")
    p.add_argument("--n-replicates", type=int, default=0, help="bootstrap pseudo-replicates per sample")
    p.add_argument(
        "--min-detection",
        type=float,
        default=0.2,
        help="keep genes non-zero in at least this fraction of the profiles of each modality",
    )
    p.add_argument("--seed", type=int, default=42, help="seed for proportion matching and bootstrap draws")


def _passing(cell_qc: Path | None):
    """Barcodes that passed QC, per sample (None when no QC table is given)."""
    if cell_qc is None:
        return None
    import pandas as pd

    from pbfidelity.errors import UserError

    if not cell_qc.exists():
        raise UserError(f"{cell_qc}: cell QC table does not exist")
    t = pd.read_csv(
        cell_qc, sep="\t", usecols=["sample", "barcode", "pass_qc"], dtype={"sample": str, "barcode": str}
    )
    kept = t[t["pass_qc"]]
    return {sample: pd.Index(group["barcode"]) for sample, group in kept.groupby("sample", sort=False)}


def run(args: argparse.Namespace) -> int:  # noqa: C901 - a linear adapter, kept in one place on purpose
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    from pbfidelity.errors import UserError
    from pbfidelity.io.assign import assign_cells, group_by_file
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.bulk import read_dataset_bulk
    from pbfidelity.io.genes import GeneAnnotation, choose_target, harmonise_ids, intersection_report
    from pbfidelity.io.mqc import write_mqc_table
    from pbfidelity.io.profiles import write_profiles
    from pbfidelity.io.samplesheet import read_samplesheet
    from pbfidelity.io.singlecell import open_singlecell
    from pbfidelity.io.versions import write_versions
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
        profiles_anndata,
        read_proportions,
        target_cell_numbers,
    )
    from pbfidelity.pseudobulk.weights import bootstrap_weights, group_weights, proportion_weights
    from pbfidelity.qc.cli import select_dataset

    rows = select_dataset(read_samplesheet(args.input), args.dataset, args.input)
    ds = rows[0].dataset
    by_sample = {r.sample: r for r in rows}
    rng = np.random.default_rng(args.seed)
    annotation = GeneAnnotation.read(args.gene_annotation) if args.gene_annotation else None
    passing = _passing(args.cell_qc)
    props = read_proportions(args.proportions, ds, list(by_sample)) if args.proportions else None
    notes: list[str] = []
    warnings: list[dict] = []  # structured sampling warnings (also in notes, the log and MultiQC)
    ctrl_rng = control_rng(args.seed)  # own stream: the primary draws do not depend on the control
    ctrl_blocks, ctrl_obs, ctrl_fraction = [], [], []

    # --- bulk side
    bulk_parts, bulk_lib_genes = [], None
    for _bulk_file, brows, part in read_dataset_bulk(rows, args.round_bulk_counts):
        part.columns = [r.sample for r in brows]
        bulk_parts.append(part)
        bulk_lib_genes = part.index if bulk_lib_genes is None else bulk_lib_genes.intersection(part.index)
    bulk = pd.concat([p.loc[bulk_lib_genes] for p in bulk_parts], axis=1)
    if args.bulk_qc is not None:
        if not args.bulk_qc.exists():
            raise UserError(f"{args.bulk_qc}: bulk QC table does not exist")
        bq = pd.read_csv(args.bulk_qc, sep="\t", dtype={"sample": str})
        dropped = bq.loc[~bq["pass_qc"].astype(bool), "sample"].tolist()
        if dropped:
            notes.append(f"bulk samples dropped by QC: {dropped}")
            bulk = bulk.drop(columns=[s for s in dropped if s in bulk.columns])

    # --- single-cell side: one weight matrix per file, applied in one streamed pass
    pb_blocks, pb_obs, ct_blocks, ct_obs, sc_genes = [], [], [], [], None
    for path, frows in group_by_file(rows).items():
        with open_singlecell(path) as src:
            members = assign_cells(frows, src.obs, args.sc_sample_key, path)
            barcodes = src.obs.index.to_numpy()
            has_ct = args.celltype_key in src.obs.columns
            cts = src.obs[args.celltype_key].astype(str).to_numpy() if has_ct else None
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
                if idx.size < args.min_cells:
                    notes.append(
                        f"sample {r.sample}: {idx.size} cells pass QC (< --min-cells {args.min_cells}); "
                        "no pseudo-bulk"
                    )
                    log.warning("%s", notes[-1])
                    continue
                meta = {
                    "dataset": ds,
                    "sample": r.sample,
                    "donor": r.donor,
                    "modality": "pseudobulk",
                    **r.extra,
                }
                if props is not None:
                    if not has_ct:
                        raise UserError(
                            f"{path}: --proportions needs cell types in obs column '{args.celltype_key}'"
                        )
                    target = target_cell_numbers(props[r.sample], idx.size)
                    pools = {}
                    for ct, n in target.items():
                        pool = idx[cts[idx] == ct]
                        if n > 0 and pool.size == 0:
                            raise UserError(
                                f"{args.proportions}: sample '{r.sample}' asks for {n} '{ct}' cells but "
                                f"{path} has no passing '{ct}' cells for it"
                            )
                        if n > pool.size:
                            warnings.append(replacement_warning(r.sample, ct, n, pool.size))
                        pools[ct] = pool
                    primary_rows.append((r, idx, target))
                    prop_pools.append(pools)
                    prop_targets.append(target)
                    prop_rows.append(
                        {
                            **meta,
                            "pb_method": "proportion",
                            "replicate": 0,
                            "n_cells": int(sum(target.values())),
                        }
                    )
                else:
                    primary_rows.append((r, idx, None))
                    groups.append(idx)
                    obs_rows.append({**meta, "pb_method": "sum", "replicate": 0, "n_cells": int(idx.size)})
                if has_ct:
                    for ct in sorted(set(cts[idx])):
                        sub = idx[cts[idx] == ct]
                        if sub.size >= args.min_cells:
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
            if args.n_replicates > 0 and obs_rows:
                reps = args.n_replicates
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
            n_primary = len(mats)
            if mats:  # one single-cell sample feeding several pairs: their pseudo-bulks share cells
                by_sc: dict[str, list[int]] = {}
                for k, (r, _idx, _t) in enumerate(primary_rows):
                    by_sc.setdefault(r.sc_id, []).append(k)
                for sc_id, ks in by_sc.items():
                    if len(ks) > 1 and args.sc_sample_key in src.obs.columns:
                        w = mats[0][ks]  # primary rows come first, in primary_rows order
                        warnings.append(
                            shared_sample_warning(
                                sc_id, path.name, [primary_rows[k][0].sample for k in ks], w
                            )
                        )
            if ct_groups:
                mats.append(group_weights(ct_groups, n))
            ctrl_groups = []
            for r, idx, target in primary_rows:
                plan = halfsplit_cells(
                    idx,
                    *halves[r.sc_id],
                    cts if has_ct else None,
                    target,
                    ctrl_rng,
                    max(2, args.min_cells // 2),
                )
                if plan.note:
                    notes.append(f"sample {r.sample}: {plan.note}")
                    log.warning("%s", notes[-1])
                    continue
                ctrl_fraction.append(plan.fraction)
                for half, cells in (("A", plan.a), ("B", plan.b)):
                    ctrl_groups.append(cells)
                    ctrl_obs.append(
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
            if not mats:
                continue
            W = sp.vstack(mats, format="csr")
            acc = aggregate_stream(src.iter_chunks(args.chunk_size), W, src.n_vars)
            n_main = sum(m.shape[0] for m in mats[:n_primary])
            n_ct = len(ct_groups)
            genes = src.var_names
            if sc_genes is not None and not genes.equals(sc_genes):
                raise UserError(
                    f"{path}: its genes differ from the other single-cell files of dataset '{ds}'"
                )
            sc_genes = genes
            pb_blocks.append(acc[:n_main])
            pb_obs += obs_rows
            ct_blocks.append(acc[n_main : n_main + n_ct])
            ctrl_blocks.append(acc[n_main + n_ct :])
            ct_obs += ct_rows
    if not pb_obs:
        raise UserError(f"dataset '{ds}': no sample has enough cells for a pseudo-bulk profile")

    # --- gene ids: one namespace, collapse duplicates, intersect
    target = choose_target(bulk.index, sc_genes, annotation)
    hb, hs = harmonise_ids(bulk.index, target, annotation), harmonise_ids(sc_genes, target, annotation)
    bulk_x = hb.apply(sp.csr_matrix(bulk.T.to_numpy())).toarray()
    pb_x = np.vstack(pb_blocks) @ hs.collapse
    shared = hb.ids.intersection(hs.ids, sort=False)
    inter = intersection_report(hb.ids, hs.ids, bulk_x.sum(axis=0), np.asarray(pb_x.sum(axis=0)).ravel())
    if len(shared) == 0:
        raise UserError(
            f"dataset '{ds}': bulk and single-cell data share no gene ids "
            f"(bulk e.g. {list(hb.ids[:3])}, single-cell e.g. {list(hs.ids[:3])})"
        )
    bi, si = hb.ids.get_indexer(shared), hs.ids.get_indexer(shared)
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
    adata = profiles_anndata(np.vstack([bulk_x[:, bi], np.asarray(pb_x)[:, si]]), obs, shared)
    adata, gene_table = filter_and_normalise(adata, args.min_detection)
    adata.uns["pbfidelity"] = {
        "stage": "pseudobulk",
        "dataset": ds,
        "seed": args.seed,
        "primary_method": "proportion" if props is not None else "sum",
        "gene_harmonisation": {"bulk": hb.report, "singlecell": hs.report, "intersection": inter},
        "gene_filter": {
            "min_detection": args.min_detection,
            "n_before": int(len(shared)),
            "n_after": int(adata.n_vars),
        },
        "notes": notes,
    }
    ct_adata = None
    if ct_obs:
        cobs = pd.DataFrame(ct_obs)
        cobs.index = [f"{o.dataset}:{o.sample}:{o.cell_type}" for o in cobs.itertuples()]
        cx = (np.vstack(ct_blocks) @ hs.collapse)[:, si]
        ct_adata = profiles_anndata(np.asarray(cx), cobs, shared)[:, adata.var_names].copy()
        ct_adata.layers["mean"] = (ct_adata.X / ct_adata.obs["n_cells"].to_numpy()[:, None]).astype(
            np.float32
        )
        ct_adata.uns["layer_methods"] = {"mean": "summed counts / number of cells"}

    ctrl_adata = None
    if ctrl_obs:
        from pbfidelity.normalize import add_normalised_layers

        kobs = pd.DataFrame(ctrl_obs)
        kobs.index = [f"{o.dataset}:{o.sample}:halfsplit_{o.half}" for o in kobs.itertuples()]
        kx = (np.vstack(ctrl_blocks) @ hs.collapse)[:, si]
        ctrl_adata = profiles_anndata(np.asarray(kx), kobs, shared)[:, adata.var_names].copy()
        add_normalised_layers(ctrl_adata)
        ctrl_adata.uns["pbfidelity"] = {
            "stage": "pseudobulk",
            "kind": "negative_control",
            "dataset": ds,
            "seed": args.seed,
            "design": NEGATIVE_CONTROL_DESIGN,
        }
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
        "negative_control": {
            "file": "negative_control.h5ad" if ctrl_adata is not None else None,
            "n_pairs": int(len(ctrl_obs) // 2),
            "cells_per_half_fraction": float(np.median(ctrl_fraction)) if ctrl_fraction else None,
            "design": NEGATIVE_CONTROL_DESIGN,
        },
    }
    with atomic_outdir(args.outdir) as tmp:
        write_profiles(adata, tmp / "profiles.h5ad")
        if ct_adata is not None:
            write_profiles(ct_adata, tmp / "celltype_profiles.h5ad")
        if ctrl_adata is not None:
            write_profiles(ctrl_adata, tmp / "negative_control.h5ad")
        if warnings:
            wt = pd.DataFrame(
                [{"kind": w["kind"], "message": w["message"]} for w in warnings],
                index=[f"{ds}_warning_{i + 1}" for i in range(len(warnings))],
            )
            write_mqc_table(
                tmp,
                f"pbf_pseudobulk_{ds}_warnings",
                f"Sampling warnings ({ds})",
                "Pairs that are not independent (one single-cell sample feeds several pairs) and cell types "
                "that proportion matching had to draw with replacement.",
                wt,
                parent_id="pbf_pseudobulk",
                parent_name="Pseudo-bulk",
            )
        gene_table.to_csv(tmp / "gene_filter.tsv", sep="\t", index_label="gene", float_format="%.6g")
        (tmp / "pseudobulk_summary.json").write_text(json.dumps(summary, indent=2, default=str))
        table = adata.obs[
            ["sample", "donor", "modality", "pb_method", "replicate", "n_cells", "n_counts"]
        ].copy()
        table.index = [i.replace(":", "_") for i in table.index]
        write_mqc_table(
            tmp,
            f"pbf_pseudobulk_{ds}_profiles",
            f"Profiles ({ds})",
            "Bulk and pseudo-bulk profiles: cells summed and total counts after gene harmonisation.",
            table,
            parent_id="pbf_pseudobulk",
            parent_name="Pseudo-bulk",
        )
        h = pd.DataFrame({"value": inter}).T
        h.index = [ds]
        write_mqc_table(
            tmp,
            f"pbf_pseudobulk_{ds}_genes",
            f"Gene harmonisation ({ds})",
            "Genes in each modality, shared genes and the fraction of counts outside the intersection.",
            h,
            parent_id="pbf_pseudobulk",
            parent_name="Pseudo-bulk",
        )
        write_versions(tmp, "pseudobulk", ["numpy", "scipy", "pandas", "anndata", "h5py"])
    log.info(
        "pseudobulk %s: %d profiles x %d genes (%s)", ds, adata.n_obs, adata.n_vars, "; ".join(notes) or "ok"
    )
    return 0
