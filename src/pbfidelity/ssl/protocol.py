"""The ssl evaluation protocol: donor-grouped folds -> pre-training -> label-fraction curves (+ modality).

For each outer fold (stratified, grouped by donor/patient):
1. the pre-training split is every profile of the training donors (all modalities and pseudo-replicates)
   plus any extra unlabeled profile; input preparation is fit on it alone;
2. its donors are split again: a validation part for early stopping of each SSL method;
3. for each label fraction and repeat, a donor-grouped stratified subset of the training donors' labelled
   profiles trains the probes, fine-tuned encoders and baselines, which are scored on held-out donors;
4. with both modalities present, an encoder pre-trained on training donors' bulk embeds bulk and
   pseudo-bulk for the modality analysis (:mod:`pbfidelity.ssl.modality`).

The reference every SSL model is compared with is, in each run (fold x fraction x repeat), the baseline that
scores best on validation donors: the fold's training donors left out of that run's labelled subset. At full
labels none are left, and the fold's inner donor-grouped cross-validation on training donors chooses
(:func:`select_baseline`). Test donors never take part in the choice. The chosen baseline's test scores become
the ``selected_baseline`` rows; :func:`power_table` gives each model's paired difference to it
per label fraction with the fold-level SD and calls differences within two SDs "underpowered".
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pbfidelity.errors import StageSkipped
from pbfidelity.ssl.config import SSLConfig
from pbfidelity.ssl.data import SSLData
from pbfidelity.ssl.downstream import (
    METRICS,
    finetune_predict,
    logreg_predict,
    mlp_predict,
    scores,
    xgboost_predict,
)
from pbfidelity.ssl.modality import pair_top1, separability_auc, transfer_scores
from pbfidelity.ssl.prepare import fit_prep
from pbfidelity.ssl.splits import label_subset, max_folds, outer_folds, validation_groups
from pbfidelity.ssl.torchutil import sub_seed

log = logging.getLogger("pbfidelity.ssl")


@dataclass
class SSLResult:
    """Tables and objects of one protocol run (see :func:`run_protocol`)."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    first_match: pd.DataFrame
    losses: pd.DataFrame
    modality: pd.DataFrame
    checkpoints: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    power: pd.DataFrame = field(default_factory=pd.DataFrame)


def _history(res, analysis: str, fold: int) -> pd.DataFrame:
    h = res.history.copy()
    h.insert(0, "method", res.method)
    h.insert(0, "fold", fold)
    h.insert(0, "analysis", analysis)
    h["best"] = h["epoch"] == res.best_epoch
    return h


def _model_predictions(
    models, emb_tr, emb_te, x_tr, y_tr, x_te, n_classes, cfg: SSLConfig, seed: int, device: str
):
    """Yield (model name, family, predictions) for every SSL model and baseline on one labelled subset."""
    for m, res in models.items():
        yield f"{m}_probe", "ssl_probe", logreg_predict(emb_tr[m], y_tr, emb_te[m], scale=True)
        yield (
            f"{m}_finetune",
            "ssl_finetune",
            finetune_predict(
                res.encoder, x_tr, y_tr, x_te, n_classes, cfg.downstream, sub_seed(seed, m, "ft"), device
            ),
        )
    for b in cfg.baselines:
        if b == "mlp":
            pred = mlp_predict(
                x_tr, y_tr, x_te, n_classes, cfg.encoder, cfg.downstream, sub_seed(seed, "mlp"), device
            )
        elif b == "xgboost":
            pred = xgboost_predict(x_tr, y_tr, x_te, n_classes, cfg.downstream, sub_seed(seed, "xgb"))
        elif b == "logreg":
            pred = logreg_predict(x_tr, y_tr, x_te, scale=False)
        else:
            raise ValueError(f"unknown baseline {b!r}")
        yield b, "baseline", pred


def summarise_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over folds x repeats per (model, fraction)."""
    agg = {"n_labelled": ("n_labelled", "mean"), "n_runs": ("fold", "size")}
    for m in METRICS:
        agg[f"{m}_mean"] = (m, "mean")
        agg[f"{m}_sd"] = (m, lambda s: float(np.std(s, ddof=1)) if len(s) > 1 else 0.0)
    out = runs.groupby(["model", "family", "fraction"], sort=False).agg(**agg).reset_index()
    return out.sort_values(["family", "model", "fraction"], kind="stable").reset_index(drop=True)


def first_matching_fraction(curves: pd.DataFrame, metric: str, tolerance: float = 0.0) -> pd.DataFrame:
    """For every model, the smallest label fraction whose mean ``metric`` reaches the reference at full labels.

    The reference is the validation-chosen baseline (``selected_baseline`` rows) when present, else (older
    tables) the best baseline by mean. ``target`` = the reference's mean at the largest fraction; ``first_fraction`` is NaN when a model never
    reaches ``target - tolerance``; ``fewer_labels_pct`` compares with the best baseline's own first fraction.
    """
    col = f"{metric}_mean"
    full = curves["fraction"].max()
    ref = curves[(curves["model"] == "selected_baseline") & (curves["fraction"] == full)]
    base = ref if len(ref) else curves[(curves["family"] == "baseline") & (curves["fraction"] == full)]
    if base.empty:
        return pd.DataFrame()
    best_row = base.loc[base[col].idxmax()]
    target = float(best_row[col])
    rows = []
    for (model, family), g in curves.groupby(["model", "family"], sort=False):
        g = g.sort_values("fraction")
        hit = g[g[col] >= target - tolerance - 1e-12]
        rows.append(
            {
                "model": model,
                "family": family,
                "metric": metric,
                "target": target,
                "best_baseline": best_row["model"],
                "first_fraction": float(hit["fraction"].iloc[0]) if len(hit) else np.nan,
                "value_at_full": float(g[col].iloc[-1]),
                "value_at_smallest": float(g[col].iloc[0]),
            }
        )
    out = pd.DataFrame(rows)
    ref = out.loc[out["model"] == best_row["model"], "first_fraction"].iloc[0]
    out["fewer_labels_pct"] = 100.0 * (1.0 - out["first_fraction"] / ref)
    return out


def select_baseline(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    n_classes: int,
    cfg: SSLConfig,
    seed: int,
    device: str,
) -> tuple[str, dict[str, float]]:
    """The baseline with the best mean ``cfg.downstream.metric`` in an inner donor-grouped CV of one outer
    fold's training donors at full labels. Returns ``(name, {baseline: inner mean score})``; ties go to the
    first baseline in ``cfg.baselines``. Test donors are never seen here."""
    metric = cfg.downstream.metric
    n_inner = min(3, max_folds(groups, y))
    if n_inner < 2 or len(cfg.baselines) == 1:
        return cfg.baselines[0], {b: float("nan") for b in cfg.baselines}
    inner = outer_folds(groups, y, n_inner, sub_seed(seed, "inner"))
    means: dict[str, float] = {}
    for b in cfg.baselines:
        vals = []
        for i, (tr, va) in enumerate(inner):
            rs = sub_seed(seed, "inner", b, i)
            if b == "mlp":
                pred = mlp_predict(x[tr], y[tr], x[va], n_classes, cfg.encoder, cfg.downstream, rs, device)
            elif b == "xgboost":
                pred = xgboost_predict(x[tr], y[tr], x[va], n_classes, cfg.downstream, rs)
            elif b == "logreg":
                pred = logreg_predict(x[tr], y[tr], x[va], scale=False)
            else:
                raise ValueError(f"unknown baseline {b!r}")
            vals.append(scores(y[va], pred, n_classes)[metric])
        means[b] = float(np.mean(vals))
    best = max(cfg.baselines, key=lambda b: (means[b], -cfg.baselines.index(b)))
    return best, means


def power_table(runs: pd.DataFrame, metric: str, n_sd: float = 2.0) -> pd.DataFrame:
    """Each model's paired difference to the validation-chosen baseline, per label fraction.

    Differences are taken within each (fold, repeat, fraction) run (same labelled subset, same test donors),
    averaged per fold; ``diff_mean`` is the mean over runs and ``diff_sd_fold`` the SD of the per-fold means.
    ``call``: ``better``/``worse`` when the mean difference exceeds ``n_sd`` fold SDs, else ``underpowered``
    (the folds cannot tell the two apart).
    """
    keys = ["fold", "repeat", "fraction"]
    ref = runs[runs["model"] == "selected_baseline"].set_index(keys)[metric]
    rows = []
    for (model, family), g in runs[runs["model"] != "selected_baseline"].groupby(
        ["model", "family"], sort=False
    ):
        g = g.set_index(keys)
        d = (g[metric] - ref.reindex(g.index)).dropna().rename("diff").reset_index()
        for frac, gf in d.groupby("fraction"):
            per_fold = gf.groupby("fold")["diff"].mean()
            mean = float(gf["diff"].mean())
            sd = float(per_fold.std(ddof=1)) if len(per_fold) > 1 else float("nan")
            if not np.isfinite(sd):
                call = "underpowered"
            elif mean > n_sd * sd and mean > 0:
                call = "better"
            elif mean < -n_sd * sd and mean < 0:
                call = "worse"
            else:
                call = "underpowered"
            rows.append(
                {
                    "model": model,
                    "family": family,
                    "fraction": float(frac),
                    "metric": metric,
                    "diff_mean": mean,
                    "diff_sd_fold": sd,
                    "n_folds": int(len(per_fold)),
                    "n_runs": int(len(gf)),
                    "call": call,
                }
            )
    return pd.DataFrame(rows)


def power_statement(power: pd.DataFrame, low_fraction: float = 0.2) -> str:
    """One sentence: does any SSL model beat the validation-chosen baseline, and where is the test underpowered."""
    if power.empty:
        return "no comparison with a baseline was possible"
    ssl = power[power["family"].str.startswith("ssl")]
    better = ssl[ssl["call"] == "better"]
    low = better[better["fraction"] <= low_fraction]
    n_under = int((ssl["call"] == "underpowered").sum())
    if len(low):
        best = low.sort_values("diff_mean", ascending=False).iloc[0]
        head = (
            f"{best['model']} beats the validation-chosen baseline at {best['fraction']:.0%} labels by "
            f"{best['diff_mean']:+.3f} (fold SD {best['diff_sd_fold']:.3f}); "
            f"{len(low)} SSL comparison(s) at <= {low_fraction:.0%} labels are better by > 2 fold SDs"
        )
    elif len(better):
        head = (
            f"SSL beats the validation-chosen baseline by > 2 fold SDs only above {low_fraction:.0%} labels"
        )
    else:
        head = "no SSL model beats the validation-chosen baseline by more than two fold SDs at any label fraction"
    return (
        f"{head}; {n_under} of {len(ssl)} SSL comparisons are underpowered (difference within two fold SDs)"
    )


@dataclass
class _Fold:
    """One outer fold's splits and training-donor-only preparations (computed in the parent, cheap)."""

    k: int
    tr: np.ndarray
    te: np.ndarray
    seed: int  # pre-training seed of the curves analysis
    prep: object
    x_pre: np.ndarray
    groups_pre: np.ndarray
    x_tr: np.ndarray
    x_te: np.ndarray
    mod: dict | None = None  # the modality analysis' rows and preparation (None without both modalities)


@dataclass
class _Context:
    """What every task reads; forked workers inherit it (never pickled per task)."""

    data: SSLData
    cfg: SSLConfig
    seed: int
    device: str
    groups: np.ndarray
    y: np.ndarray
    classes: list
    folds: list[_Fold]
    models: dict = field(default_factory=dict)  # (analysis, k) -> {method: PretrainResult}
    emb: dict = field(default_factory=dict)  # k -> (train embeddings, test embeddings) per method


_FORKED: dict[str, _Context] = {}


def _call(task: tuple) -> object:
    fn, args = task
    return fn(_FORKED["ctx"], *args)


def _map(ctx: _Context, tasks: list[tuple], threads: int) -> list:
    """``[fn(ctx, *args) for fn, args in tasks]``, ``threads`` at a time in forked worker processes (CPU).

    Processes, not threads: torch's global generator (dropout) belongs to the process. Every task seeds all
    its draws from its own arguments (torch's global generator is re-seeded at the start of each pre-training
    and classifier fit), so results do not depend on ``threads`` or on the order tasks run in.
    """
    if threads <= 1 or len(tasks) <= 1 or ctx.device != "cpu" or "fork" not in mp.get_all_start_methods():
        return [fn(ctx, *args) for fn, args in tasks]
    from concurrent.futures import ProcessPoolExecutor

    _FORKED["ctx"] = ctx
    try:
        with ProcessPoolExecutor(max_workers=min(threads, len(tasks)), mp_context=mp.get_context("fork")) as ex:
            return list(ex.map(_call, tasks))
    finally:
        _FORKED.clear()


def _plan_fold(ctx: _Context, k: int, tr: np.ndarray, te: np.ndarray, do_modality: bool) -> _Fold:
    data, cfg = ctx.data, ctx.cfg
    lab = data.labelled
    all_groups = data.obs["group"].to_numpy()
    test_groups = set(ctx.groups[te])
    pre_rows = np.flatnonzero(~np.isin(all_groups, list(test_groups)))
    prep = fit_prep(data.values[pre_rows], cfg.n_genes, data.genes)
    fold = _Fold(
        k,
        tr,
        te,
        sub_seed(ctx.seed, "fold", k),
        prep,
        prep.transform(data.values[pre_rows]),
        all_groups[pre_rows],
        prep.transform(data.values[lab[tr]]),
        prep.transform(data.values[lab[te]]),
    )
    if do_modality:  # modality separability and transfer: encoders pre-trained on training donors' bulk
        o = data.obs
        in_train = o["group"].isin(set(all_groups) - test_groups).to_numpy() & ~o["extra"].to_numpy()
        primary = o["primary"].to_numpy() & ~o["extra"].to_numpy()
        is_bulk = (o["modality"] == "bulk").to_numpy()
        bulk_pre = np.flatnonzero(in_train & is_bulk)
        mprep = fit_prep(data.values[bulk_pre], cfg.n_genes)
        fold.mod = {
            "seed": sub_seed(ctx.seed, "modality", k),
            "x_pre": mprep.transform(data.values[bulk_pre]),
            "groups_pre": all_groups[bulk_pre],
            "prep": mprep,
            "rows_tr": np.flatnonzero(primary & in_train),
            "rows_te": np.flatnonzero(primary & ~in_train),
            "is_bulk": is_bulk,
        }
    return fold


def _pretrain_task(ctx: _Context, analysis: str, k: int, method: str):
    """Pre-train one method for one fold (``curves``: all training donors' profiles; ``modality``: their bulk)."""
    from pbfidelity.ssl.pretrain import pretrain

    f = ctx.folds[k]
    if analysis == "curves":
        x_pre, groups_pre, seed = f.x_pre, f.groups_pre, f.seed
    else:
        x_pre, groups_pre, seed = f.mod["x_pre"], f.mod["groups_pre"], f.mod["seed"]
    cfg = ctx.cfg
    val = validation_groups(groups_pre, cfg.pretrain.val_fraction, np.random.default_rng(sub_seed(seed, "val")))
    if (~val).sum() < 4:  # too few profiles to hold any out
        val[:] = False
    res = pretrain(method, x_pre[~val], x_pre[val] if val.any() else None, cfg.encoder, cfg.pretrain, seed, ctx.device)
    log.info("pre-trained %s: best epoch %d of %d (%.1f s)", method, res.best_epoch, len(res.history), res.seconds)
    return res


def _select_task(ctx: _Context, k: int):
    f = ctx.folds[k]
    return select_baseline(
        f.x_tr, ctx.y[f.tr], ctx.groups[f.tr], len(ctx.classes), ctx.cfg, sub_seed(ctx.seed, "select", k), ctx.device
    )


def _fraction_task(ctx: _Context, k: int, frac: float) -> list[dict]:
    """Every repeat of one label fraction in fold ``k``: per repeat, each model's test scores and the
    baselines' scores on the validation donors (training donors left out of the labelled subset)."""
    f, cfg, groups, y = ctx.folds[k], ctx.cfg, ctx.groups, ctx.y
    tr, te = f.tr, f.te
    models = ctx.models[("curves", k)]
    emb_tr, emb_te = ctx.emb[k]
    n_classes = len(ctx.classes)
    out = []
    for rep in range(cfg.downstream.repeats):
        rs = sub_seed(ctx.seed, "subset", k, int(round(frac * 1e4)), rep)
        sub = label_subset(groups[tr], y[tr], frac, np.random.default_rng(rs))
        # validation donors: training donors left out of this labelled subset (never test donors)
        val = np.setdiff1d(np.arange(len(tr)), sub)
        n_te = len(te)
        preds = _model_predictions(
            models,
            {m: e[sub] for m, e in emb_tr.items()},
            {m: np.vstack([emb_te[m], emb_tr[m][val]]) for m in models},
            f.x_tr[sub],
            y[tr][sub],
            np.vstack([f.x_te, f.x_tr[val]]),
            n_classes,
            cfg,
            rs,
            ctx.device,
        )
        rows, val_scores = {}, {}
        for name, family, pred in preds:
            rows[name] = {
                "fold": k,
                "repeat": rep,
                "fraction": frac,
                "model": name,
                "family": family,
                "n_labelled": len(sub),
                "n_label_groups": len(set(groups[tr][sub])),
                "n_test": n_te,
                **scores(y[te], pred[:n_te], n_classes),
            }
            if family == "baseline" and len(val):
                val_scores[name] = scores(y[tr][val], pred[n_te:], n_classes)[cfg.downstream.metric]
        has_val = bool(len(val) and len(set(y[tr][val])) > 1)
        out.append({"rep": rep, "rows": rows, "val_scores": val_scores, "has_val": has_val})
    return out


def _modality_task(ctx: _Context, k: int) -> list[dict]:
    """Modality separability and pseudo-bulk -> bulk transfer for fold ``k`` (its encoders pre-trained)."""
    from pbfidelity.ssl.pretrain import embed

    data, m, device = ctx.data, ctx.folds[k].mod, ctx.device
    o = data.obs
    rows_tr, rows_te, is_bulk, prep = m["rows_tr"], m["rows_te"], m["is_bulk"], m["prep"]
    x_tr, x_te = prep.transform(data.values[rows_tr]), prep.transform(data.values[rows_te])
    pb_tr, pb_te = ~is_bulk[rows_tr], ~is_bulk[rows_te]
    label = o["label"].to_numpy()
    code = {c: i for i, c in enumerate(ctx.classes)}
    y = np.array([code.get(v, -1) if isinstance(v, str) else -1 for v in label])
    spaces = {"input": (x_tr, x_te)}
    for meth, res in ctx.models[("modality", k)].items():
        spaces[meth] = (embed(res.encoder, x_tr, device), embed(res.encoder, x_te, device))
    samples = o["sample"].to_numpy()
    out = []
    for space, (z_tr, z_te) in spaces.items():
        ytr, yte = y[rows_tr], y[rows_te]
        lab_pb = pb_tr & (ytr >= 0)
        lab_bulk = ~pb_tr & (ytr >= 0)
        te_bulk = ~pb_te & (yte >= 0)
        tr = transfer_scores(
            z_tr[lab_pb],
            ytr[lab_pb],
            z_tr[lab_bulk],
            ytr[lab_bulk],
            z_te[te_bulk],
            yte[te_bulk],
            len(ctx.classes),
        )
        out.append(
            {
                "fold": k,
                "space": space,
                "modality_auc": separability_auc(z_tr, pb_tr, z_te, pb_te),
                "pair_top1": pair_top1(
                    z_te[~pb_te], samples[rows_te][~pb_te], z_te[pb_te], samples[rows_te][pb_te]
                ),
                **{f"pb_to_bulk_{k2}": v for k2, v in tr["pb_to_bulk"].items()},
                **{f"bulk_to_bulk_{k2}": v for k2, v in tr["bulk_to_bulk"].items()},
            }
        )
    return out


def _run_folds(ctx: _Context, do_modality: bool, checkpoints: bool, threads: int, t_start: float) -> dict:
    """Two rounds of independent tasks over the outer folds: (1) pre-training, one task per fold, analysis and
    method; (2) baseline selection, one task per fold and label fraction, the modality analysis. The parent
    embeds between the rounds and assembles everything in fold order, as one sequential pass would."""
    from pbfidelity.ssl.pretrain import embed

    cfg, name = ctx.cfg, ctx.data.name
    analyses = ["curves", "modality"] if do_modality else ["curves"]
    keys = [(a, f.k, m) for f in ctx.folds for a in analyses for m in cfg.methods]
    for (a, k, m), res in zip(keys, _map(ctx, [(_pretrain_task, key) for key in keys], threads), strict=True):
        ctx.models.setdefault((a, k), {})[m] = res
    for f in ctx.folds:
        models = ctx.models[("curves", f.k)]
        ctx.emb[f.k] = (
            {m: embed(r.encoder, f.x_tr, ctx.device) for m, r in models.items()},
            {m: embed(r.encoder, f.x_te, ctx.device) for m, r in models.items()},
        )
    tasks = [(_select_task, (f.k,)) for f in ctx.folds]
    tasks += [(_fraction_task, (f.k, frac)) for f in ctx.folds for frac in cfg.downstream.fractions]
    if do_modality:
        tasks += [(_modality_task, (f.k,)) for f in ctx.folds]
    results = iter(_map(ctx, tasks, threads))
    chosen = {f.k: next(results) for f in ctx.folds}
    per_fraction = {(f.k, frac): next(results) for f in ctx.folds for frac in cfg.downstream.fractions}
    modality = {f.k: next(results) for f in ctx.folds} if do_modality else {}

    out = {k: [] for k in ("runs", "hists", "checks", "mod_rows", "selections", "inner_choices")}
    n_folds = len(ctx.folds)
    for f in ctx.folds:
        k = f.k
        models = ctx.models[("curves", k)]
        out["hists"] += [_history(res, "curves", k) for res in models.values()]
        if checkpoints:
            out["checks"] += [
                {"method": m, "fold": k, "encoder": res.encoder, "prep": f.prep, "best_epoch": res.best_epoch}
                for m, res in models.items()
            ]
        best, inner_means = chosen[k]
        out["inner_choices"].append(
            {"fold": k, "selected_baseline": best, **{f"inner_{b}": v for b, v in inner_means.items()}}
        )
        log.info("%s: fold %d full-label reference %s (inner CV on training donors)", name, k + 1, best)
        for frac in cfg.downstream.fractions:
            for run in per_fraction[(k, frac)]:
                rows, val_scores = run["rows"], run["val_scores"]
                # the reference baseline of this run: best on the validation donors; at full labels (no
                # validation donors left) the fold's inner-CV choice
                if run["has_val"]:
                    ref = max(cfg.baselines, key=lambda b: (val_scores[b], -cfg.baselines.index(b)))
                    how = "validation donors"
                else:
                    ref, how = best, "inner CV"
                out["selections"].append(
                    {
                        "fold": k,
                        "fraction": frac,
                        "repeat": run["rep"],
                        "selected_baseline": ref,
                        "chosen_by": how,
                        **{f"val_{b}": v for b, v in val_scores.items()},
                    }
                )
                out["runs"] += list(rows.values())
                out["runs"].append({**rows[ref], "model": "selected_baseline", "family": "reference"})
        log.info("%s: fold %d/%d done (%.0f s so far)", name, k + 1, n_folds, time.perf_counter() - t_start)
        if do_modality:
            out["mod_rows"] += modality[k]
            out["hists"] += [_history(res, "modality", k) for res in ctx.models[("modality", k)].values()]
    return out


def run_protocol(
    data: SSLData,
    cfg: SSLConfig,
    seed: int = 42,
    device: str = "cpu",
    checkpoints: bool = True,
    threads: int = 1,
) -> SSLResult:
    """Run the whole protocol on ``data``; raise :class:`StageSkipped` when it cannot be evaluated.

    ``threads`` > 1 runs the outer folds in that many processes; the result is the same.
    """
    t_start = time.perf_counter()
    lab = data.labelled
    labels = data.obs["label"].to_numpy()[lab].astype(str)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise StageSkipped(
            f"{data.name}: label '{data.task}' has {len(classes)} class(es) among labelled profiles; need 2"
        )
    code = {c: i for i, c in enumerate(classes)}
    y = np.array([code[v] for v in labels])
    groups = data.obs["group"].to_numpy()[lab]
    possible = max_folds(groups, y)
    if possible < 2:
        raise StageSkipped(
            f"{data.name}: a class of '{data.task}' has fewer than 2 donors; cannot split by donor"
        )
    n_folds = min(cfg.downstream.folds, possible)
    if n_folds < cfg.downstream.folds:
        log.warning(
            "%s: %d folds instead of %d (a class has only %d donors)",
            data.name,
            n_folds,
            cfg.downstream.folds,
            possible,
        )
    folds = outer_folds(groups, y, n_folds, seed)
    modalities = set(data.obs.loc[data.obs["primary"] & ~data.obs["extra"], "modality"])
    do_modality = {"bulk", "pseudobulk"} <= modalities
    ctx = _Context(data, cfg, seed, device, groups, y, classes, [])
    ctx.folds = [_plan_fold(ctx, k, tr, te, do_modality) for k, (tr, te) in enumerate(folds)]
    out = _run_folds(ctx, do_modality, checkpoints, threads, t_start)
    runs, hists, checks = out["runs"], out["hists"], out["checks"]
    mod_rows, selections, inner_choices = out["mod_rows"], out["selections"], out["inner_choices"]
    runs_df = pd.DataFrame(runs)
    curves = summarise_curves(runs_df)
    first = first_matching_fraction(curves, cfg.downstream.metric, cfg.downstream.match_tolerance)
    power = power_table(runs_df, cfg.downstream.metric)
    modality = pd.DataFrame(mod_rows)
    losses = pd.concat(hists, ignore_index=True)
    o = data.obs
    summary = {
        "dataset": data.name,
        "task": data.task,
        "classes": classes,
        "class_counts": {c: int((labels == c).sum()) for c in classes},
        "n_labelled_profiles": int(len(lab)),
        "n_groups": int(len(set(groups))),
        "n_pretrain_extra": int(o["extra"].sum()),
        "n_profiles": int(len(o)),
        "folds": n_folds,
        "seed": seed,
        "device": device,
        "selected_baselines": inner_choices,
        "reference_choices": pd.DataFrame(selections)
        .groupby(["fraction", "selected_baseline"])
        .size()
        .rename("n_runs")
        .reset_index()
        .to_dict(orient="records"),
        "power_statement": power_statement(power),
        "config": cfg.to_dict(),
        "best_epochs": losses[losses["best"]]
        .groupby(["analysis", "method"])["epoch"]
        .agg(list)
        .unstack(0)
        .to_dict()
        if len(losses)
        else {},
    }
    return SSLResult(runs_df, curves, first, losses, modality, checks, summary, power)
