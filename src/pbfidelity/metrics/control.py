"""The bulk-vs-pseudo-bulk discrepancy against the cell-sampling floor of the half-split negative control.

The pseudo-bulk stage writes ``negative_control.h5ad``: per pair, two pseudo-bulks from disjoint halves of its
single-cell sample (:mod:`pbfidelity.pseudobulk.control`). Here each half A is compared with its half B by the
same matched-pair measures as bulk with pseudo-bulk (Pearson/Spearman r, CCC, RMSE on the same log-CPM scale
and genes), and by the same classifier (:func:`pbfidelity.discriminate.analysis.discriminate`, half A labelled
as the "bulk" class, donor-grouped folds). The floor ratios say how many times larger the bulk-vs-pseudo-bulk
distance is than the distance between two cell samples of the same single-cell data:

* ``distance_ratio`` = mean(1 - r) of the matched bulk/pseudo-bulk pairs / mean(1 - r) of the half pairs;
* ``rmse_ratio`` = mean RMSE of matched pairs / mean RMSE of half pairs;
* ``distance_ratio_depth_matched``: the same after binomial thinning (seeded) of the pair's pseudo-bulk and of
  both halves to a common depth per pair (the smallest of bulk, pseudo-bulk and the two halves), so counting
  noise weighs the same on both sides and a shallow bulk library does not by itself raise the ratio.

Each half holds at most half the pair's cells, so its sampling noise is larger than that of a full-size
pseudo-bulk: the floor is, if anything, too high and the ratios err low (a ratio near 1 means "no more
different than two cell samples"; well above 1, a difference beyond cell sampling).
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import UserError
from pbfidelity.memory import release
from pbfidelity.metrics import correlation as corr
from pbfidelity.metrics.selection import Comparison
from pbfidelity.normalize import cpm, tmm_factors

log = logging.getLogger("pbfidelity.metrics")

CONTROL_COLUMNS = [
    "sample",
    "donor",
    "n_cells_a",
    "n_cells_b",
    "pearson_pair",
    "pearson_control",
    "distance_ratio",
    "rmse_pair",
    "rmse_control",
    "rmse_ratio",
    "spearman_control",
    "ccc_control",
    "distance_pair_depth_matched",
    "distance_control_depth_matched",
]


def thin(counts: np.ndarray, depth: float, rng: np.random.Generator) -> np.ndarray:
    """Binomial thinning of one profile's integer counts to about ``depth`` total counts (never up)."""
    total = counts.sum()
    if total <= depth or total <= 0:
        return counts.copy()
    return rng.binomial(np.rint(counts).astype(np.int64), depth / total).astype(np.float64)


def _pair_distance(x: np.ndarray, y: np.ndarray, factors: np.ndarray | None = None) -> float:
    both = np.log1p(cpm(np.vstack([x, y]), factors))
    return 1.0 - float(corr.pearson_matrix(both)[0, 1])


def _ratio_of_means(num: np.ndarray, den: np.ndarray) -> float:
    d = float(np.mean(den))
    return float(np.mean(num) / d) if d > 0 else float("nan")


def _ratio_ci(num: np.ndarray, den: np.ndarray, rng: np.random.Generator, n_boot: int = 2000) -> list[float]:
    """Percentile bootstrap CI (pairs resampled) of the ratio of means."""
    if num.size < 2:
        return [float("nan"), float("nan")]
    idx = rng.integers(0, num.size, size=(n_boot, num.size))
    den_m = den[idx].mean(axis=1)
    ratios = np.where(den_m > 0, num[idx].mean(axis=1) / np.where(den_m > 0, den_m, 1), np.nan)
    return [float(np.nanquantile(ratios, 0.025)), float(np.nanquantile(ratios, 0.975))]


def control_halves(control: ad.AnnData, comp: Comparison, source: str = "negative control") -> tuple:
    """Counts of half A and half B (rows aligned by sample, genes = the comparison's) and their obs."""
    obs = control.obs
    for col in ("dataset", "sample", "half"):
        if col not in obs.columns:
            raise UserError(f"{source}: obs lacks column '{col}' (not a negative_control.h5ad?)")
    in_ds = obs["dataset"].astype(str) == comp.dataset
    missing = comp.genes.difference(control.var_names)
    if in_ds.any() and len(missing):
        raise UserError(
            f"{source}: lacks {len(missing)} gene(s) of the profiles, e.g. '{missing[0]}' "
            "(not written by the same pseudobulk run?)"
        )
    o = obs[in_ds]
    a = o[o["half"].astype(str) == "A"].drop_duplicates("sample")
    b = o[o["half"].astype(str) == "B"].drop_duplicates("sample")
    samples = sorted(set(a["sample"].astype(str)) & set(b["sample"].astype(str)))
    ia = [control.obs_names.get_loc(a.index[a["sample"].astype(str) == s][0]) for s in samples]
    ib = [control.obs_names.get_loc(b.index[b["sample"].astype(str) == s][0]) for s in samples]
    gi = control.var_names.get_indexer(comp.genes)

    def take(rows):
        x = control.X[rows][:, gi]
        return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)

    return samples, take(ia), take(ib), o.loc[a.index[a["sample"].astype(str).isin(samples)]]


def compare_with_control(
    control: ad.AnnData,
    comp: Comparison,
    matched: pd.DataFrame,
    normalisation: str = "logcpm",
    seed: int = 42,
    classifier: bool = True,
    source: str = "negative control",
) -> tuple[pd.DataFrame, dict]:
    """Per-pair floor table and summary (see module docstring); ``matched`` is metrics' matched-pair table."""
    samples, xa, xb, obs_a = control_halves(control, comp, source)
    summary: dict = {"n_pairs": len(samples), "design": control.uns.get("pbfidelity", {}).get("design", "")}
    if len(samples) < 2:
        summary["note"] = f"{len(samples)} pair(s) with both halves; no floor computed"
        return pd.DataFrame(columns=CONTROL_COLUMNS), summary
    both = np.vstack([xa, xb])
    xa, xb = both[: len(samples)], both[len(samples) :]  # views: one copy of the halves' counts
    factors = tmm_factors(both) if normalisation == "tmm_logcpm" else None
    logx = np.log1p(cpm(both, factors))
    la, lb = logx[: len(samples)], logx[len(samples) :]
    pe = corr.pearson_matrix(logx)
    sr = corr.spearman_matrix(logx)
    n = len(samples)
    m = matched.set_index("sample")
    cells = obs_a.set_index(obs_a["sample"].astype(str))["n_cells"] if "n_cells" in obs_a.columns else None
    n_b = control.obs[control.obs["half"].astype(str) == "B"].set_index("sample")
    del control  # its counts are in xa/xb now (freed at the release() below)
    rows = []
    for i, s in enumerate(samples):
        r_c, rmse_c = float(pe[i, n + i]), corr.rmse(la[i], lb[i])
        r_p = float(m.loc[s, "pearson"]) if s in m.index else float("nan")
        rmse_p = float(m.loc[s, "rmse"]) if s in m.index else float("nan")
        rows.append(
            {
                "sample": s,
                "donor": str(m.loc[s, "donor"]) if s in m.index else "",
                "n_cells_a": int(cells.loc[s]) if cells is not None else None,
                "n_cells_b": int(n_b.loc[s, "n_cells"]) if "n_cells" in n_b.columns else None,
                "pearson_pair": r_p,
                "pearson_control": r_c,
                "distance_ratio": (1 - r_p) / (1 - r_c) if r_c < 1 else float("nan"),
                "rmse_pair": rmse_p,
                "rmse_control": rmse_c,
                "rmse_ratio": rmse_p / rmse_c if rmse_c > 0 else float("nan"),
                "spearman_control": float(sr[i, n + i]),
                "ccc_control": corr.ccc(la[i], lb[i]),
            }
        )
    table = pd.DataFrame(rows, columns=CONTROL_COLUMNS)
    # depth-matched distances: thin pseudo-bulk and both halves to one depth per pair
    pairs = comp.pairs.set_index("sample")
    trng = np.random.default_rng([seed, 0x7468696E])
    dm_pair, dm_ctrl = [], []
    for i, s in enumerate(samples):
        if s not in pairs.index:
            dm_pair.append(np.nan)
            dm_ctrl.append(np.nan)
            continue
        xb_, xp_ = comp.counts[pairs.loc[s, "bulk"]], comp.counts[pairs.loc[s, "pseudobulk"]]
        depth = min(xb_.sum(), xp_.sum(), xa[i].sum(), xb[i].sum())
        dm_pair.append(_pair_distance(thin(xb_, depth, trng), thin(xp_, depth, trng)))
        dm_ctrl.append(_pair_distance(thin(xa[i], depth, trng), thin(xb[i], depth, trng)))
    del logx, la, lb, pe, sr  # not needed by the classifier below
    table["distance_pair_depth_matched"] = dm_pair
    table["distance_control_depth_matched"] = dm_ctrl
    ok = table.dropna(subset=["pearson_pair", "rmse_pair"])
    rng = np.random.default_rng([seed, 0x666C6F72])
    d_pair, d_ctrl = 1 - ok["pearson_pair"].to_numpy(), 1 - ok["pearson_control"].to_numpy()
    e_pair, e_ctrl = ok["rmse_pair"].to_numpy(), ok["rmse_control"].to_numpy()
    dm = table.dropna(subset=["distance_pair_depth_matched", "distance_control_depth_matched"])
    dm_p, dm_c = dm["distance_pair_depth_matched"].to_numpy(), dm["distance_control_depth_matched"].to_numpy()
    summary.update(
        {
            "n_pairs_compared": int(len(ok)),
            "control_r": float(table["pearson_control"].mean()),
            "control_rmse": float(table["rmse_control"].mean()),
            "matched_pair_r": float(ok["pearson_pair"].mean()) if len(ok) else None,
            "matched_pair_rmse": float(ok["rmse_pair"].mean()) if len(ok) else None,
            "distance_ratio": _ratio_of_means(d_pair, d_ctrl),
            "distance_ratio_ci95": _ratio_ci(d_pair, d_ctrl, rng),
            "rmse_ratio": _ratio_of_means(e_pair, e_ctrl),
            "rmse_ratio_ci95": _ratio_ci(e_pair, e_ctrl, rng),
            "pairs_above_floor": int((d_pair > d_ctrl).sum()),
            "distance_ratio_depth_matched": _ratio_of_means(dm_p, dm_c),
            "distance_ratio_depth_matched_ci95": _ratio_ci(dm_p, dm_c, rng),
            "median_cells_per_half": float(np.median(table[["n_cells_a", "n_cells_b"]].to_numpy(dtype=float)))
            if table["n_cells_a"].notna().all()
            else None,
        }
    )
    if classifier:
        release()  # the classifier allocates much: start it from a compact heap
        del xa, xb
        summary.update(control_classifier(both, samples, obs_a, comp.dataset, seed, comp.genes))
    summary["statement"] = floor_statement(summary)
    return table, summary


def control_classifier(
    halves: np.ndarray,
    samples: list[str],
    obs_a: pd.DataFrame,
    dataset: str,
    seed: int,
    genes: pd.Index,
) -> dict:
    """Half A vs half B with the discriminate stage's classifier and validation (no permutations, no
    baselines, no learning curve: the held-out AUROC and its interval are what the floor needs).
    ``halves``: counts of half A of every sample (in ``samples`` order), then of half B."""
    from pbfidelity.discriminate.analysis import DiscriminateParams, discriminate
    from pbfidelity.discriminate.profiles import ProfileSet
    from pbfidelity.errors import StageSkipped

    donor = obs_a.set_index(obs_a["sample"].astype(str))["donor"].astype(str).reindex(samples).to_numpy()
    obs = pd.DataFrame(
        {
            "dataset": dataset,
            "sample": np.r_[samples, samples],
            "donor": np.r_[donor, donor],
            "modality": ["bulk"] * len(samples) + ["pseudobulk"] * len(samples),
            "pb_method": ["bulk"] * len(samples) + ["halfsplit"] * len(samples),
            "replicate": 0,
        },
        index=[f"{s}:A" for s in samples] + [f"{s}:B" for s in samples],
    )
    obs["n_cells"] = 0
    ps = ProfileSet(dataset, halves, np.asarray(genes, dtype=str), obs, "halfsplit")
    if np.unique(donor).size < 3:
        return {"classifier_note": "fewer than 3 donors: no held-out AUROC for the control"}
    params = DiscriminateParams(n_permutations=0, learning_curve=(), baselines=False, seed=seed)
    try:
        s = discriminate(ps, params).summary
    except StageSkipped as exc:  # pragma: no cover - guarded above
        return {"classifier_note": str(exc)}
    out = {"auroc": s.get("auroc"), "auroc_ci_low": s.get("ci_low"), "auroc_ci_high": s.get("ci_high")}
    for k in (
        "auroc_lower_bound",
        "auroc_interval_method",
    ):  # boundary-valid interval, when discriminate has one
        if k in s:
            out[k] = s[k]
    out["classifier"] = (
        "discriminate stage XGBoost (default parameters), half A vs half B, donor-grouped folds"
    )
    return out


def floor_statement(s: dict) -> str:
    """One sentence for the report."""
    if s.get("distance_ratio") is None or not np.isfinite(s.get("distance_ratio", np.nan)):
        return "negative control: too few pairs with both halves to estimate the cell-sampling floor"
    lo, hi = s["distance_ratio_ci95"]
    text = (
        f"the bulk-vs-pseudo-bulk matched-pair distance (1 - r) is {s['distance_ratio']:.1f}x that between two "
        f"disjoint cell halves of the same single-cell data (95% CI {lo:.1f}-{hi:.1f}; "
        f"{s['pairs_above_floor']} of {s['n_pairs_compared']} pairs above their own floor)"
    )
    if s.get("distance_ratio_depth_matched") is not None and np.isfinite(s["distance_ratio_depth_matched"]):
        text += f", {s['distance_ratio_depth_matched']:.1f}x at a common depth"
    if s.get("auroc") is not None:
        text += f"; a classifier separates half A from half B with held-out AUROC {s['auroc']:.2f}" + (
            " - cell sampling alone makes these profiles distinguishable"
            if s.get("auroc_ci_low", 0) > 0.5
            else ""
        )
    return text
