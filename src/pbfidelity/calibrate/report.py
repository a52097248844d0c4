"""MultiQC custom content for calibration: before/after table, AUROC bars, matched-pair correlation scatter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pbfidelity.calibrate.analysis import CalibrationResult
from pbfidelity.discriminate.report import safe_id
from pbfidelity.io.mqc import diagonal, write_mqc, write_mqc_table

PARENT = {"parent_id": "pbf_calibrate", "parent_name": "Calibration of pseudo-bulk towards bulk"}
LABELS = {
    "raw": "raw pseudo-bulk",
    "scale": "location-scale-calibrated",
    "offset": "offset-calibrated",
    "linear": "linear-calibrated",
}


def write_calibrate_mqc(directory: Path, res: CalibrationResult) -> list[Path]:
    ds, sid, s = res.dataset, safe_id(res.dataset), res.summary
    m = res.metrics
    xg = m[m["model"] == "xgboost"].set_index("pseudobulk")
    lr = m[m["model"] == "logistic_l2"].set_index("pseudobulk")
    table = pd.DataFrame(
        {
            "Held-out AUROC (XGBoost)": xg["auroc"],
            "CI low": xg["ci_low"],
            "CI high": xg["ci_high"],
            "AUROC drop": xg["auroc_drop"],
            "AUROC (logistic)": lr["auroc"].reindex(xg.index),
            "Matched-pair r (median)": xg["pair_r_median"],
        }
    )
    table.index = [f"{ds}: {LABELS.get(i, i)}" for i in table.index]
    fmt = {"format": "{:,.3f}"}
    paths = [
        write_mqc_table(
            directory,
            f"pbf_calibrate_{sid}_metrics",
            f"Calibration before/after ({ds})",
            f"Gene-wise corrections learnt on training donors only ({s['n_pairs']} matched pairs, "
            f"{s['n_folds']} donor-grouped folds), applied to held-out donors; the discriminator is re-run on "
            f"the same folds. AUROC {s['auroc_raw']:.3f} raw -> {s['auroc_calibrated']:.3f} after "
            f"'{s['method']}' calibration; median matched-pair r {s['pair_r_raw_median']:.3f} -> "
            f"{s['pair_r_calibrated_median']:.3f}.",
            table,
            headers={c: dict(fmt) for c in table.columns},
            **PARENT,
        )
    ]
    bars = {f"{LABELS.get(i, i)}": {"AUROC": float(r["auroc"])} for i, r in xg.iterrows()}
    paths.append(
        write_mqc(
            directory,
            f"pbf_calibrate_{sid}_auroc",
            f"Discriminator AUROC before/after calibration ({ds})",
            "Held-out AUROC of the bulk-vs-pseudo-bulk discriminator on raw and calibrated pseudo-bulk "
            "(0.5 = indistinguishable).",
            "bargraph",
            bars,
            {"ylab": "AUROC", "ymin": 0, "ymax": 1, "cpswitch": False, "sort_samples": False},
            **PARENT,
        )
    )
    method = res.method
    scatter: dict = {
        str(r.sample): {
            "x": float(r.r_raw),
            "y": float(getattr(r, f"r_{method}")),
            "color": "#1f77b4",
            "group": "matched pair",
        }
        for r in res.pairs.itertuples()
    }
    vals = [v for p in scatter.values() for v in (p["x"], p["y"]) if np.isfinite(v)]
    if vals:
        scatter["y = x"] = diagonal(min(vals), max(vals))
    paths.append(
        write_mqc(
            directory,
            f"pbf_calibrate_{sid}_pair_r",
            f"Matched-pair correlation before/after ({ds})",
            f"Pearson r of log-CPM between each bulk sample and its pseudo-bulk, raw (x) and held-out "
            f"'{method}'-calibrated (y); points above the dotted diagonal (y = x) improved.",
            "scatter",
            scatter,
            {"xlab": "r, raw pseudo-bulk", "ylab": f"r, {method}-calibrated", "showlegend": True},
            **PARENT,
        )
    )
    return paths
