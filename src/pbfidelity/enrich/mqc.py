"""MultiQC custom content of the enrich stage (ids ``pbf_enrich_<dataset>_*``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pbfidelity.enrich.analysis import EnrichResult
from pbfidelity.io.mqc import write_mqc, write_mqc_table
from pbfidelity.metrics.mqc import safe_id

PARENT = {
    "parent_id": "pbf_enrich",
    "parent_name": "Biological processes",
    "parent_description": "Processes over-represented among genes that differ between the modalities.",
}


def write_enrich_mqc(outdir: Path, result: EnrichResult) -> list[Path]:
    ds = str(result.summary["dataset"])
    pre = f"pbf_enrich_{safe_id(ds)}"
    top = result.top.copy()
    out = []
    if len(top):
        table = top.assign(genes=top["genes"].astype(str).str.slice(0, 200))
        table.index = [
            f"{ds}: {a} {q} #{r}"
            for a, q, r in zip(table["analysis"], table["query"], table["rank"], strict=True)
        ]
        out.append(
            write_mqc_table(
                outdir,
                f"{pre}_top",
                f"Top processes ({ds})",
                "Top gene sets per query: over-representation (ORA; statistic = genes in the "
                "overlap) of bulk-up / pseudo-bulk-up DE genes (and SHAP genes when given) "
                "against the tested genes (SHAP genes: against the discriminator's candidate genes), and "
                f"preranked enrichment by the {result.summary.get('prerank_test', 'preranked test')} "
                "(statistic = NES). padj: Benjamini-Hochberg over all tested sets."
                + (
                    ""
                    if result.summary.get("prerank_null_safe")
                    else f" Caution: {result.summary.get('prerank_caveat', '')}."
                ),
                table.drop(columns=["analysis", "query", "rank"]),
                **PARENT,
            )
        )
        bars = {}
        for r in top.itertuples():
            label = f"{r.analysis} {r.query}: {str(r.name)[:60]}"
            bars[label] = {"-log10 padj": float(-np.log10(max(r.padj, 1e-300)))}
        out.append(
            write_mqc(
                outdir,
                f"{pre}_bars",
                f"Process significance ({ds})",
                "-log10 adjusted p of the top gene sets per query.",
                "bargraph",
                bars,
                {"ylab": "-log10 padj", "cpswitch": False},
                **PARENT,
            )
        )
    return out
