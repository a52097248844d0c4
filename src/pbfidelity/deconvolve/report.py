"""MultiQC custom content for deconvolution: accuracy per arm, RMSE bars, estimated vs known proportions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pbfidelity.deconvolve.analysis import ARM_LABELS, DeconvolutionResult
from pbfidelity.discriminate.report import safe_id
from pbfidelity.io.mqc import diagonal, write_mqc, write_mqc_table

PARENT = {"parent_id": "pbf_deconvolve", "parent_name": "Deconvolution: does the infidelity matter?"}


def write_deconvolve_mqc(directory: Path, res: DeconvolutionResult) -> list[Path]:
    ds, sid, s = res.dataset, safe_id(res.dataset), res.summary
    a = res.accuracy
    overall = a[a["scope"] == "overall"]
    table = pd.DataFrame(
        {
            "Method": overall["method"].str.upper().to_numpy(),
            "Profiles": [ARM_LABELS.get(x, x) for x in overall["arm"]],
            "Scored against": overall["truth"].to_numpy(),
            "RMSE": overall["rmse"].to_numpy(),
            "RMSE CI low": overall["rmse_ci_low"].to_numpy(),
            "RMSE CI high": overall["rmse_ci_high"].to_numpy(),
            "Pearson r": overall["pearson"].to_numpy(),
            "Lin's CCC": overall["ccc"].to_numpy(),
            "MAE": overall["mae"].to_numpy(),
            "n_samples": overall["n_samples"].to_numpy(),
        },
        index=[
            f"{ds}: {m} {arm} vs {t}"
            for m, arm, t in zip(overall["method"], overall["arm"], overall["truth"], strict=True)
        ],
    )
    ref = s["reference"]
    paths = [
        write_mqc_table(
            directory,
            f"pbf_deconvolve_{sid}_summary",
            f"Deconvolution accuracy ({ds})",
            f"{s['sentence']}. Proportions of {s['n_pairs']} bulk samples and their pseudo-bulk, from reference "
            f"profiles of QC-passing cells ({'leaving each pair’s donor out' if ref['leave_donor_out'] else 'all donors'}); "
            f"pseudo-bulk scored against {s['pseudobulk_truth']}; calibration '{s['calibration']['method']}' "
            f"fitted on the other folds' donors only. 95% intervals resample donors.",
            table,
            **PARENT,
        )
    ]
    bars = {}
    for m in sorted(set(overall["method"])):
        sub = overall[(overall["method"] == m) & (overall["truth"] != "pseudo-bulk estimate")]
        bars[m.upper()] = {ARM_LABELS.get(r.arm, r.arm): float(r.rmse) for r in sub.itertuples()}
    if any(bars.values()):
        paths.append(
            write_mqc(
                directory,
                f"pbf_deconvolve_{sid}_rmse",
                f"Deconvolution error per arm ({ds})",
                "Overall RMSE of estimated cell-type proportions (lower is better): bulk and the calibrated/"
                "concordant-gene variants against the known proportions, pseudo-bulk against its own composition.",
                "bargraph",
                bars,
                {
                    "ylab": "RMSE",
                    "cpswitch": False,
                    "stacking": "group",
                    "tt_decimals": 3,
                    "sort_samples": False,
                },
                **PARENT,
            )
        )
    per_ct = a[(a["scope"] != "overall") & (a["method"] == s["primary_method"])]
    if len(per_ct):
        t = pd.DataFrame(
            {
                "Profiles": [ARM_LABELS.get(x, x) for x in per_ct["arm"]],
                "Cell type": per_ct["scope"].to_numpy(),
                "RMSE": per_ct["rmse"].to_numpy(),
                "Bias": per_ct["bias"].to_numpy(),
                "Bias CI low": per_ct["bias_ci_low"].to_numpy(),
                "Bias CI high": per_ct["bias_ci_high"].to_numpy(),
                "Pearson r": per_ct["pearson"].to_numpy(),
                "Lin's CCC": per_ct["ccc"].to_numpy(),
            },
            index=[f"{ds}: {arm} {ct}" for arm, ct in zip(per_ct["arm"], per_ct["scope"], strict=True)],
        )
        paths.append(
            write_mqc_table(
                directory,
                f"pbf_deconvolve_{sid}_celltypes",
                f"Deconvolution per cell type ({ds}, {s['primary_method'].upper()})",
                "Per cell type over samples: RMSE, bias (mean estimate minus truth, with its 95% donor-bootstrap "
                "interval), Pearson r and Lin's CCC.",
                t,
                **PARENT,
            )
        )
    est = res.estimates
    pts = est[
        (est["method"] == s["primary_method"])
        & est["truth"].notna()
        & est["arm"].isin(["bulk", "pseudobulk"])
    ]
    if len(pts):
        scatter = {
            f"{r.arm}: {r.sample} {r.cell_type}": {
                "x": float(r.truth),
                "y": float(r.estimate),
                "color": "#1f77b4" if r.arm == "bulk" else "#ff7f0e",
                "group": "bulk" if r.arm == "bulk" else "pseudo-bulk",  # one legend entry per arm
            }
            for r in pts.itertuples()
        }
        scatter["y = x"] = diagonal(0.0, 1.0)
        paths.append(
            write_mqc(
                directory,
                f"pbf_deconvolve_{sid}_scatter",
                f"Estimated vs true proportions ({ds}, {s['primary_method'].upper()})",
                "Each point is one sample and cell type: bulk (blue) against the known proportions, pseudo-bulk "
                "(orange) against its own composition; the dotted diagonal (y = x) is perfect recovery.",
                "scatter",
                scatter,
                {
                    "xlab": "true proportion",
                    "ylab": "estimated proportion",
                    "xmin": 0,
                    "ymin": 0,
                    "xmax": 1,
                    "ymax": 1,
                    "showlegend": True,
                },
                **PARENT,
            )
        )
    return paths
