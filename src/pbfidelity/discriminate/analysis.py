"""Bulk-vs-pseudo-bulk discrimination of one dataset, and generalisation across datasets (pure functions).

Protocol: pseudo-bulk and bulk are first depth-matched (seeded binomial thinning, :mod:`.depth`; the raw-depth
analysis is reported beside it); donor-grouped K-fold (``n_folds``, leave-one-donor-out when there are fewer
donors); within each fold the top-variance genes of the training profiles are selected; XGBoost and two
baselines are fitted on the same folds, and a covariate-only baseline (library size, spike-in %, mito %, ribo %,
genes detected) on the same folds; metrics come from pooled out-of-fold scores of the *primary* profiles only
(pseudo-replicates train, never count as evaluation units), with donor-bootstrap CIs and an exact paired
interval that stays valid when every held-out pair is separated (:func:`.stats.paired_concordance_interval`). The permutation test
reruns the whole cross-validation with labels shuffled within donor (the fast XGBoost configuration on the
top ``permutation_genes`` genes, compared with the same configuration on the true labels). The learning curve
reruns the XGBoost cross-validation with fewer top-variance genes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pbfidelity.discriminate.covariates import covariate_baseline, technical_covariates
from pbfidelity.discriminate.crossval import cross_validate, split_folds, top_variance_genes
from pbfidelity.discriminate.depth import depth_match
from pbfidelity.discriminate.folds import (
    BOOTSTRAP_STREAM,
    PERMUTATION_STREAM,
    donor_folds,
    permute_within_groups,
    rng_for,
)
from pbfidelity.discriminate.models import (
    XGB_DEFAULT,
    XGB_FAST,
    XGBParams,
    logistic_model,
    random_forest_model,
    xgboost_model,
)
from pbfidelity.discriminate.profiles import ProfileSet
from pbfidelity.discriminate.shap import gene_importance, signed_values, top_genes
from pbfidelity.discriminate.stats import (
    auroc,
    donor_bootstrap,
    genes_separating_alone,
    pair_distance_ratio,
    paired_concordance_interval,
    permutation_p_value,
    probability_scores,
    roc_points,
)
from pbfidelity.normalize import log1p_cpm
from pbfidelity.parallel import parallel_map

log = logging.getLogger("pbfidelity.discriminate")
#: top genes (by mean |SHAP|) whose per-profile signed SHAP values are kept for the beeswarm view
SIGNED_TOP = 15


@dataclass(frozen=True)
class DiscriminateParams:
    """Validation settings; the defaults are what ``pbfidelity discriminate`` uses."""

    n_folds: int = 5
    n_genes: int | None = 2000
    n_bootstrap: int = 1000
    n_permutations: int = 200
    permutation_genes: int | None = 500
    top_n: int = 100
    learning_curve: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    baselines: bool = True
    seed: int = 42
    xgb: XGBParams = XGB_DEFAULT
    permutation_xgb: XGBParams = XGB_FAST
    depth_match: str = "paired"
    threads: int = 1  # folds, permutations and learning-curve points fitted concurrently; results identical


@dataclass
class DiscriminationResult:
    """Every table of one dataset's discrimination, plus a JSON-ready summary."""

    dataset: str
    metrics: pd.DataFrame
    roc: pd.DataFrame
    predictions: pd.DataFrame
    importance: pd.DataFrame
    top: pd.DataFrame
    permutations: pd.DataFrame
    learning_curve: pd.DataFrame
    summary: dict = field(default_factory=dict)
    shap_values: pd.DataFrame = field(default_factory=pd.DataFrame)  # signed SHAP of the top genes (beeswarm)


def _models(params: DiscriminateParams) -> dict:
    models = {"xgboost": xgboost_model(params.xgb)}
    if params.baselines:
        models["logistic_l2"] = logistic_model()
        models["random_forest"] = random_forest_model()
    return models


def permutation_test(
    x: np.ndarray,
    y: np.ndarray,
    donors: np.ndarray,
    folds: np.ndarray,
    params: DiscriminateParams,
    evaluate: np.ndarray | None = None,
    splits: list | None = None,
) -> tuple[float, np.ndarray]:
    """Observed AUROC and its null distribution with labels shuffled within donor (same folds, fast model),
    both scored on the ``evaluate`` rows (primary profiles)."""
    ev = np.ones(len(y), dtype=bool) if evaluate is None else evaluate
    model = xgboost_model(params.permutation_xgb)
    splits = splits or split_folds(x, folds)  # same folds and features for every labeling: variances once
    observed = cross_validate(
        x, y, folds, model, params.permutation_genes, params.seed, threads=params.threads, splits=splits
    ).scores
    obs_auc = auroc(y[ev], observed[ev])
    rng = rng_for(params.seed, PERMUTATION_STREAM)
    # labelings drawn in order from one stream, then cross-validated concurrently: same null for any thread count
    labelings = [permute_within_groups(y, donors, rng) for _ in range(params.n_permutations)]

    def one(y_perm: np.ndarray) -> float:
        s = cross_validate(x, y_perm, folds, model, params.permutation_genes, params.seed, splits=splits).scores
        return auroc(y_perm[ev], s[ev])

    return obs_auc, np.asarray(parallel_map(one, labelings, params.threads), dtype=float)


def learning_curve(
    x: np.ndarray,
    y: np.ndarray,
    donors: np.ndarray,
    folds: np.ndarray,
    params: DiscriminateParams,
    evaluate: np.ndarray | None = None,
    splits: list | None = None,
) -> pd.DataFrame:
    """XGBoost out-of-fold AUROC (with donor-bootstrap CI) against the number of top-variance genes."""
    n_varying = int(np.sum(x.var(axis=0) > 0))
    sizes = {s for s in params.learning_curve if s < n_varying}
    if n_varying <= max(params.learning_curve):
        sizes.add(n_varying)  # "all genes" as the last point, unless it is far beyond the grid
    sizes = sorted(sizes)
    rows = []
    ev = np.ones(len(y), dtype=bool) if evaluate is None else evaluate
    splits = splits or split_folds(x, folds)
    # largest first (the cost grows with the genes): no lone long fit at the end; results back in size order
    fits = parallel_map(
        lambda size: cross_validate(x, y, folds, xgboost_model(params.xgb), size, params.seed, splits=splits),
        sizes[::-1],
        params.threads,
    )[::-1]
    for size, cv in zip(sizes, fits, strict=True):
        ci = donor_bootstrap(
            y[ev], cv.scores[ev], donors[ev], params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM)
        )
        a = ci.set_index("metric").loc["auroc"]
        rows.append({"n_genes": size, "auroc": a["value"], "ci_low": a["ci_low"], "ci_high": a["ci_high"]})
    return pd.DataFrame(rows)


def discriminate(ps: ProfileSet, params: DiscriminateParams | None = None) -> DiscriminationResult:
    """Run the full protocol on one dataset's profiles."""
    params = params or DiscriminateParams()
    ps_raw = ps
    ps = depth_match(ps_raw, params.depth_match, params.seed)
    x = ps.logcpm()
    y = ps.y
    donors = ps.donors
    folds = donor_folds(donors, params.n_folds, params.seed)
    ev = evaluation_rows(ps)
    samples = ps.obs["sample"].astype(str).to_numpy()
    n_folds = int(np.unique(folds).size)
    log.info(
        "[%s] %d profiles (%d bulk), %d donors, %d folds",
        ps.dataset,
        len(y),
        int(y.sum()),
        np.unique(donors).size,
        n_folds,
    )

    splits = split_folds(x, folds)  # every rerun on these folds and features reuses the gene variances
    metrics, rocs, scores, main = [], [], {}, None
    for name, model in _models(params).items():
        cv = cross_validate(
            x,
            y,
            folds,
            model,
            params.n_genes,
            params.seed,
            contributions=name == "xgboost",
            threads=params.threads,
            splits=splits,
        )
        if name == "xgboost":
            main = cv
        scores[name] = cv.scores
        m = donor_bootstrap(
            y[ev], cv.scores[ev], donors[ev], params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM)
        )
        m.insert(0, "model", name)
        metrics.append(m)
        r = roc_points(y[ev], cv.scores[ev])
        r.insert(0, "model", name)
        rocs.append(r)
    assert main is not None and main.contributions is not None
    # the covariate-only baseline: raw-depth covariates (what depth matching removes), same folds
    cov = technical_covariates(ps_raw)
    cov_scores, single_cov = covariate_baseline(cov, y, folds, ev)
    scores["covariates"] = cov_scores
    m = donor_bootstrap(
        y[ev], cov_scores[ev], donors[ev], params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM)
    )
    m.insert(0, "model", "covariates")
    metrics.append(m)
    r = roc_points(y[ev], cov_scores[ev])
    r.insert(0, "model", "covariates")
    rocs.append(r)
    metrics_df = pd.concat(metrics, ignore_index=True)
    roc_df = pd.concat(rocs, ignore_index=True)

    importance = gene_importance(main.contributions, x, y, ps.genes)
    # genes the classifier could choose from (top-variance in at least one training fold): the fair
    # background for testing the SHAP gene list for enrichment
    chosen = np.zeros(len(ps.genes), dtype=bool)
    for fold_genes in main.selected:
        chosen[np.asarray(fold_genes, dtype=np.int64)] = True
    importance["candidate"] = importance["gene"].isin(set(np.asarray(ps.genes)[chosen].astype(str))).to_numpy()
    top = top_genes(importance, params.top_n)
    signed = signed_values(
        main.contributions,
        x,
        ps.genes,
        ps.obs.index.astype(str).to_numpy(),
        ps.obs["modality"].astype(str).to_numpy(),
        top["gene"].head(SIGNED_TOP).tolist(),
        ev,
    )

    if params.n_permutations > 0:
        obs_auc, null = permutation_test(x, y, donors, folds, params, ev, splits)
        p_value = permutation_p_value(obs_auc, null)
        perm_df = pd.DataFrame(
            {
                "permutation": np.arange(null.size + 1),
                "auroc": np.r_[obs_auc, null],
                "kind": ["observed"] + ["permuted"] * null.size,
            }
        )
    else:
        obs_auc, p_value = float("nan"), float("nan")
        perm_df = pd.DataFrame(columns=["permutation", "auroc", "kind"])

    curve = (
        learning_curve(x, y, donors, folds, params, ev, splits)
        if params.learning_curve
        else pd.DataFrame(columns=["n_genes", "auroc", "ci_low", "ci_high"])
    )

    pred = ps.obs[["sample", "donor", "modality", "replicate"]].copy()
    pred.insert(0, "profile", pred.index.astype(str))
    pred["fold"] = folds
    pred["label"] = y
    pred["evaluated"] = ev
    pred["depth_raw"] = ps.obs["depth_raw"].to_numpy()
    pred["depth_matched"] = ps.obs["depth_matched"].to_numpy()
    for name, s in scores.items():
        pred[f"score_{name}"] = s
    for c in cov.columns:
        pred[c] = cov[c].to_numpy()
    pred = pred.reset_index(drop=True)

    summary = _summary(ps, params, metrics_df, top, obs_auc, p_value, n_folds, main.selected)
    summary.update(_honest(ps, ps_raw, params, x, y, ev, folds, donors, samples, scores, cov, single_cov))
    # the verdict rests on the exact paired bound (valid at the boundary) and the permutation test
    if summary["verdict_exact"].startswith("distinguishable") and np.isfinite(p_value) and p_value >= 0.05:
        summary["verdict_exact"] = "no detectable difference: held-out AUROC is compatible with chance"
    summary["verdict"] = summary["verdict_exact"]
    for df in (metrics_df, roc_df, perm_df, curve, importance, top, pred, signed):
        df.insert(0, "dataset", ps.dataset)
    return DiscriminationResult(
        ps.dataset, metrics_df, roc_df, pred, importance, top, perm_df, curve, summary, signed
    )


def evaluation_rows(ps: ProfileSet) -> np.ndarray:
    """Rows that count as evaluation units: bulk and primary (replicate 0) pseudo-bulk. Pseudo-replicates
    train the models but are never scored, so they never weigh against bulk in the pooled metrics."""
    rep = ps.obs["replicate"].to_numpy()
    ev = (ps.y == 1) | (rep == 0)
    if not (ev & (ps.y == 0)).any():  # bootstrap-only pseudo-bulk: every row is a unit
        return np.ones(len(ev), dtype=bool)
    return ev


def _exact(y, s, samples) -> dict:
    return paired_concordance_interval(y, s, samples)


def _honest(ps, ps_raw, params, x, y, ev, folds, donors, samples, scores, cov, single_cov) -> dict:
    """Boundary-valid intervals, non-saturating effect sizes, the covariate baseline and the raw-depth run."""
    main = scores["xgboost"]
    exact = _exact(y[ev], main[ev], samples[ev])
    prob = probability_scores(y[ev], main[ev])
    alone = genes_separating_alone(x, y, folds, ev)
    pairs = ps.matched_pairs()
    dist = pair_distance_ratio(x, pairs["bulk"].to_numpy(), pairs["pb"].to_numpy())
    cov_exact = _exact(y[ev], scores["covariates"][ev], samples[ev])
    cov_auc = auroc(y[ev], scores["covariates"][ev])
    out: dict = {
        "depth_match": params.depth_match,
        "n_evaluated": int(ev.sum()),
        "n_pseudo_replicates_training_only": int((~ev).sum()),
        "auroc_exact": {
            **exact,
            "method": "Clopper-Pearson over held-out pairs: P(bulk scores above its own "
            "pseudo-bulk), ties counted half and rounded down; valid when every pair is separated",
        },
        "log_loss": prob["log_loss"],
        "brier": prob["brier"],
        "log_loss_chance": float(np.log(2)),
        "n_genes_separating_alone": int(alone.sum()),
        "genes_separating_alone": [str(g) for g in ps.genes[alone][:20]],
        "pair_distance": dist,
        "depth": {
            "bulk_median_raw": float(np.median(ps.obs["depth_raw"].to_numpy()[y == 1])),
            "pseudobulk_median_raw": float(np.median(ps.obs["depth_raw"].to_numpy()[y == 0])),
            "bulk_median_matched": float(np.median(ps.obs["depth_matched"].to_numpy()[y == 1])),
            "pseudobulk_median_matched": float(np.median(ps.obs["depth_matched"].to_numpy()[y == 0])),
        },
        "covariate_baseline": {
            "auroc": cov_auc,
            "auroc_exact": cov_exact,
            "single_covariate_auroc": single_cov,
            "covariates": list(cov.columns),
            "source": cov.attrs.get("source", {}),
            "separates": bool(cov_exact["lower_bound"] > 0.5),
        },
    }
    if params.depth_match != "none":
        xr = ps_raw.logcpm()
        s_raw = cross_validate(
            xr, y, folds, xgboost_model(params.xgb), params.n_genes, params.seed, threads=params.threads
        ).scores
        ci = donor_bootstrap(
            y[ev], s_raw[ev], donors[ev], params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM)
        )
        a = ci.set_index("metric").loc["auroc"]
        out["raw_depth"] = {
            "auroc": float(a["value"]),
            "ci_low": float(a["ci_low"]),
            "ci_high": float(a["ci_high"]),
            "auroc_exact": _exact(y[ev], s_raw[ev], samples[ev]),
            **probability_scores(y[ev], s_raw[ev]),
        }
    n_pairs = exact["n_pairs"]
    lb = exact["lower_bound"]
    min_pairs = int(np.ceil(np.log(0.05) / np.log(0.5)))  # all pairs separated still needs 5 pairs
    if n_pairs < min_pairs:
        verdict = (
            f"underpowered: {n_pairs} held-out pair(s); even perfect separation cannot exclude chance "
            f"(needs >= {min_pairs} pairs)"
        )
    elif lb > 0.5:
        verdict = "distinguishable: a classifier tells bulk from pseudo-bulk on held-out donors"
    else:
        verdict = "no detectable difference: held-out AUROC is compatible with chance"
    out["verdict_exact"] = verdict
    return out


def _summary(ps, params, metrics_df, top, obs_auc, p_value, n_folds, selected) -> dict:
    m = metrics_df.set_index(["model", "metric"])
    xg = m.loc["xgboost"]
    auc, lo, hi = (float(xg.loc["auroc", c]) for c in ("value", "ci_low", "ci_high"))
    distinguishable = lo > 0.5 and (not np.isfinite(p_value) or p_value < 0.05)
    return {
        "dataset": ps.dataset,
        "pb_method": ps.pb_method,
        "n_profiles": int(len(ps.y)),
        "n_bulk": int(ps.y.sum()),
        "n_pseudobulk": int((ps.y == 0).sum()),
        "n_donors": int(np.unique(ps.donors).size),
        "n_folds": n_folds,
        "n_genes_per_fold": int(np.median([s.size for s in selected])),
        "auroc": auc,
        "ci_low": lo,
        "ci_high": hi,
        "accuracy": float(xg.loc["accuracy", "value"]),
        "balanced_accuracy": float(xg.loc["balanced_accuracy", "value"]),
        "f1": float(xg.loc["f1", "value"]),
        "permutation_p": p_value,
        "permutation_auroc": obs_auc,
        "n_permutations": int(params.n_permutations),
        "permutation_model": f"XGBoost fast ({params.permutation_xgb.n_estimators} trees) on the top "
        f"{params.permutation_genes} variance genes, labels shuffled within donor",
        "baselines": {
            model: {
                k: float(m.loc[(model, "auroc"), c])
                for k, c in (("auroc", "value"), ("ci_low", "ci_low"), ("ci_high", "ci_high"))
            }
            for model in m.index.get_level_values(0).unique()
            if model != "xgboost"
        },
        "top_genes": top["gene"].head(20).tolist(),
        "top_genes_direction": top["direction"].head(20).tolist(),
        "verdict": (
            "distinguishable: a classifier tells bulk from pseudo-bulk on held-out donors"
            if distinguishable
            else "no detectable difference: held-out AUROC is compatible with chance"
        ),
        "seed": params.seed,
        "xgboost_params": params.xgb.as_dict(),
    }


def cross_dataset(train: ProfileSet, test: ProfileSet, params: DiscriminateParams | None = None) -> dict:
    """Train XGBoost on every profile of ``train`` and score ``test`` (shared genes, CPM over shared genes)."""
    params = params or DiscriminateParams()
    shared = np.intersect1d(train.genes, test.genes)
    row = {"train_dataset": train.dataset, "test_dataset": test.dataset, "n_shared_genes": int(shared.size)}
    if shared.size < 10:
        return {
            **row,
            "auroc": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "accuracy": np.nan,
            "note": "fewer than 10 shared genes",
        }
    a = train.subset_genes(shared)
    b = test.subset_genes(shared)
    xa, xb = log1p_cpm(a.counts), log1p_cpm(b.counts)
    genes = top_variance_genes(xa, params.n_genes)
    s, _ = xgboost_model(params.xgb)(xa[:, genes], a.y, xb[:, genes], params.seed, False)
    ci = donor_bootstrap(b.y, s, b.donors, params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM))
    ci = ci.set_index("metric")
    return {
        **row,
        "auroc": float(ci.loc["auroc", "value"]),
        "ci_low": float(ci.loc["auroc", "ci_low"]),
        "ci_high": float(ci.loc["auroc", "ci_high"]),
        "accuracy": float(ci.loc["accuracy", "value"]),
        "note": "",
    }
