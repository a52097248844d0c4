"""Build pseudo-bulk profiles (sum, per cell type, proportion-matched, bootstrap) beside the bulk profiles."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger("pbfidelity.pseudobulk")


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
        "makes the primary pseudo-bulk proportion-matched. 'estimate': proportions of each bulk sample "
        "estimated by deconvolution with a leave-donor-out reference of these cells (two passes over the cells)",
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
    add_exclusion_arguments(p)


def add_exclusion_arguments(p: argparse.ArgumentParser) -> None:
    """Gene exclusions (pseudobulk and ``run``): spike-ins always, user patterns, classes on request."""
    p.add_argument(
        "--exclude-genes",
        help="comma-separated gene ids/symbols or regular expressions (whole match, case-insensitive) to "
        "treat as spike-ins: removed from every gene-level stage beside ERCC-* and reported in pct_spike_in",
    )
    p.add_argument(
        "--exclude-gene-classes",
        help="comma-separated classes also removed from the gene-level stages: mito, ribo (default: none; "
        "their percentages stay QC covariates)",
    )


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


def _sources(groups: dict, layer: str | None):
    """Each single-cell file of the dataset, opened in turn, with the samplesheet rows that use it."""
    from pbfidelity.io.singlecell import open_singlecell

    for path, frows in groups.items():
        with open_singlecell(path, layer) as src:
            yield src, frows


def _estimate_proportions(rows, bulk, options, symbols, annotation, passing, notes, args):
    """``--proportions estimate``: build sums and per-cell-type profiles, deconvolve every bulk sample with a
    leave-donor-out reference, and return (estimates, options with them as targets, notes)."""
    from dataclasses import replace

    from pbfidelity.deconvolve.estimate import SOURCE, estimate_bulk_proportions
    from pbfidelity.errors import UserError
    from pbfidelity.io.assign import group_by_file
    from pbfidelity.pseudobulk.build import build_dataset_profiles

    ds = rows[0].dataset
    first = build_dataset_profiles(
        rows,
        bulk,
        _sources(group_by_file(rows), args.layer),
        options=replace(options, n_replicates=0),
        bulk_symbols=symbols,
        annotation=annotation,
        passing=passing,
        notes=[],
    )
    if first.celltype is None:
        raise UserError(
            f"--proportions estimate: the cells of dataset '{ds}' have no '{options.celltype_key}' column"
        )
    est = estimate_bulk_proportions(first.adata, first.celltype, ds)
    props = {s: {c: float(v) for c, v in r.items()} for s, r in est.iterrows()}
    mean = est.mean(axis=0)
    no_bulk = [r.sample for r in rows if r.sample not in props]
    for s in no_bulk:  # no bulk profile (e.g. dropped by QC): the dataset's mean composition
        props[s] = {c: float(v) for c, v in mean.items()}
    note = f"proportions {SOURCE}" + (
        f"; samples without bulk {no_bulk} matched to the mean" if no_bulk else ""
    )
    log.info("%s", note)
    return (
        est,
        replace(options, proportions=props, proportions_source="estimated proportions"),
        [*notes, note],
    )


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pbfidelity.errors import UserError
    from pbfidelity.io.assign import group_by_file
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.bulk import read_dataset_bulk, rounding_note
    from pbfidelity.io.genes import GeneAnnotation
    from pbfidelity.io.mqc import write_mqc_table
    from pbfidelity.io.profiles import write_profiles
    from pbfidelity.io.samplesheet import read_samplesheet
    from pbfidelity.io.versions import write_versions
    from pbfidelity.pseudobulk.build import COVARIATE_COLUMNS, ProfileOptions, build_dataset_profiles
    from pbfidelity.pseudobulk.profiles import read_proportions
    from pbfidelity.qc.cli import select_dataset

    rows = select_dataset(read_samplesheet(args.input), args.dataset, args.input)
    ds = rows[0].dataset
    annotation = GeneAnnotation.read(args.gene_annotation) if args.gene_annotation else None
    passing = _passing(args.cell_qc)
    samples = [r.sample for r in rows]
    estimate = args.proportions is not None and str(args.proportions) == "estimate"
    props = read_proportions(args.proportions, ds, samples) if args.proportions and not estimate else None
    notes: list[str] = []

    # --- bulk side (read once per file)
    bulk_parts, bulk_lib_genes, bulk_symbols, rounded = [], None, [], []
    for bulk_file, brows, part in read_dataset_bulk(rows, args.round_bulk_counts):
        part.columns = [r.sample for r in brows]
        bulk_parts.append(part)
        bulk_lib_genes = part.index if bulk_lib_genes is None else bulk_lib_genes.intersection(part.index)
        if bulk_file.gene_names is not None:
            bulk_symbols.append(bulk_file.gene_names)
        if (note := rounding_note(bulk_file)) is not None:
            rounded.append(note)
            notes.append(
                f"{note['file']}: {note['n_values_rounded']} non-integer bulk counts rounded "
                f"({note['format'] if note['format'] != 'counts table' else '--round-bulk-counts'})"
            )
    bulk = pd.concat([p.loc[bulk_lib_genes] for p in bulk_parts], axis=1)
    del bulk_parts  # the concatenated copy is what is used
    symbols = pd.concat(bulk_symbols) if bulk_symbols else None
    if symbols is not None:
        symbols = symbols[~symbols.index.duplicated()]
    if args.bulk_qc is not None:
        if not args.bulk_qc.exists():
            raise UserError(f"{args.bulk_qc}: bulk QC table does not exist")
        bq = pd.read_csv(args.bulk_qc, sep="\t", dtype={"sample": str})
        dropped = bq.loc[~bq["pass_qc"].astype(bool), "sample"].tolist()
        if dropped:
            notes.append(f"bulk samples dropped by QC: {dropped}")
            bulk = bulk.drop(columns=[s for s in dropped if s in bulk.columns])

    options = ProfileOptions(
        sample_key=args.sc_sample_key,
        celltype_key=args.celltype_key,
        min_cells=args.min_cells,
        n_replicates=args.n_replicates,
        min_detection=args.min_detection,
        seed=args.seed,
        chunk_size=args.chunk_size,
        exclude_genes=args.exclude_genes,
        exclude_gene_classes=args.exclude_gene_classes,
        proportions=props,
        proportions_source=str(args.proportions),
    )
    estimated = None
    if estimate:  # first pass: plain sums and per-cell-type profiles, the reference of the estimate
        estimated, options, notes = _estimate_proportions(
            rows, bulk, options, symbols, annotation, passing, notes, args
        )
    result = build_dataset_profiles(
        rows,
        bulk,
        _sources(group_by_file(rows), args.layer),
        options=options,
        bulk_symbols=symbols,
        annotation=annotation,
        passing=passing,
        notes=notes,
    )
    adata, ct_adata = result.adata, result.celltype
    if options.proportions is not None:
        from pbfidelity.deconvolve.estimate import SOURCE, targets_record

        # the file name only: the same in every runner (Nextflow stages the file under its own name)
        source = SOURCE if estimate else Path(str(args.proportions)).name
        adata.uns["pbfidelity"]["proportion_targets"] = targets_record(options.proportions, ds, source)
        adata.uns["pbfidelity"]["proportions_estimated"] = bool(estimate)
    # h5ad cannot store a list of dicts: per file in uns, as a list in the summary JSON
    adata.uns["pbfidelity"]["bulk_rounded"] = {
        key: [n[key] for n in rounded] for key in ("file", "format", "n_values_rounded")
    }
    summary = {**result.summary, "bulk_rounded": rounded, "layer": args.layer}
    summary.pop("proportion_targets", None)
    if options.proportions is not None:
        summary["proportions_source"] = "estimated" if estimate else "given"

    with atomic_outdir(args.outdir) as tmp:
        write_profiles(adata, tmp / "profiles.h5ad")
        if estimated is not None:
            estimated = estimated.reset_index()
            estimated.insert(0, "dataset", ds)
            estimated.to_csv(
                tmp / "estimated_proportions.tsv", sep="\t", index=False, float_format="%.6g"
            )
        if ct_adata is not None:
            write_profiles(ct_adata, tmp / "celltype_profiles.h5ad")
        if result.control is not None:
            write_profiles(result.control, tmp / "negative_control.h5ad")
        if result.warnings:
            wt = pd.DataFrame(
                [{"kind": w["kind"], "message": w["message"]} for w in result.warnings],
                index=[f"{ds}_warning_{i + 1}" for i in range(len(result.warnings))],
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
        result.gene_table.to_csv(tmp / "gene_filter.tsv", sep="\t", index_label="gene", float_format="%.6g")
        (tmp / "pseudobulk_summary.json").write_text(json.dumps(summary, indent=2, default=str))
        table = adata.obs[
            [
                "sample",
                "donor",
                "modality",
                "pb_method",
                "replicate",
                "n_cells",
                "n_counts",
                *COVARIATE_COLUMNS,
            ]
        ].copy()
        table.index = [i.replace(":", "_") for i in table.index]
        write_mqc_table(
            tmp,
            f"pbf_pseudobulk_{ds}_profiles",
            f"Profiles ({ds})",
            "Bulk and pseudo-bulk profiles: cells summed, total counts after gene harmonisation and "
            "exclusion, and technical covariates over the shared genes before exclusion (% spike-in, "
            "% mitochondrial, % ribosomal, genes detected).",
            table,
            parent_id="pbf_pseudobulk",
            parent_name="Pseudo-bulk",
        )
        inter = summary["gene_harmonisation"]["intersection"]
        exc = summary["excluded_genes"]
        h = pd.DataFrame(
            {
                "value": {
                    **inter,
                    "n_excluded": exc["n_genes"],
                    **{f"n_excluded_{c}": len(g) for c, g in exc["genes"].items()},
                    **{f"n_recognised_{c}": n for c, n in exc["n_recognised"].items()},
                }
            }
        ).T
        h.index = [ds]
        write_mqc_table(
            tmp,
            f"pbf_pseudobulk_{ds}_genes",
            f"Gene harmonisation ({ds})",
            "Genes in each modality, shared genes, the fraction of counts outside the intersection, and the "
            "technical genes recognised and excluded (spike-ins always; mito/ribo with "
            "--exclude-gene-classes).",
            h,
            parent_id="pbf_pseudobulk",
            parent_name="Pseudo-bulk",
        )
        write_versions(tmp, "pseudobulk", ["numpy", "scipy", "pandas", "anndata", "h5py"])
    log.info(
        "pseudobulk %s: %d profiles x %d genes (%s)",
        ds,
        adata.n_obs,
        adata.n_vars,
        "; ".join(result.notes) or "ok",
    )
    return 0
