"""Bulk-vs-pseudo-bulk discrimination of one dataset, and generalisation across datasets (pure functions).

Protocol: donor-grouped K-fold (``n_folds``, leave-one-donor-out when there are fewer donors); within each
fold the top-variance genes of the training profiles are selected; XGBoost and two baselines are fitted on
the same folds; metrics come from pooled out-of-fold scores with donor-bootstrap CIs. The permutation test
reruns the whole cross-validation with labels shuffled within donor (the fast XGBoost configuration on the
top ``permutation_genes`` genes, compared with the same configuration on the true labels). The learning curve
reruns the XGBoost cross-validation with fewer top-variance genes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pbfidelity.discriminate.crossval import cross_validate, top_variance_genes
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
from pbfidelity.discriminate.shap import gene_importance, top_genes
from pbfidelity.discriminate.stats import auroc, donor_bootstrap, permutation_p_value, roc_points
from pbfidelity.normalize import log1p_cpm

log = logging.getLogger("pbfidelity.discriminate")


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


def _models(params: DiscriminateParams) -> dict:
    models = {"xgboost": xgboost_model(params.xgb)}
    if params.baselines:
        models["logistic_l2"] = logistic_model()
        models["random_forest"] = random_forest_model()
    return models


def permutation_test(
    x: np.ndarray, y: np.ndarray, donors: np.ndarray, folds: np.ndarray, params: DiscriminateParams
) -> tuple[float, np.ndarray]:
    """Observed AUROC and its null distribution with labels shuffled within donor (same folds, fast model)."""
    model = xgboost_model(params.permutation_xgb)
    observed = cross_validate(x, y, folds, model, params.permutation_genes, params.seed).scores
    obs_auc = auroc(y, observed)
    rng = rng_for(params.seed, PERMUTATION_STREAM)
    null = np.empty(params.n_permutations)
    for i in range(params.n_permutations):
        y_perm = permute_within_groups(y, donors, rng)
        s = cross_validate(x, y_perm, folds, model, params.permutation_genes, params.seed).scores
        null[i] = auroc(y_perm, s)
    return obs_auc, null


def learning_curve(
    x: np.ndarray, y: np.ndarray, donors: np.ndarray, folds: np.ndarray, params: DiscriminateParams
) -> pd.DataFrame:
    """XGBoost out-of-fold AUROC (with donor-bootstrap CI) against the number of top-variance genes."""
    n_varying = int(np.sum(x.var(axis=0) > 0))
    sizes = {s for s in params.learning_curve if s < n_varying}
    if n_varying <= max(params.learning_curve):
        sizes.add(n_varying)  # "all genes" as the last point, unless it is far beyond the grid
    sizes = sorted(sizes)
    rows = []
    for size in sizes:
        cv = cross_validate(x, y, folds, xgboost_model(params.xgb), size, params.seed)
        ci = donor_bootstrap(y, cv.scores, donors, params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM))
        a = ci.set_index("metric").loc["auroc"]
        rows.append({"n_genes": size, "auroc": a["value"], "ci_low": a["ci_low"], "ci_high": a["ci_high"]})
    return pd.DataFrame(rows)


def discriminate(ps: ProfileSet, params: DiscriminateParams | None = None) -> DiscriminationResult:
    """Run the full protocol on one dataset's profiles."""
    params = params or DiscriminateParams()
    x = ps.logcpm()
    y = ps.y
    donors = ps.donors
    folds = donor_folds(donors, params.n_folds, params.seed)
    n_folds = int(np.unique(folds).size)
    log.info(
        "[%s] %d profiles (%d bulk), %d donors, %d folds",
        ps.dataset,
        len(y),
        int(y.sum()),
        np.unique(donors).size,
        n_folds,
    )

    metrics, rocs, scores, main = [], [], {}, None
    for name, model in _models(params).items():
        cv = cross_validate(x, y, folds, model, params.n_genes, params.seed, contributions=name == "xgboost")
        if name == "xgboost":
            main = cv
        scores[name] = cv.scores
        m = donor_bootstrap(y, cv.scores, donors, params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM))
        m.insert(0, "model", name)
        metrics.append(m)
        r = roc_points(y, cv.scores)
        r.insert(0, "model", name)
        rocs.append(r)
    assert main is not None and main.contributions is not None
    metrics_df = pd.concat(metrics, ignore_index=True)
    roc_df = pd.concat(rocs, ignore_index=True)

    importance = gene_importance(main.contributions, x, y, ps.genes)
    top = top_genes(importance, params.top_n)

    if params.n_permutations > 0:
        obs_auc, null = permutation_test(x, y, donors, folds, params)
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
        learning_curve(x, y, donors, folds, params)
        if params.learning_curve
        else pd.DataFrame(columns=["n_genes", "auroc", "ci_low", "ci_high"])
    )

    pred = ps.obs[["sample", "donor", "modality", "replicate"]].copy()
    pred.insert(0, "profile", pred.index.astype(str))
    pred["fold"] = folds
    pred["label"] = y
    for name, s in scores.items():
        pred[f"score_{name}"] = s
    pred = pred.reset_index(drop=True)

    summary = _summary(ps, params, metrics_df, top, obs_auc, p_value, n_folds, main.selected)
    for df in (metrics_df, roc_df, perm_df, curve, importance, top, pred):
        df.insert(0, "dataset", ps.dataset)
    return DiscriminationResult(
        ps.dataset, metrics_df, roc_df, pred, importance, top, perm_df, curve, summary
    )


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
