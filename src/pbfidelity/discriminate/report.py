"""MultiQC custom content for the discrimination results (one set of sections per dataset)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pbfidelity.discriminate.analysis import DiscriminationResult
from pbfidelity.discriminate.stats import roc_on_grid
from pbfidelity.io.mqc import write_mqc, write_mqc_table

PARENT = {"parent_id": "pbf_discriminate", "parent_name": "Bulk vs pseudo-bulk discrimination"}
MODEL_LABELS = {
    "xgboost": "XGBoost",
    "logistic_l2": "L2 logistic regression",
    "random_forest": "Random forest",
}


def safe_id(name: str) -> str:
    """A dataset name reduced to the characters MultiQC ids allow."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(name))


def metrics_table(res: DiscriminationResult) -> pd.DataFrame:
    """One row per model: AUROC with CI, accuracy, balanced accuracy, F1 (and the permutation p for XGBoost)."""
    rows = {}
    for model, m in res.metrics.groupby("model", sort=False):
        m = m.set_index("metric")
        rows[f"{res.dataset}: {MODEL_LABELS.get(model, model)}"] = {
            "AUROC": m.loc["auroc", "value"],
            "AUROC CI low": m.loc["auroc", "ci_low"],
            "AUROC CI high": m.loc["auroc", "ci_high"],
            "Accuracy": m.loc["accuracy", "value"],
            "Balanced accuracy": m.loc["balanced_accuracy", "value"],
            "F1": m.loc["f1", "value"],
            "Permutation p": res.summary["permutation_p"] if model == "xgboost" else None,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


#: standardised-expression bins of the beeswarm: (upper bound, legend label, colour)
EXPRESSION_BINS = (
    (-1.0, "expression z < -1", "#2166ac"),
    (-0.25, "expression z -1 to -0.25", "#92c5de"),
    (0.25, "expression z -0.25 to 0.25", "#bbbbbb"),
    (1.0, "expression z 0.25 to 1", "#f4a582"),
    (float("inf"), "expression z > 1", "#b2182b"),
)


def beeswarm_points(values: pd.DataFrame, genes: list[str], width: float = 0.35, seed: int = 0) -> dict:
    """Beeswarm scatter data ``{expression bin: [point, ...]}``: x = the gene's position (plus a seeded
    jitter), y = signed SHAP, colour = standardised expression bin (one legend entry per bin)."""
    rng = np.random.default_rng(seed)
    pos = {g: i for i, g in enumerate(genes)}
    v = values[values["gene"].isin(pos)]
    jitter = rng.uniform(-width, width, len(v))
    out: dict[str, list[dict]] = {}
    for r, dx in zip(v.itertuples(), jitter, strict=True):
        z = float(r.expression_z)
        _, label, color = next(b for b in EXPRESSION_BINS if z < b[0] or b[0] == float("inf"))
        out.setdefault(label, []).append(
            {
                "x": round(pos[r.gene] + float(dx), 3),
                "y": round(float(r.shap), 4),
                "color": color,
                "name": f"{r.gene}: {r.profile}",
                "group": label,
                "annotate": False,
            }
        )
    order = [b[1] for b in EXPRESSION_BINS]
    return {k: out[k] for k in order if k in out}


def write_discriminate_mqc(directory: Path, res: DiscriminationResult) -> list[Path]:
    """Metrics table, ROC curves, SHAP bar chart and learning curve for one dataset."""
    ds, sid, s = res.dataset, safe_id(res.dataset), res.summary
    fmt = {"format": "{:,.3f}", "min": 0, "max": 1, "scale": "RdYlGn"}
    headers = {
        c: dict(fmt)
        for c in ("AUROC", "AUROC CI low", "AUROC CI high", "Accuracy", "Balanced accuracy", "F1")
    }
    headers["Permutation p"] = {"format": "{:,.4f}", "min": 0, "max": 1, "scale": "RdYlGn"}
    paths = [
        write_mqc_table(
            directory,
            f"pbf_discriminate_{sid}_metrics",
            f"Discrimination metrics ({ds})",
            f"Held-out (donor-grouped {s['n_folds']}-fold) classification of bulk vs pseudo-bulk "
            f"({s['n_bulk']} bulk, {s['n_pseudobulk']} pseudo-bulk profiles, {s['n_donors']} donors); "
            "95 % CIs from a donor bootstrap; permutation p with labels shuffled within donor. "
            f"Verdict: {s['verdict']}.",
            metrics_table(res),
            headers=headers,
            **PARENT,
        )
    ]
    roc = {MODEL_LABELS.get(m, m): roc_on_grid(g) for m, g in res.roc.groupby("model", sort=False)}
    roc["Chance"] = {0.0: 0.0, 1.0: 1.0}
    paths.append(
        write_mqc(
            directory,
            f"pbf_discriminate_{sid}_roc",
            f"ROC curves ({ds})",
            "Out-of-fold ROC curves of the discriminator and the baselines on the same donor-grouped folds "
            "(positive class = bulk).",
            "linegraph",
            roc,
            {
                "xlab": "False positive rate",
                "ylab": "True positive rate",
                "xmin": 0,
                "xmax": 1,
                "ymin": 0,
                "ymax": 1,
                "showlegend": True,
            },
            **PARENT,
        )
    )
    top = res.top.head(25)
    bars = {
        str(r.gene): {
            "towards bulk": r.mean_abs_shap if r.direction == "bulk" else 0.0,
            "towards pseudo-bulk": r.mean_abs_shap if r.direction != "bulk" else 0.0,
        }
        for r in top.itertuples()
    }
    paths.append(
        write_mqc(
            directory,
            f"pbf_discriminate_{sid}_shap",
            f"Top SHAP genes ({ds})",
            "Genes ranked by mean |SHAP| of the XGBoost discriminator over held-out profiles; the colour says "
            "which modality higher expression of the gene points to.",
            "bargraph",
            bars,
            {"ylab": "mean |SHAP| (log-odds)", "cpswitch": False, "sort_samples": False},
            **PARENT,
        )
    )
    if len(res.shap_values):
        genes = list(dict.fromkeys(res.shap_values.sort_values("rank", kind="stable")["gene"]))
        paths.append(
            write_mqc(
                directory,
                f"pbf_discriminate_{sid}_shap_signed",
                f"Signed SHAP per profile ({ds})",
                f"Beeswarm of the top {len(genes)} genes: each dot is one held-out profile, placed at its signed "
                "SHAP value (log-odds; positive pushes the profile towards bulk) and coloured by the gene's "
                "standardised log-CPM in that profile (blue low, red high). Red dots on the positive side: "
                "higher expression looks like bulk.",
                "scatter",
                beeswarm_points(res.shap_values, genes),
                {
                    "xlab": "gene (ranked by mean |SHAP|)",
                    "ylab": "SHAP value (log-odds towards bulk)",
                    "categories": genes,
                    "showlegend": True,
                    "y_lines": [{"value": 0, "color": "#888888", "width": 1, "dash": "dash"}],
                },
                **PARENT,
            )
        )
    if len(res.learning_curve):
        curve = {"XGBoost": {int(r.n_genes): float(r.auroc) for r in res.learning_curve.itertuples()}}
        paths.append(
            write_mqc(
                directory,
                f"pbf_discriminate_{sid}_learning_curve",
                f"Learning curve ({ds})",
                "Held-out AUROC against the number of top-variance genes (chosen on training folds).",
                "linegraph",
                curve,
                {"xlab": "genes", "ylab": "AUROC", "xlog": True, "ymin": 0, "ymax": 1},
                **PARENT,
            )
        )
    return paths


def write_cross_dataset_mqc(directory: Path, table: pd.DataFrame) -> Path:
    """Cross-dataset generalisation table (train on one dataset, test on another)."""
    data = table.assign(pair=table["train_dataset"] + " -> " + table["test_dataset"]).set_index("pair")
    data = data[["n_shared_genes", "auroc", "ci_low", "ci_high", "accuracy"]]
    data.columns = ["Shared genes", "AUROC", "AUROC CI low", "AUROC CI high", "Accuracy"]
    return write_mqc_table(
        directory,
        "pbf_discriminate_cross_dataset",
        "Cross-dataset generalisation",
        "XGBoost trained on every profile of one dataset and tested on another (shared genes).",
        data,
        **PARENT,
    )
