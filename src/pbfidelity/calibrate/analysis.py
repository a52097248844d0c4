"""Cross-validated calibration of one dataset's pseudo-bulk and its effect on the discriminator.

Folds are the donor-grouped folds of :mod:`pbfidelity.discriminate` (same seed, same folds). Two uses:

- *Published counts*: every pseudo-bulk profile is calibrated by a model fitted on the matched pairs of the
  other folds' donors only (cross-fitting), so the written counts are honest held-out calibrations.
- *Evaluation*: for each outer fold the discriminator sees training pseudo-bulk that was itself calibrated by
  inner cross-fitting over the training donors, and held-out pseudo-bulk calibrated by a model fitted on all
  training donors. No bulk profile of a held-out donor touches anything the discriminator is trained on, and
  training and test pseudo-bulk are calibrated the same (out-of-sample) way. Raw and calibrated runs share
  folds, genes-per-fold rule, model and seeds; the AUROC drop is raw minus calibrated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pbfidelity.calibrate.counts import calibrated_logcpm, logcpm_to_counts
from pbfidelity.calibrate.models import Calibration, fit_calibration, identity_calibration, select_calibration
from pbfidelity.discriminate.analysis import evaluation_rows
from pbfidelity.discriminate.crossval import cross_validate
from pbfidelity.discriminate.depth import depth_match
from pbfidelity.discriminate.folds import BOOTSTRAP_STREAM, donor_folds, rng_for
from pbfidelity.discriminate.models import XGB_DEFAULT, XGBParams, logistic_model, xgboost_model
from pbfidelity.discriminate.profiles import ProfileSet
from pbfidelity.discriminate.stats import donor_bootstrap
from pbfidelity.errors import StageSkipped
from pbfidelity.normalize import library_sizes
from pbfidelity.parallel import parallel_map

log = logging.getLogger("pbfidelity.calibrate")


@dataclass(frozen=True)
class CalibrateParams:
    """Settings; defaults are what ``pbfidelity calibrate`` uses (folds/genes/seed match ``discriminate``)."""

    methods: tuple[str, ...] = ("auto", "scale", "offset", "linear")
    n_folds: int = 5
    n_genes: int | None = 2000
    n_bootstrap: int = 1000
    ridge: float = 1.0
    seed: int = 42
    xgb: XGBParams = XGB_DEFAULT
    depth_match: str = "paired"
    threads: int = 1  # methods (and folds) fitted concurrently; results identical


@dataclass
class CalibrationResult:
    """Calibrated counts (primary method), the full-data model, metrics, pair correlations and a summary."""

    dataset: str
    method: str
    counts: np.ndarray  # all selected profiles; pseudo-bulk rows calibrated (held out), bulk rows unchanged
    obs: pd.DataFrame
    genes: np.ndarray
    gene_table: pd.DataFrame
    metrics: pd.DataFrame
    pairs: pd.DataFrame
    summary: dict = field(default_factory=dict)


class _Calibrator:
    """Fits on the matched pairs among chosen rows and calibrates chosen pseudo-bulk rows (as written counts)."""

    def __init__(self, ps: ProfileSet, x: np.ndarray, method: str, ridge: float):
        self.x, self.method, self.ridge = x, method, ridge
        self.pairs = ps.matched_pairs()
        self.is_pb = ps.y == 0
        self.lib = library_sizes(ps.counts)
        self.choices: list[str] = []  # what ``auto`` chose at each fit

    def fit(self, rows: np.ndarray) -> Calibration:
        inside = np.isin(self.pairs["bulk"], rows) & np.isin(self.pairs["pb"], rows)
        p = self.pairs[inside]
        if len(p) == 0:
            raise StageSkipped("a training fold has no matched bulk/pseudo-bulk pair; cannot calibrate")
        bulk, pb = self.x[p["bulk"].to_numpy()], self.x[p["pb"].to_numpy()]
        if self.method != "auto":
            return fit_calibration(bulk, pb, self.method, self.ridge)
        (method, strength), _ = select_calibration(bulk, pb, p["donor"].to_numpy(), self.ridge)
        self.choices.append(f"{method}@{strength:g}" if method != "identity" else "identity")
        if method == "identity":
            return identity_calibration(bulk.shape[1], len(p))
        return fit_calibration(bulk, pb, method, self.ridge).shrunk(strength)

    def apply(self, model: Calibration, rows: np.ndarray) -> np.ndarray:
        """Calibrated log-CPM of ``rows`` (pseudo-bulk rows calibrated, bulk rows as they are)."""
        out = self.x[rows].copy()
        pb = self.is_pb[rows]
        if pb.any():
            out[pb] = calibrated_logcpm(model.apply(self.x[rows[pb]]), self.lib[rows[pb]])
        return out

    def crossfit(self, rows: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """Calibrated log-CPM of ``rows``, each fold's pseudo-bulk by a model fitted on the other folds."""
        out = np.empty((rows.size, self.x.shape[1]))
        for k in np.unique(folds):
            held = folds == k
            out[held] = self.apply(self.fit(rows[~held]), rows[held])
        return out


def _auroc_row(label: str, model: str, y, scores, donors, params: CalibrateParams, ev=None) -> dict:
    if ev is not None:  # primary profiles only: pseudo-replicates are never evaluation units
        y, scores, donors = y[ev], scores[ev], donors[ev]
    ci = donor_bootstrap(y, scores, donors, params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM))
    a = ci.set_index("metric").loc["auroc"]
    return {
        "pseudobulk": label,
        "model": model,
        "auroc": float(a["value"]),
        "ci_low": float(a["ci_low"]),
        "ci_high": float(a["ci_high"]),
    }


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ac = a - a.mean(axis=1, keepdims=True)
    bc = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((ac**2).sum(axis=1) * (bc**2).sum(axis=1))
    return np.where(den > 0, (ac * bc).sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)


def calibrate(ps: ProfileSet, params: CalibrateParams | None = None) -> CalibrationResult:
    """Cross-fit every method, evaluate it against raw pseudo-bulk on the same folds, keep the first method's counts."""
    params = params or CalibrateParams()
    # calibrated counts at bulk depth: pseudo-bulk is thinned to its pair's bulk depth first (as discriminate)
    ps = depth_match(ps, params.depth_match, params.seed)
    x = ps.logcpm()
    y = ps.y
    donors = ps.donors
    ev = evaluation_rows(ps)
    pairs = ps.matched_pairs()
    if len(pairs) < 3:
        raise StageSkipped(
            f"dataset '{ps.dataset}' has {len(pairs)} matched bulk/pseudo-bulk pair(s); need >= 3"
        )
    folds = donor_folds(donors, params.n_folds, params.seed)
    all_rows = np.arange(len(y))
    models = {"xgboost": xgboost_model(params.xgb), "logistic_l2": logistic_model()}

    rows, raw_scores = [], {}
    for name, model in models.items():
        raw_scores[name] = cross_validate(x, y, folds, model, params.n_genes, params.seed, threads=params.threads).scores
        rows.append(_auroc_row("raw", name, y, raw_scores[name], donors, params, ev))
    pair_table = pairs.assign(fold=folds[pairs["bulk"].to_numpy()])
    pair_table["r_raw"] = _pearson_rows(x[pairs["bulk"]], x[pairs["pb"]])

    # the methods are independent: with threads they run concurrently (each fold loop then gets the rest)
    inner_threads = max(1, params.threads // max(1, len(params.methods)))

    def one_method(method: str):
        cal = _Calibrator(ps, x, method, params.ridge)
        held = cal.crossfit(all_rows, folds)
        full = cal.fit(all_rows)
        picked = list(cal.choices)

        def fold_data(train, test):
            inner = donor_folds(donors[train], params.n_folds, params.seed)
            return cal.crossfit(train, inner), cal.apply(cal.fit(train), test)

        out = []
        for name, model in models.items():
            s = cross_validate(
                x, y, folds, model, params.n_genes, params.seed, fold_data=fold_data, threads=inner_threads
            ).scores
            out.append(_auroc_row(method, name, y, s, donors, params, ev))
        return held, full, picked, out

    heldout: dict[str, np.ndarray] = {}
    full_models: dict[str, Calibration] = {}
    choices: dict[str, list[str]] = {}
    for method, (held, full, picked, method_rows) in zip(
        params.methods, parallel_map(one_method, params.methods, params.threads), strict=True
    ):
        heldout[method], full_models[method], choices[method] = held, full, picked
        rows += method_rows
        pair_table[f"r_{method}"] = _pearson_rows(x[pairs["bulk"]], heldout[method][pairs["pb"]])

    metrics = pd.DataFrame(rows)
    raw_auc = metrics[metrics["pseudobulk"] == "raw"].set_index("model")["auroc"]
    metrics["auroc_drop"] = raw_auc.reindex(metrics["model"]).to_numpy() - metrics["auroc"].to_numpy()
    r_cols = {"raw": "r_raw", **{m: f"r_{m}" for m in params.methods}}
    metrics["pair_r_median"] = [float(np.nanmedian(pair_table[r_cols[p]])) for p in metrics["pseudobulk"]]
    metrics["pair_r_mean"] = [float(np.nanmean(pair_table[r_cols[p]])) for p in metrics["pseudobulk"]]

    primary = params.methods[0]
    counts = ps.counts.copy()
    pb_rows = np.flatnonzero(y == 0)
    counts[pb_rows] = logcpm_to_counts(heldout[primary][pb_rows], library_sizes(ps.counts[pb_rows]))
    fm = full_models[primary]
    gene_table = pd.DataFrame(
        {
            "gene": ps.genes,
            "offset": fm.offset,
            "raw_log_ratio": fm.raw_offset,
            "shrinkage_weight": fm.weight,
        }
    )
    for method, m in full_models.items():
        gene_table[f"intercept_{method}"] = m.intercept
        gene_table[f"slope_{method}"] = m.slope
    summary = _summary(ps, params, metrics, pair_table, primary, folds, len(pairs))
    if "auto" in choices:
        picks = choices["auto"]
        summary["auto_choices"] = {c: picks.count(c) for c in sorted(set(picks))}
        summary["auto_full_data_choice"] = full_models["auto"].method
    summary["depth_match"] = params.depth_match
    summary["n_evaluated"] = int(ev.sum())
    for df in (metrics, pair_table, gene_table):
        df.insert(0, "dataset", ps.dataset)
    pair_table = pair_table.rename(columns={"bulk": "bulk_row", "pb": "pseudobulk_row"})
    pair_table["bulk_profile"] = ps.obs.index[pair_table["bulk_row"]].astype(str)
    pair_table["pseudobulk_profile"] = ps.obs.index[pair_table["pseudobulk_row"]].astype(str)
    pair_table = pair_table.drop(columns=["bulk_row", "pseudobulk_row"])
    return CalibrationResult(
        ps.dataset, primary, counts, ps.obs, ps.genes, gene_table, metrics, pair_table, summary
    )


def _summary(ps, params, metrics, pair_table, primary, folds, n_pairs) -> dict:
    m = metrics.set_index(["pseudobulk", "model"])
    raw = m.loc[("raw", "xgboost")]
    per_method = {}
    for method in params.methods:
        c = m.loc[(method, "xgboost")]
        per_method[method] = {
            "auroc": float(c["auroc"]),
            "ci_low": float(c["ci_low"]),
            "ci_high": float(c["ci_high"]),
            "auroc_drop": float(c["auroc_drop"]),
            "pair_r_median": float(c["pair_r_median"]),
            "logistic_l2_auroc": float(m.loc[(method, "logistic_l2"), "auroc"]),
        }
    best = per_method[primary]
    r_raw = float(raw["pair_r_median"])
    return {
        "dataset": ps.dataset,
        "method": primary,
        "pb_method": ps.pb_method,
        "n_pairs": int(n_pairs),
        "n_donors": int(np.unique(ps.donors).size),
        "n_folds": int(np.unique(folds).size),
        "auroc_raw": float(raw["auroc"]),
        "auroc_raw_ci": [float(raw["ci_low"]), float(raw["ci_high"])],
        "auroc_calibrated": best["auroc"],
        "auroc_calibrated_ci": [best["ci_low"], best["ci_high"]],
        "auroc_drop": best["auroc_drop"],
        "pair_r_raw_median": r_raw,
        "pair_r_calibrated_median": best["pair_r_median"],
        "pair_r_change": best["pair_r_median"] - r_raw,
        "fraction_pairs_improved": float(np.mean(pair_table[f"r_{primary}"] > pair_table["r_raw"])),
        "methods": per_method,
        "logistic_l2_auroc_raw": float(m.loc[("raw", "logistic_l2"), "auroc"]),
        "seed": params.seed,
    }
