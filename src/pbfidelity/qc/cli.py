"""Quality control of single cells (MAD outliers per sample) and bulk samples (library metrics, replicate outliers)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger("pbfidelity.qc")


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    """Flags every stage that reads the samplesheet shares (qc and pseudobulk)."""
    p.add_argument("--input", required=True, type=Path, help="samplesheet CSV/TSV")
    p.add_argument("--dataset", help="dataset to process (default: the only dataset in the samplesheet)")
    p.add_argument("--outdir", required=True, type=Path, help="output folder for this dataset")
    p.add_argument(
        "--sc-sample-key", default="sample", help="obs column of the single-cell files holding sc_id"
    )
    p.add_argument(
        "--round-bulk-counts", action="store_true", help="round non-integer bulk counts (e.g. Salmon)"
    )
    p.add_argument(
        "--layer",
        help="where the raw counts of .h5ad files are: 'X', 'raw' or a name in layers "
        "(default: layers['counts'], then .raw, then X)",
    )
    p.add_argument(
        "--chunk-size", type=int, default=20_000,
        help="most cells read per block (blocks are also bounded by their non-zeros)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_input_arguments(p)
    p.add_argument(
        "--gene-annotation", type=Path, help="annotation TSV (ENSEMBL, SYMBOL, CHR) for mito/ribo genes"
    )
    p.add_argument("--nmads-counts", type=float, default=5.0, help="MADs of log total counts (both sides)")
    p.add_argument("--nmads-genes", type=float, default=5.0, help="MADs of log detected genes (both sides)")
    p.add_argument(
        "--nmads-mito", type=float, default=3.0, help="MADs of %% mitochondrial counts (upper side)"
    )
    p.add_argument(
        "--max-pct-mito", type=float, default=20.0, help="hard upper limit on %% mitochondrial counts"
    )
    p.add_argument("--min-counts", type=int, default=0, help="minimum total counts per cell")
    p.add_argument("--min-genes", type=int, default=0, help="minimum detected genes per cell")
    p.add_argument(
        "--replicate-outlier-factor",
        type=float,
        default=3.0,
        help="drop a bulk sample whose unassigned count is > F x or < 1/F x the median",
    )
    p.add_argument(
        "--seed", type=int, default=42, help="random seed (QC is deterministic; kept for uniformity)"
    )


def select_dataset(rows, dataset: str | None, path: Path):
    """The rows of ``dataset`` (or of the only dataset)."""
    from pbfidelity.io.samplesheet import choose_dataset, datasets

    grouped = datasets(rows)
    return grouped[choose_dataset(list(grouped), dataset, path)]


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    import numpy as np
    import pandas as pd

    from pbfidelity.io.assign import assign_cells, group_by_file
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.bulk import read_dataset_bulk, rounding_note
    from pbfidelity.io.genes import GeneAnnotation
    from pbfidelity.io.mqc import write_mqc, write_mqc_table
    from pbfidelity.io.samplesheet import read_samplesheet
    from pbfidelity.io.singlecell import open_singlecell
    from pbfidelity.io.versions import write_versions
    from pbfidelity.qc.bulk import bulk_metrics, replicate_outliers
    from pbfidelity.qc.cells import CellQCParams, flag_cells, stream_cell_metrics
    from pbfidelity.qc.genes import mito_ribo_masks

    rows = select_dataset(read_samplesheet(args.input), args.dataset, args.input)
    ds = rows[0].dataset
    annotation = GeneAnnotation.read(args.gene_annotation) if args.gene_annotation else None
    params = CellQCParams(
        args.nmads_counts,
        args.nmads_genes,
        args.nmads_mito,
        args.max_pct_mito,
        args.min_counts,
        args.min_genes,
    )

    cell_tables, n_cells_files, n_pass_files, mito_found = [], 0, 0, {}
    for path, file_rows in group_by_file(rows).items():
        with open_singlecell(path, args.layer) as src:
            members = assign_cells(file_rows, src.obs, args.sc_sample_key, path)
            mito, ribo = mito_ribo_masks(src.var_names, annotation, src.gene_symbols)
            mito_found[str(path)] = int(mito.sum())
            if not mito.any():
                log.warning(
                    "%s: no mitochondrial genes recognised; %% mito is 0 (the file carries no MT- gene "
                    "names; pass --gene-annotation, a TSV or GTF, for Ensembl ids)",
                    path,
                )
            used = np.zeros(src.n_obs, dtype=bool)
            for idx in members.values():
                used[idx] = True
            # blocks bounded by non-zeros (and --chunk-size cells): memory flat in the number of cells
            per_cell = stream_cell_metrics(src, used, mito, ribo, max_rows=args.chunk_size)
            tables = []
            for sample, idx in members.items():
                t = per_cell.loc[idx].reset_index(drop=True)
                t.insert(0, "barcode", src.obs.index[idx])
                t.insert(0, "sample", sample)
                t.insert(0, "_file", len(cell_tables))
                tables.append(t)
            cell_tables.append(pd.concat(tables, ignore_index=True))
    cells = pd.concat(cell_tables, ignore_index=True)
    cells = flag_cells(cells, cells["sample"].to_numpy(), params)
    # a cell of a file shared by several rows (e.g. pools drawn from one suspension) is counted once
    unique_cells = cells.drop_duplicates(["_file", "barcode"])
    n_cells_files, n_pass_files = (
        int(len(unique_cells)),
        int(cells.groupby(["_file", "barcode"], sort=False)["pass_qc"].any().sum()),
    )
    n_shared_rows = int(len(cells) - len(unique_cells))
    cells = cells.drop(columns="_file")

    bulk_tables, rounded = [], []
    for bulk, brow, counts in read_dataset_bulk(rows, args.round_bulk_counts):
        if (note := rounding_note(bulk)) is not None:
            rounded.append(note)
        mito, _ = mito_ribo_masks(counts.index, annotation, bulk.gene_names)
        m = bulk_metrics(counts, mito)
        m.insert(0, "sample", [r.sample for r in brow])
        m.index.name = "bulk_id"
        un = bulk.unassigned
        m["unassigned"] = un.reindex(m.index).to_numpy() if un is not None else np.nan
        bulk_tables.append(m.reset_index())
    bulk_qc = pd.concat(bulk_tables, ignore_index=True)[
        ["sample", "bulk_id", "library_size", "n_genes", "pct_mito", "unassigned"]
    ]
    if bulk_qc["unassigned"].notna().all():
        bulk_qc["replicate_outlier"] = replicate_outliers(
            bulk_qc["unassigned"], args.replicate_outlier_factor
        ).to_numpy()
    else:
        bulk_qc["replicate_outlier"] = False
    bulk_qc["pass_qc"] = ~bulk_qc["replicate_outlier"] & (bulk_qc["library_size"] > 0)

    g = cells.groupby("sample", sort=False)
    per_sample = pd.DataFrame(
        {
            "n_cells": g.size(),
            "n_cells_pass": g["pass_qc"].sum().astype(int),
            "median_counts": g["total_counts"].median(),
            "median_genes": g["n_genes"].median(),
            "median_pct_mito": g["pct_mito"].median(),
            "median_pct_ribo": g["pct_ribo"].median(),
        }
    )
    per_sample = per_sample.join(
        bulk_qc.set_index("sample")[["library_size", "n_genes", "pass_qc"]].rename(
            columns={
                "library_size": "bulk_library_size",
                "n_genes": "bulk_n_genes",
                "pass_qc": "bulk_pass_qc",
            }
        )
    )
    per_sample.index.name = "sample"
    summary = {
        "dataset": ds,
        "n_samples": len(rows),
        "n_cells": n_cells_files,
        "n_cells_pass": n_pass_files,
        "n_cell_sample_assignments": int(len(cells)),
        "n_cells_used_by_several_rows": n_shared_rows,
        "n_mito_genes_recognised": mito_found,
        "bulk_rounded": rounded,
        "n_bulk_pass": int(bulk_qc["pass_qc"].sum()),
        "bulk_dropped": bulk_qc.loc[~bulk_qc["pass_qc"], "sample"].tolist(),
        "params": asdict(params),
    }

    with atomic_outdir(args.outdir) as tmp:
        cells.to_csv(
            tmp / "cell_qc.tsv.gz",
            sep="\t",
            index=False,
            float_format="%.6g",
            compression={"method": "gzip", "mtime": 0},
        )
        bulk_qc.to_csv(tmp / "bulk_qc.tsv", sep="\t", index=False, float_format="%.6g")
        per_sample.to_csv(tmp / "sample_qc.tsv", sep="\t", float_format="%.6g")
        (tmp / "qc_summary.json").write_text(json.dumps(summary, indent=2))
        label = {s: f"{ds}_{s}" for s in per_sample.index}
        table = per_sample.rename(index=label)
        write_mqc_table(
            tmp,
            f"pbf_qc_{ds}_samples",
            f"QC summary ({ds})",
            "Per sample: single cells before/after QC, median cell metrics and the bulk library.",
            table,
            parent_id="pbf_qc",
            parent_name="Quality control",
        )
        bars = {
            label[s]: {"pass": int(r.n_cells_pass), "fail": int(r.n_cells - r.n_cells_pass)}
            for s, r in per_sample.iterrows()
        }
        write_mqc(
            tmp,
            f"pbf_qc_{ds}_cells",
            f"Cells passing QC ({ds})",
            "Cells kept and removed by the MAD-based filters, per sample.",
            "bargraph",
            bars,
            {"ylab": "cells", "cpswitch_counts_label": "cells"},
            parent_id="pbf_qc",
            parent_name="Quality control",
        )
        box = {
            label[s]: sub["total_counts"].astype(float).tolist()
            for s, sub in cells.groupby("sample", sort=False)
        }
        write_mqc(
            tmp,
            f"pbf_qc_{ds}_counts_box",
            f"Counts per cell ({ds})",
            "Distribution of total counts per cell, per sample (before filtering).",
            "box",
            box,
            {"xlab": "total counts per cell"},
            parent_id="pbf_qc",
            parent_name="Quality control",
        )
        write_versions(tmp, "qc", ["numpy", "pandas", "anndata", "h5py", "scipy"])
    shared = (
        f" ({n_shared_rows} cell-row assignments beyond one per cell: files shared by several rows)"
        if n_shared_rows
        else ""
    )
    log.info(
        "qc %s: %d/%d cells pass%s, %d/%d bulk samples pass",
        ds,
        summary["n_cells_pass"],
        summary["n_cells"],
        shared,
        summary["n_bulk_pass"],
        len(rows),
    )
    return 0
