"""Files of the ssl stage: tables, ``ssl_summary.json``, encoder checkpoints and MultiQC custom content."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from pbfidelity.io.mqc import to_builtin, write_mqc, write_mqc_table
from pbfidelity.ssl.protocol import SSLResult

SUMMARY_FILE = "ssl_summary.json"


def safe_id(name: str) -> str:
    """A MultiQC-safe id fragment for a dataset name."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "dataset"


def _fmt(mean: float, sd: float) -> str:
    return "NA" if not np.isfinite(mean) else f"{mean:.3f} ± {sd:.3f}"


def modality_summary(modality: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over folds of the modality analysis, one row per space (input, scarf, vime, byol)."""
    if modality.empty:
        return pd.DataFrame()
    cols = [c for c in modality.columns if c not in ("fold", "space")]
    g = modality.groupby("space", sort=False)[cols]
    mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
    return mean.join(sd, lsuffix="_mean", rsuffix="_sd").reset_index()


def summary_document(result: SSLResult) -> dict:
    """The JSON the report stage reads (schema in docs/ssl.md)."""
    doc = dict(result.summary)
    doc["metric_for_matching"] = result.first_match["metric"].iloc[0] if len(result.first_match) else None
    doc["curves"] = result.curves.to_dict(orient="records")
    doc["first_match"] = result.first_match.to_dict(orient="records")
    doc["modality"] = modality_summary(result.modality).to_dict(orient="records")
    doc["power"] = result.power.to_dict(orient="records")
    return to_builtin(doc)


def write_tables(result: SSLResult, outdir: Path) -> None:
    result.runs.to_csv(outdir / "label_fraction_runs.tsv", sep="\t", index=False, float_format="%.6g")
    result.curves.to_csv(outdir / "label_fraction_curves.tsv", sep="\t", index=False, float_format="%.6g")
    result.first_match.to_csv(outdir / "first_match.tsv", sep="\t", index=False, float_format="%.6g")
    result.losses.to_csv(outdir / "pretrain_losses.tsv", sep="\t", index=False, float_format="%.6g")
    result.power.to_csv(outdir / "ssl_power.tsv", sep="\t", index=False, float_format="%.6g")
    if not result.modality.empty:
        result.modality.to_csv(outdir / "modality.tsv", sep="\t", index=False, float_format="%.6g")
    (outdir / SUMMARY_FILE).write_text(json.dumps(summary_document(result), indent=2, allow_nan=False))


def write_checkpoints(result: SSLResult, outdir: Path) -> None:
    """One ``.pt`` per (method, fold): encoder weights, its shape and the frozen input preparation."""
    import torch

    folder = outdir / "checkpoints"
    folder.mkdir(exist_ok=True)
    enc_cfg = result.summary["config"]["encoder"]
    for c in result.checkpoints:
        torch.save(
            {
                "method": c["method"],
                "fold": c["fold"],
                "best_epoch": c["best_epoch"],
                "encoder_config": enc_cfg,
                "n_features": int(len(c["prep"].genes)),
                "state_dict": {k: v.detach().cpu() for k, v in c["encoder"].state_dict().items()},
                "prep": c["prep"].to_dict(),
            },
            folder / f"{c['method']}_fold{c['fold']}.pt",
        )


def write_multiqc(result: SSLResult, outdir: Path) -> None:
    """Label-fraction curves (line graph), pre-training loss curves, summary and modality tables."""
    ds = result.summary["dataset"]
    sid = safe_id(ds)
    metric = result.first_match["metric"].iloc[0] if len(result.first_match) else "balanced_accuracy"
    curves = {
        f"{ds}: {model}": {float(r["fraction"]) * 100: float(r[f"{metric}_mean"]) for _, r in g.iterrows()}
        for model, g in result.curves.groupby("model", sort=False)
    }
    write_mqc(
        outdir,
        f"pbf_ssl_{sid}_curves",
        f"SSL label-fraction curves ({ds})",
        f"Mean {metric.replace('_', ' ')} on held-out donors against the labelled fraction of training donors "
        f"(mean over {result.summary['folds']} donor-grouped folds x repeats); *_probe = linear probe on frozen "
        "SSL embeddings, *_finetune = fine-tuned encoder; mlp/xgboost/logreg = supervised baselines.",
        "linegraph",
        curves,
        {
            "xlab": "labelled fraction (%)",
            "ylab": metric.replace("_", " "),
            "xlog": True,
            "ymin": 0,
            "ymax": 1,
        },
    )
    losses = result.losses[result.losses["analysis"] == "curves"]
    col = "val_loss" if losses["val_loss"].notna().any() else "train_loss"
    loss_data = {
        f"{ds}: {m} fold {f}": {int(r["epoch"]): float(r[col]) for _, r in g.iterrows()}
        for (m, f), g in losses.groupby(["method", "fold"], sort=False)
    }
    write_mqc(
        outdir,
        f"pbf_ssl_{sid}_loss",
        f"SSL pre-training loss ({ds})",
        f"{'Validation' if col == 'val_loss' else 'Training'} loss per epoch of each method and fold; training "
        "stops after the configured patience and the best-validation encoder is kept.",
        "linegraph",
        loss_data,
        {"xlab": "epoch", "ylab": col.replace("_", " ")},
    )
    ms = modality_summary(result.modality)
    if not ms.empty:
        table = ms.set_index("space")[
            [
                "modality_auc_mean",
                "pair_top1_mean",
                "pb_to_bulk_balanced_accuracy_mean",
                "bulk_to_bulk_balanced_accuracy_mean",
            ]
        ]
        table.index = [f"{ds}: {s}" for s in table.index]
        write_mqc_table(
            outdir,
            f"pbf_ssl_{sid}_modality",
            f"SSL bulk vs pseudo-bulk ({ds})",
            "Encoders pre-trained on training donors' bulk only. modality AUC: held-out bulk-vs-pseudo-bulk "
            "classification in that space (0.5 = indistinguishable); pair top-1: held-out pseudo-bulk whose "
            "nearest bulk is its own sample; transfer: phenotype balanced accuracy on held-out bulk when trained "
            "on pseudo-bulk vs on bulk (mean over folds).",
            table,
        )
    if not result.power.empty:
        pw = result.power[result.power["family"] != "baseline"].copy()
        pw.index = [f"{ds}: {m} at {f:.0%}" for m, f in zip(pw["model"], pw["fraction"], strict=True)]
        write_mqc_table(
            outdir,
            f"pbf_ssl_{sid}_power",
            f"SSL vs the validation-chosen baseline ({ds})",
            f"{result.summary.get('power_statement', '')}. Difference in {metric.replace('_', ' ')} to the baseline "
            "chosen per fold by inner cross-validation on training donors (never on test results), paired within "
            "each fold x repeat x fraction run; SD = between-fold SD of the per-fold mean difference; "
            "better/worse = beyond two fold SDs, else underpowered.",
            pw[["diff_mean", "diff_sd_fold", "n_folds", "call"]],
        )
    if result.first_match.empty:
        return
    fm = result.first_match.set_index("model")
    cv = result.curves
    smallest, full = cv["fraction"].min(), cv["fraction"].max()
    rows = {}
    for model in fm.index:
        g = cv[cv["model"] == model].set_index("fraction")
        rows[f"{ds}: {model}"] = {
            "family": fm.loc[model, "family"],
            f"at {smallest:.0%}": _fmt(g.loc[smallest, f"{metric}_mean"], g.loc[smallest, f"{metric}_sd"]),
            f"at {full:.0%}": _fmt(g.loc[full, f"{metric}_mean"], g.loc[full, f"{metric}_sd"]),
            "first fraction matching best baseline": fm.loc[model, "first_fraction"],
            "fewer labels (%)": fm.loc[model, "fewer_labels_pct"],
        }
    write_mqc_table(
        outdir,
        f"pbf_ssl_{sid}_summary",
        f"SSL summary ({ds})",
        f"{metric.replace('_', ' ')} (mean ± sd) at the smallest and full label fraction; the first fraction at "
        f"which each model's mean reaches the validation-chosen baseline's full-label mean ({fm['best_baseline'].iloc[0]}: "
        f"{fm['target'].iloc[0]:.3f}) minus {result.summary['config']['downstream']['match_tolerance']}; "
        "fewer labels = relative to the best baseline's own first fraction.",
        pd.DataFrame.from_dict(rows, orient="index"),
    )
