"""Deconvolution of one dataset's bulk and pseudo-bulk, and what pseudo-bulk infidelity costs it.

Per matched pair (bulk sample + its pseudo-bulk) the reference leaves the pair's donor out when that donor
contributed cells to it. Four arms share references, markers rule, methods and bootstrap resamples:

- ``bulk``: the bulk sample against the reference;
- ``pseudobulk``: its pseudo-bulk against the same reference (what a pseudo-bulk benchmark measures);
- ``bulk_calibrated``: the bulk sample against the reference corrected by the gene-wise calibration of
  :mod:`pbfidelity.calibrate` fitted on the matched pairs of the *other* folds' donors only (cross-fitted,
  the donor-grouped folds of ``discriminate``/``calibrate``; pseudo-bulk thinned to bulk depth first);
- ``bulk_concordant``: the bulk sample with markers chosen only among genes the metrics stage found
  concordant (DE ``direction == 'ns'`` and ``|log2FoldChange| <= concordant_lfc``; that table uses every
  donor, but no proportions).

Bulk arms are scored against the known proportions (when given); the pseudo-bulk arm against its own cell
composition (the proportion-matched targets, else the cell numbers of its per-cell-type profiles). The
optimism of a pseudo-bulk benchmark is RMSE(bulk) - RMSE(pseudo-bulk); calibration recovers
(RMSE(bulk) - RMSE(bulk_calibrated)) / optimism of it. Intervals resample donors, paired across arms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pbfidelity.deconvolve.accuracy import accuracy, bootstrap_weights, rmse_draws
from pbfidelity.deconvolve.methods import METHODS, estimate
from pbfidelity.deconvolve.reference import (
    LeaveDonorOut,
    Reference,
    celltype_table,
    select_markers,
)
from pbfidelity.discriminate.profiles import ProfileSet
from pbfidelity.errors import StageSkipped, UserError
from pbfidelity.normalize import cpm, log1p_cpm

log = logging.getLogger("pbfidelity.deconvolve")

ARMS = ("bulk", "pseudobulk", "bulk_calibrated", "bulk_concordant")
ARM_LABELS = {
    "bulk": "bulk",
    "pseudobulk": "pseudo-bulk of the same samples",
    "bulk_calibrated": "bulk, calibrated reference (cross-fitted)",
    "bulk_concordant": "bulk, concordant genes only",
}
BOOTSTRAP_STREAM = 14


@dataclass(frozen=True)
class DeconvolveParams:
    """Settings; defaults are what ``pbfidelity deconvolve`` uses (folds and seed match ``calibrate``)."""

    methods: tuple[str, ...] = METHODS
    n_markers: int = 50
    min_log_fc: float = 1.0
    calibration: str = "offset"
    n_folds: int = 5
    n_bootstrap: int = 1000
    depth_match: str = "paired"
    concordant_lfc: float = 1.0
    ridge: float = 1.0
    seed: int = 42


@dataclass
class DeconvolutionResult:
    """Estimates (long), accuracy per arm and scope, per-sample errors, the consequence per method, summary."""

    dataset: str
    estimates: pd.DataFrame
    accuracy: pd.DataFrame
    per_sample: pd.DataFrame
    consequence: pd.DataFrame
    bulk_proportions: pd.DataFrame  # wide: dataset, sample, one column per cell type (primary method, bulk)
    summary: dict = field(default_factory=dict)


def truth_fractions(table: pd.DataFrame | dict | None) -> pd.DataFrame | None:
    """Known proportions as fractions (rows = samples); cell numbers are normalised per row."""
    if table is None:
        return None
    t = pd.DataFrame(table).T if isinstance(table, dict) else table.copy()
    t = t.apply(pd.to_numeric, errors="coerce").fillna(0.0)
    total = t.sum(axis=1)
    return t.div(total.where(total > 0, 1.0), axis=0)


def concordant_genes(de: pd.DataFrame | None, genes: np.ndarray, max_lfc: float) -> np.ndarray | None:
    """Genes of the metrics DE table called ``ns`` with |log2FoldChange| <= ``max_lfc`` (None without a table)."""
    if de is None:
        return None
    need = [c for c in ("gene", "direction", "log2FoldChange") if c not in de.columns]
    if need:
        raise UserError(f"DE table lacks column(s) {need}")
    lfc = pd.to_numeric(de["log2FoldChange"], errors="coerce")
    ok = (de["direction"].astype(str) == "ns") & (lfc.abs() <= max_lfc)
    return np.intersect1d(de.loc[ok, "gene"].astype(str).to_numpy(), genes)


def calibrated_reference(ref: Reference, model) -> Reference:
    """``ref`` with each type's log-CPM passed through a fitted calibration, rescaled to the type's total
    (calibration moves expression between genes; it does not change mRNA per cell)."""
    lc = model.apply(log1p_cpm(ref.profiles))
    lin = np.expm1(np.maximum(lc, 0.0))
    tot = lin.sum(axis=1, keepdims=True)
    lin = lin / np.where(tot > 0, tot, 1.0) * ref.profiles.sum(axis=1, keepdims=True)
    return Reference(ref.cell_types, ref.genes, lin, ref.n_cells, ref.donors)


def _fit_fold_models(ps: ProfileSet, params: DeconvolveParams, folds: np.ndarray) -> dict[int, object]:
    from pbfidelity.calibrate.analysis import _Calibrator
    from pbfidelity.discriminate.depth import depth_match

    dm = depth_match(ps, params.depth_match, params.seed)
    cal = _Calibrator(dm, dm.logcpm(), params.calibration, params.ridge)
    rows = np.arange(len(ps.obs))
    models = {int(k): cal.fit(rows[folds != k]) for k in np.unique(folds)}
    return models, cal.choices


def _pb_composition(table: pd.DataFrame, samples: list[str], types: list[str]) -> pd.DataFrame:
    comp = table.pivot_table(
        index="sample", columns="cell_type", values="n_cells", aggfunc="sum", fill_value=0
    )
    comp = comp.reindex(index=samples, columns=types, fill_value=0).astype(float)
    return truth_fractions(comp)


def deconvolve(
    ps: ProfileSet,
    ct_counts: np.ndarray,
    ct_obs: pd.DataFrame,
    ct_genes: np.ndarray,
    truth: pd.DataFrame | None = None,
    de: pd.DataFrame | None = None,
    params: DeconvolveParams | None = None,
    pb_targets: pd.DataFrame | None = None,
    proportions_estimated: bool = False,
) -> DeconvolutionResult:
    """Deconvolve every matched pair of ``ps`` in the four arms (module docstring) and score them.

    ``ct_counts``/``ct_obs``/``ct_genes``: the per-cell-type profiles (``celltype_profiles.h5ad``);
    ``truth``: known proportions (samples x cell types; fractions or cell numbers) or None; ``de``: the
    metrics stage's ``de_results.tsv`` or None (then no ``bulk_concordant`` arm); ``pb_targets``: the
    proportion-matching targets the pseudo-bulk stage recorded (the pseudo-bulk's truth when proportion-matched);
    ``proportions_estimated``: those targets were themselves deconvolution estimates (``--proportions estimate``).
    """
    params = params or DeconvolveParams()
    bad = [m for m in params.methods if m not in METHODS]
    if bad:
        raise UserError(f"unknown deconvolution method(s) {bad}; choose from {list(METHODS)}")
    table = celltype_table(ct_obs, ps.dataset)
    if table.empty:
        raise StageSkipped(f"dataset '{ps.dataset}' has no per-cell-type profiles (no cell types?)")
    if table["cell_type"].nunique() < 2:
        raise StageSkipped(f"dataset '{ps.dataset}': one cell type only; nothing to deconvolve")
    genes = np.intersect1d(ps.genes, np.asarray(ct_genes).astype(str))
    if genes.size < 20:
        raise StageSkipped(
            f"dataset '{ps.dataset}': profiles and per-cell-type profiles share {genes.size} genes; need >= 20"
        )
    gi = pd.Index(ps.genes).get_indexer(genes)
    ci = pd.Index(np.asarray(ct_genes).astype(str)).get_indexer(genes)
    ct_x = np.asarray(ct_counts, dtype=np.float64)[:, ci]
    pairs = ps.matched_pairs()
    if len(pairs) < 3:
        raise StageSkipped(f"dataset '{ps.dataset}' has {len(pairs)} matched pair(s); need >= 3")

    from pbfidelity.discriminate.folds import donor_folds, rng_for

    folds = donor_folds(ps.donors, params.n_folds, params.seed)
    models, choices = _fit_fold_models(ps, params, folds)
    bulk_mix = cpm(ps.counts[pairs["bulk"].to_numpy()][:, gi])
    pb_mix = cpm(ps.counts[pairs["pb"].to_numpy()][:, gi])
    # calibration models were fitted on all profile genes; align them to the shared genes
    full_index = pd.Index(ps.genes).get_indexer(genes)
    models = {k: _restrict(m, full_index) for k, m in models.items()}
    conc = concordant_genes(de, genes, params.concordant_lfc)
    arms = [a for a in ARMS if a != "bulk_concordant" or conc is not None]
    if conc is not None and conc.size < 20:
        log.warning("dataset %s: %d concordant genes; bulk_concordant arm left out", ps.dataset, conc.size)
        arms.remove("bulk_concordant")

    ref_donors = set(table["donor"])
    lodo = LeaveDonorOut(ct_x, table, genes)  # leave-donor-out references, linear in donors
    full_ref = lodo.reference()
    all_types = sorted(table["cell_type"].unique())
    est = {
        (m, a): pd.DataFrame(0.0, index=pairs["sample"], columns=all_types)
        for m in params.methods
        for a in arms
    }
    n_markers: dict[str, list[int]] = {a: [] for a in arms}
    loo = 0
    cache: dict[str, tuple] = {}
    for i, pair in pairs.iterrows():
        donor = str(pair["donor"])
        fold = int(folds[int(pair["bulk"])])
        key = f"{donor}|{fold}"
        if key not in cache:
            excl = {donor} if donor in ref_donors and len(ref_donors) > 1 else set()
            loo += bool(excl)
            ref = lodo.reference(excl)
            cref = calibrated_reference(ref, models[fold])
            sig = {
                "bulk": (ref, select_markers(ref, params.n_markers, params.min_log_fc)),
                "bulk_calibrated": (cref, select_markers(cref, params.n_markers, params.min_log_fc)),
            }
            sig["pseudobulk"] = sig["bulk"]
            if "bulk_concordant" in arms:
                sig["bulk_concordant"] = (ref, select_markers(ref, params.n_markers, params.min_log_fc, conc))
            cache[key] = sig
        sig = cache[key]
        for arm in arms:
            ref, markers = sig[arm]
            n_markers[arm].append(int(markers.size))
            mi = pd.Index(genes).get_indexer(markers)
            y = (pb_mix if arm == "pseudobulk" else bulk_mix)[i, mi]
            s_mat = ref.profiles[:, mi].T
            for m in params.methods:
                est[(m, arm)].loc[pair["sample"], list(ref.cell_types)] = estimate(s_mat, y, m)

    samples = list(pairs["sample"])
    donors = pairs["donor"].astype(str).to_numpy()
    known = truth_fractions(truth)
    if known is not None:
        missing = [s for s in samples if s not in known.index]
        if missing:
            raise UserError(f"proportions: no row for sample(s) {missing[:5]} of dataset '{ps.dataset}'")
        extra_types = [c for c in known.columns if c not in all_types]
        types = all_types + extra_types
        known = known.reindex(index=samples, columns=types, fill_value=0.0)
        for k in est:
            est[k] = est[k].reindex(columns=types, fill_value=0.0)
    else:
        types, extra_types = all_types, []
    if ps.pb_method == "proportion" and pb_targets is not None:
        pb_truth = truth_fractions(pb_targets).reindex(index=samples, columns=types, fill_value=0.0)
        pb_truth_kind = "proportion-matched targets"
    elif ps.pb_method == "proportion" and known is not None:
        pb_truth, pb_truth_kind = known, "proportion-matched targets"
    else:
        pb_truth = _pb_composition(table, samples, types)
        pb_truth_kind = "cells of its per-cell-type profiles"

    boot = bootstrap_weights(donors, params.n_bootstrap, rng_for(params.seed, BOOTSTRAP_STREAM))
    acc_rows, per_rows, cons_rows, long_rows = [], [], [], []
    for m in params.methods:
        draws = {}
        for arm in arms:
            e = est[(m, arm)]
            t = pb_truth if arm == "pseudobulk" else known
            against = (
                (pb_truth_kind if arm == "pseudobulk" else "known proportions") if t is not None else None
            )
            if t is not None:
                summ, per = accuracy(e, t, donors, boot)
                acc_rows.append(summ.assign(method=m, arm=arm, truth=against))
                per_rows.append(per.assign(method=m, arm=arm, donor=donors))
                draws[arm] = rmse_draws(e, t, boot)
            if arm != "pseudobulk":  # agreement with the pseudo-bulk estimate (no truth needed)
                summ, _ = accuracy(e, est[(m, "pseudobulk")], donors, boot)
                acc_rows.append(
                    summ[summ["scope"] == "overall"].assign(method=m, arm=arm, truth="pseudo-bulk estimate")
                )
            long = e.stack().rename("estimate").reset_index()
            long.columns = ["sample", "cell_type", "estimate"]
            long["truth"] = (
                t.stack().reindex(pd.MultiIndex.from_frame(long[["sample", "cell_type"]])).to_numpy()
                if t is not None
                else np.nan
            )
            long_rows.append(long.assign(method=m, arm=arm))
        cons_rows.append(_consequence(m, draws, arms, acc_rows, known is not None))

    accuracy_table = pd.concat(acc_rows, ignore_index=True)
    accuracy_table = accuracy_table[
        [
            "method",
            "arm",
            "truth",
            *[c for c in accuracy_table.columns if c not in ("method", "arm", "truth")],
        ]
    ]
    per_sample = pd.concat(per_rows, ignore_index=True) if per_rows else pd.DataFrame()
    if not per_sample.empty:
        per_sample = per_sample[["method", "arm", "sample", "donor", "rmse", "max_abs_error", "pearson"]]
    estimates = pd.concat(long_rows, ignore_index=True)[
        ["method", "arm", "sample", "cell_type", "estimate", "truth"]
    ]
    consequence = pd.DataFrame(cons_rows)
    primary = params.methods[0]
    bulk_props = est[(primary, "bulk")].reset_index().rename(columns={"index": "sample"})
    bulk_props.insert(0, "dataset", ps.dataset)
    sentence = consequence.set_index("method").loc[primary, "sentence"]
    summary = {
        "dataset": ps.dataset,
        "pb_method": ps.pb_method,
        "n_pairs": int(len(pairs)),
        "n_donors": int(np.unique(donors).size),
        "cell_types": types,
        "cell_types_absent_from_reference": extra_types,
        "reference": {
            "profiles": "per-cell mean counts of QC-passing cells per cell type (celltype_profiles.h5ad)",
            "leave_donor_out": bool(loo),
            "n_references": int(len(cache)),
            "n_cells": {str(c): int(n) for c, n in zip(full_ref.cell_types, full_ref.n_cells, strict=True)},
        },
        "n_markers_median": {a: float(np.median(v)) for a, v in n_markers.items() if v},
        "methods": list(params.methods),
        "primary_method": primary,
        "arms": arms,
        "truth": "known proportions" if known is not None else None,
        "pseudobulk_truth": pb_truth_kind,
        "proportions_estimated": bool(proportions_estimated),
        "calibration": {
            "method": params.calibration,
            "n_folds": int(np.unique(folds).size),
            "depth_match": params.depth_match,
            "auto_choices": {c: choices.count(c) for c in sorted(set(choices))} if choices else {},
        },
        "concordant_genes": int(conc.size) if conc is not None else None,
        "concordant_rule": f"DE direction 'ns' and |log2FoldChange| <= {params.concordant_lfc:g}"
        if conc is not None
        else None,
        "consequence": consequence.to_dict(orient="records"),
        "sentence": f"{ps.dataset}: {sentence}"
        + (" (pseudo-bulk matched to estimated proportions)" if proportions_estimated else ""),
        "n_bootstrap": params.n_bootstrap,
        "seed": params.seed,
    }
    for df in (accuracy_table, per_sample, estimates, consequence):
        if not df.empty:
            df.insert(0, "dataset", ps.dataset)
    return DeconvolutionResult(
        ps.dataset, estimates, accuracy_table, per_sample, consequence, bulk_props, summary
    )


def _restrict(model, idx: np.ndarray):
    from pbfidelity.calibrate.models import Calibration

    return Calibration(
        model.method,
        model.intercept[idx],
        model.slope[idx],
        model.offset[idx],
        model.raw_offset[idx],
        model.weight[idx],
        model.n_pairs,
    )


def _ci(v: np.ndarray) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    return (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))) if v.size else (float("nan"),) * 2


def _overall(acc_rows: list[pd.DataFrame], method: str, arm: str, truth_kind: str | None = None) -> float:
    for df in acc_rows:
        r = df[(df["method"] == method) & (df["arm"] == arm) & (df["scope"] == "overall")]
        if truth_kind is not None:
            r = r[r["truth"] == truth_kind]
        else:
            r = r[r["truth"] != "pseudo-bulk estimate"]
        if len(r):
            return float(r["rmse"].iloc[0])
    return float("nan")


def _consequence(method: str, draws: dict, arms: list[str], acc_rows, has_truth: bool) -> dict:
    row: dict = {"method": method}
    rb, rp = _overall(acc_rows, method, "bulk"), _overall(acc_rows, method, "pseudobulk")
    row.update({"rmse_bulk": rb, "rmse_pseudobulk": rp})
    dis = _overall(acc_rows, method, "bulk", "pseudo-bulk estimate")
    row["bulk_vs_pseudobulk_estimate_rmse"] = dis
    if not has_truth:
        row["sentence"] = (
            f"no known bulk proportions, so the optimism of a pseudo-bulk benchmark cannot be measured; "
            f"{method.upper()} on pseudo-bulk is off its own composition by RMSE {rp:.3f}, and bulk and "
            f"pseudo-bulk estimates of the same samples differ by RMSE {dis:.3f}"
        )
        return row
    opt = draws["bulk"] - draws["pseudobulk"]
    row["optimism"] = rb - rp
    row["optimism_ci_low"], row["optimism_ci_high"] = _ci(opt)
    for arm, key in (("bulk_calibrated", "calibrated"), ("bulk_concordant", "concordant")):
        if arm not in draws:
            continue
        ra = _overall(acc_rows, method, arm)
        red = draws["bulk"] - draws[arm]
        row[f"rmse_{key}"] = ra
        row[f"reduction_{key}"] = rb - ra
        row[f"reduction_{key}_ci_low"], row[f"reduction_{key}_ci_high"] = _ci(red)
        row[f"recovered_{key}"] = (rb - ra) / (rb - rp) if rb - rp > 0 else float("nan")
    detected = row["optimism_ci_low"] > 0
    ci = f"95% CI {row['optimism_ci_low']:.3f} to {row['optimism_ci_high']:.3f}"
    if detected:
        s = (
            f"{method.upper()}: benchmarking on pseudo-bulk overstates accuracy by {row['optimism']:.3f} RMSE "
            f"(bulk {rb:.3f} vs pseudo-bulk {rp:.3f}; {ci})"
        )
    elif row["optimism_ci_high"] < 0:
        s = (
            f"{method.upper()}: deconvolution of pseudo-bulk is less accurate than of bulk (RMSE bulk {rb:.3f} "
            f"vs pseudo-bulk {rp:.3f}; difference {ci}): no optimism"
        )
    else:
        s = (
            f"{method.upper()}: no detectable optimism of a pseudo-bulk benchmark (RMSE bulk {rb:.3f} vs "
            f"pseudo-bulk {rp:.3f}; difference {ci})"
        )
    if "rmse_calibrated" in row:
        red_ci = f"{row['reduction_calibrated_ci_low']:.3f} to {row['reduction_calibrated_ci_high']:.3f}"
        if detected:
            s += (
                f"; calibration recovers {100 * row['recovered_calibrated']:.0f}% of it (bulk RMSE "
                f"{rb:.3f} -> {row['rmse_calibrated']:.3f}; reduction 95% CI {red_ci})"
            )
        else:
            s += f"; calibrated reference: bulk RMSE {rb:.3f} -> {row['rmse_calibrated']:.3f} (reduction 95% CI {red_ci})"
    if "rmse_concordant" in row:
        s += f"; concordant genes only: {row['rmse_concordant']:.3f}"
    row["optimism_detected"] = bool(detected)
    row["sentence"] = s
    return row
