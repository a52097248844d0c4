"""Deconvolve bulk from the single-cell reference, and measure what pseudo-bulk infidelity costs it.

Per dataset: cell-type proportions of every bulk sample and of its pseudo-bulk, from reference profiles of
QC-passing cells (the pseudo-bulk stage's celltype_profiles.h5ad; each pair's donor is left out of the
reference when it contributed cells), by NNLS and by nu-SVR on a marker signature (CIBERSORT's core).
Arms: bulk, its pseudo-bulk, bulk with the reference corrected by a calibration fitted on the other folds'
donors only, and bulk on the metrics stage's concordant genes (with --de). Accuracy against --proportions
(bulk) and each pseudo-bulk's own composition: RMSE, Pearson r, Lin's CCC, bias, donor-bootstrap 95 % CIs;
the optimism of a pseudo-bulk benchmark and how much of it calibration recovers, in one sentence.
Outputs: deconvolution_estimates.tsv, deconvolution_accuracy.tsv, deconvolution_per_sample.tsv,
deconvolution_consequence.tsv, estimated_proportions.tsv (bulk, first method; a --proportions table),
deconvolve_summary.json, *_mqc.yaml, versions.yml.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pbfidelity.errors import StageSkipped, UserError

log = logging.getLogger("pbfidelity.deconvolve")


def _methods(text: str) -> tuple[str, ...]:
    from pbfidelity.deconvolve.methods import METHODS

    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not values or any(v not in METHODS for v in values):
        raise argparse.ArgumentTypeError(
            f"methods must be a comma-separated subset of {list(METHODS)}, got {text!r}"
        )
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profiles", required=True, type=Path, help="profiles.h5ad from 'pbfidelity pseudobulk'")
    p.add_argument(
        "--celltype-profiles",
        required=True,
        type=Path,
        help="celltype_profiles.h5ad from 'pbfidelity pseudobulk' (the reference: QC-passing cells per type)",
    )
    p.add_argument(
        "--de", type=Path, help="de_results.tsv from 'pbfidelity metrics' (adds the concordant-genes arm)"
    )
    p.add_argument(
        "--proportions",
        type=Path,
        help="known proportions (the pseudobulk stage's format: sample [, dataset], one column per cell type; "
        "fractions or cell numbers); without it bulk accuracy cannot be measured",
    )
    p.add_argument("--outdir", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=42, help="seed for folds, depth matching and bootstrap")
    p.add_argument(
        "--methods",
        type=_methods,
        default=("nnls", "svr"),
        help="deconvolution methods (nnls, svr); the first gives estimated_proportions.tsv and the sentence",
    )
    p.add_argument("--n-markers", type=int, default=50, help="marker genes per cell type in the signature")
    p.add_argument(
        "--min-log-fc",
        type=float,
        default=1.0,
        help="least log2 ratio of a marker's type mean over the highest other type",
    )
    p.add_argument(
        "--calibration",
        default="offset",
        choices=("offset", "scale", "linear", "auto"),
        help="calibration applied to the reference (fitted on the other folds' pairs)",
    )
    p.add_argument("--n-folds", type=int, default=5, help="donor-grouped folds for cross-fitted calibration")
    p.add_argument(
        "--n-bootstrap", type=int, default=1000, help="donor-bootstrap resamples for the intervals"
    )
    p.add_argument(
        "--pb-method", default="auto", help="pseudo-bulk method to deconvolve (auto: proportion, else sum)"
    )
    p.add_argument(
        "--depth-match",
        choices=("paired", "min", "none"),
        default="paired",
        help="thinning before the calibration is fitted (as in calibrate)",
    )
    p.add_argument(
        "--concordant-lfc",
        type=float,
        default=1.0,
        help="concordant genes: DE 'ns' and |log2FoldChange| at most this",
    )


def _read_de(path: Path | None):
    if path is None:
        return None
    import pandas as pd

    if not path.exists():
        raise UserError(f"{path}: DE table does not exist")
    try:
        return pd.read_csv(path, sep="\t")
    except Exception as exc:  # pandas raises many parser types
        raise UserError(f"{path}: cannot read DE table ({exc})") from None


def run(args: argparse.Namespace) -> int:
    import anndata as ad
    import numpy as np
    import pandas as pd

    from pbfidelity.deconvolve.analysis import DeconvolveParams, deconvolve
    from pbfidelity.deconvolve.estimate import targets_from_profiles
    from pbfidelity.deconvolve.report import write_deconvolve_mqc
    from pbfidelity.discriminate.profiles import dataset_names, select_profiles
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.mqc import to_builtin
    from pbfidelity.io.profiles import read_profiles
    from pbfidelity.io.versions import write_versions
    from pbfidelity.pseudobulk.profiles import read_proportions

    if args.n_folds < 2 or args.n_bootstrap < 1 or args.n_markers < 1:
        raise UserError("deconvolve: --n-folds >= 2, --n-bootstrap >= 1 and --n-markers >= 1 needed")
    params = DeconvolveParams(
        methods=args.methods,
        n_markers=args.n_markers,
        min_log_fc=args.min_log_fc,
        calibration=args.calibration,
        n_folds=args.n_folds,
        n_bootstrap=args.n_bootstrap,
        depth_match=args.depth_match,
        concordant_lfc=args.concordant_lfc,
        seed=args.seed,
    )
    profiles = read_profiles(args.profiles)
    if not args.celltype_profiles.exists():
        raise StageSkipped(
            f"{args.celltype_profiles}: no per-cell-type profiles (the single-cell data has no cell types?)"
        )
    try:
        ct = ad.read_h5ad(args.celltype_profiles)
    except Exception as exc:  # h5py/anndata raise many types on a corrupt file
        raise UserError(f"{args.celltype_profiles}: not a readable .h5ad ({exc})") from None
    de = _read_de(args.de)
    results, skipped = [], {}
    for ds in dataset_names(profiles):
        try:
            ps = select_profiles(profiles, ds, args.pb_method, False, source=str(args.profiles))
            truth = None
            if args.proportions:
                samples = sorted(set(ps.matched_pairs()["sample"]))
                truth = pd.DataFrame(read_proportions(args.proportions, ds, samples)).T
            x = ct.X.toarray() if hasattr(ct.X, "toarray") else np.asarray(ct.X)
            estimated = bool((profiles.uns.get("pbfidelity") or {}).get("proportions_estimated", False))
            results.append(
                deconvolve(
                    ps,
                    x,
                    ct.obs,
                    np.asarray(ct.var_names).astype(str),
                    truth,
                    de,
                    params,
                    targets_from_profiles(profiles, ds),
                    estimated,
                )
            )
        except StageSkipped as exc:
            log.warning("dataset %s: skipped: %s", ds, exc)
            skipped[ds] = str(exc)
    if not results:
        raise StageSkipped("; ".join(f"{d}: {r}" for d, r in skipped.items()) or "no dataset to deconvolve")

    with atomic_outdir(args.outdir) as tmp:
        opts = {"sep": "\t", "index": False, "float_format": "%.6g"}
        for name, attr in (
            ("estimates", "estimates"),
            ("accuracy", "accuracy"),
            ("per_sample", "per_sample"),
            ("consequence", "consequence"),
        ):
            pd.concat([getattr(r, attr) for r in results], ignore_index=True).to_csv(
                tmp / f"deconvolution_{name}.tsv", **opts
            )
        pd.concat([r.bulk_proportions for r in results], ignore_index=True).to_csv(
            tmp / "estimated_proportions.tsv", **opts
        )
        for r in results:
            write_deconvolve_mqc(tmp, r)
        summary = {**results[0].summary, "datasets": [r.summary for r in results], "skipped": skipped}
        (tmp / "deconvolve_summary.json").write_text(json.dumps(to_builtin(summary), indent=2))
        write_versions(tmp, "deconvolve", ["scipy", "scikit-learn", "numpy", "pandas", "anndata"])
    for r in results:
        log.info("%s", r.summary["sentence"])
    return 0
