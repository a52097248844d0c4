"""Tell bulk from pseudo-bulk with XGBoost on held-out donors: metrics with CIs, SHAP genes, baselines.

Reads one or more profiles .h5ad files (each may hold several datasets). Per dataset: donor-grouped
cross-validation (bootstrap pseudo-replicates stay with their donor), AUROC/accuracy/balanced accuracy/F1 with
donor-bootstrap 95 % CIs, ROC points, a within-donor label-permutation test, L2 logistic regression and random
forest baselines on the same folds, a learning curve over the number of top-variance genes, and genes ranked by
mean |SHAP| (``shap_top_genes.tsv``, handed to ``enrich``). With several datasets, also trains on each and tests
on every other. Outputs: metrics.tsv, roc_points.tsv, predictions.tsv, shap_genes.tsv, shap_top_genes.tsv,
shap_values.tsv (signed per-profile SHAP of the top genes),
permutation.tsv, learning_curve.tsv, [cross_dataset.tsv], discriminate_summary.json, *_mqc.yaml, versions.yml.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pbfidelity.errors import StageSkipped, UserError
from pbfidelity.parallel import add_threads_argument

log = logging.getLogger("pbfidelity.discriminate")

TOP_COLUMNS = ["gene", "mean_abs_shap", "direction", "rank", "mean_shap", "log_ratio", "dataset"]


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"gene counts must be >= 1, got {text!r}")
    return values


def add_validation_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the donor-grouped validation, shared with ``calibrate`` so both stages use the same folds."""
    p.add_argument(
        "--n-folds",
        type=int,
        default=5,
        help="donor-grouped folds (leave-one-donor-out when there are fewer donors)",
    )
    p.add_argument(
        "--n-genes", type=int, default=2000, help="top-variance genes chosen on each training fold (0 = all)"
    )
    p.add_argument("--n-bootstrap", type=int, default=1000, help="donor-bootstrap resamples for the CIs")
    p.add_argument(
        "--pb-method",
        default="auto",
        help="pseudo-bulk method (obs pb_method) to compare with bulk; auto: proportion, else sum",
    )
    p.add_argument("--no-replicates", action="store_true", help="leave bootstrap pseudo-replicates out")
    add_threads_argument(p, "folds, label permutations and learning-curve points fitted concurrently, each "
                         "model single-threaded")
    p.add_argument(
        "--depth-match",
        choices=("paired", "min", "none"),
        default="paired",
        help="binomial thinning before the primary analysis: each pair to its shallower profile's depth "
        "(paired), every profile to the dataset's shallowest (min), or none; the raw-depth AUROC is reported beside",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profiles",
        required=True,
        nargs="+",
        type=Path,
        help="profiles .h5ad file(s); several datasets also give cross-dataset generalisation",
    )
    p.add_argument("--outdir", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=42, help="seed for folds, bootstrap, permutations and models")
    add_validation_arguments(p)
    p.add_argument(
        "--n-permutations",
        type=int,
        default=200,
        help="within-donor label permutations for the p-value (0 = skip)",
    )
    p.add_argument("--top-n", type=int, default=100, help="genes written to shap_top_genes.tsv")
    p.add_argument(
        "--learning-curve",
        type=_int_list,
        default=(10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
        help="comma-separated gene counts of the learning curve (all genes are added when within the grid)",
    )
    p.add_argument(
        "--no-baselines", action="store_true", help="skip the logistic-regression and forest baselines"
    )


def _params(args: argparse.Namespace):
    from pbfidelity.discriminate.analysis import DiscriminateParams

    for name in ("n_folds", "n_permutations", "n_bootstrap", "top_n", "n_genes", "threads"):
        value = getattr(args, name)
        if value < {"n_folds": 2, "threads": 1}.get(name, 0):
            raise UserError(f"--{name.replace('_', '-')}: invalid value {value}")
    return DiscriminateParams(
        n_folds=args.n_folds,
        n_genes=args.n_genes or None,
        n_bootstrap=max(args.n_bootstrap, 1),
        n_permutations=args.n_permutations,
        top_n=args.top_n,
        learning_curve=tuple(args.learning_curve),
        baselines=not args.no_baselines,
        seed=args.seed,
        depth_match=args.depth_match,
        threads=args.threads,
    )


def load_profile_sets(paths: list[Path], pb_method: str, replicates: bool):
    """Every dataset of every file as a ProfileSet; datasets that cannot be analysed are returned as skipped."""
    from pbfidelity.discriminate.profiles import dataset_names, select_profiles
    from pbfidelity.io.profiles import read_profiles

    sets, skipped, origin = [], {}, {}
    for path in paths:
        adata = read_profiles(path)
        for ds in dataset_names(adata):
            if ds in origin:
                raise UserError(f"{path}: dataset '{ds}' also appears in {origin[ds]}")
            origin[ds] = path
            try:
                sets.append(select_profiles(adata, ds, pb_method, replicates, source=str(path)))
            except StageSkipped as exc:
                log.warning("dataset %s: skipped: %s", ds, exc)
                skipped[ds] = str(exc)
    return sets, skipped


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pbfidelity.discriminate.analysis import cross_dataset, discriminate
    from pbfidelity.discriminate.report import write_cross_dataset_mqc, write_discriminate_mqc
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.mqc import to_builtin
    from pbfidelity.io.versions import write_versions

    params = _params(args)
    sets, skipped = load_profile_sets(args.profiles, args.pb_method, not args.no_replicates)
    if not sets:
        raise StageSkipped("; ".join(f"{d}: {r}" for d, r in skipped.items()) or "no dataset to analyse")
    results = [discriminate(ps, params) for ps in sets]
    cross = pd.DataFrame([cross_dataset(a, b, params) for a in sets for b in sets if a is not b])

    def cat(attr: str) -> pd.DataFrame:
        return pd.concat([getattr(r, attr) for r in results], ignore_index=True)

    with atomic_outdir(args.outdir) as tmp:
        opts = {"sep": "\t", "index": False, "float_format": "%.6g"}
        cat("metrics").to_csv(tmp / "metrics.tsv", **opts)
        cat("roc").to_csv(tmp / "roc_points.tsv", **opts)
        cat("predictions").to_csv(tmp / "predictions.tsv", **opts)
        cat("importance").to_csv(tmp / "shap_genes.tsv", **opts)
        cat("top")[TOP_COLUMNS].to_csv(tmp / "shap_top_genes.tsv", **opts)
        cat("permutations").to_csv(tmp / "permutation.tsv", **opts)
        cat("learning_curve").to_csv(tmp / "learning_curve.tsv", **opts)
        cat("shap_values").to_csv(tmp / "shap_values.tsv", **opts)
        if len(cross):
            cross.to_csv(tmp / "cross_dataset.tsv", **opts)
            write_cross_dataset_mqc(tmp, cross)
        for r in results:
            write_discriminate_mqc(tmp, r)
        summary = {
            **results[0].summary,
            "datasets": [r.summary for r in results],
            "cross_dataset": cross.to_dict(orient="records"),
            "skipped": skipped,
        }
        (tmp / "discriminate_summary.json").write_text(json.dumps(to_builtin(summary), indent=2))
        write_versions(tmp, "discriminate", ["xgboost", "scikit-learn", "numpy", "pandas", "anndata"])
    for r in results:
        s = r.summary
        log.info(
            "[%s] AUROC %.3f (95%% CI %.3f-%.3f), permutation p = %.4g",
            s["dataset"],
            s["auroc"],
            s["ci_low"],
            s["ci_high"],
            s["permutation_p"],
        )
    return 0
