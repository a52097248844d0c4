"""Write a :class:`SimulatedData` as a ready-to-run pbfidelity input folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pbfidelity.simulate.model import SimulatedData


def gene_sets(sim: SimulatedData, n_decoys: int = 40) -> dict[str, list[str]]:
    """Planted programmes as gene sets, plus random decoy sets of similar sizes (a GMT for ``enrich``)."""
    t = sim.truth
    sets: dict[str, list[str]] = {}
    if not t["null"]:
        d = t["distortions"]
        sets["PLANTED_CAPTURE_BIAS_BULK_UP"] = d["capture_bias_bulk_up"]
        sets["PLANTED_CAPTURE_BIAS_PSEUDOBULK_UP"] = d["capture_bias_pseudobulk_up"]
        sets["PLANTED_DISSOCIATION_STRESS"] = d["stress"]
        sets["PLANTED_SC_DROPOUT"] = d["dropout"]
        sets["PLANTED_AMBIENT_RNA"] = d["ambient"]
    sets["PHENOTYPE_PROGRAMME"] = t["phenotype_genes"]
    for ct, genes in t["celltype_markers"].items():
        sets[f"CELLTYPE_{ct.upper()}_MARKERS"] = genes
    rng = np.random.default_rng(sim.params.seed + 1)
    universe = np.asarray(sim.cells.var_names)
    for i in range(n_decoys):
        size = int(rng.integers(15, 61))
        sets[f"DECOY_SET_{i + 1:03d}"] = sorted(rng.choice(universe, size=size, replace=False).tolist())
    return sets


def write_simulation(sim: SimulatedData, outdir: str | Path) -> dict[str, Path]:
    """Write samplesheet.csv, bulk_counts.tsv, singlecell.h5ad, proportions.tsv, genesets.gmt, ground_truth.json."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {
        "samplesheet": outdir / "samplesheet.csv",
        "bulk": outdir / "bulk_counts.tsv",
        "singlecell": outdir / "singlecell.h5ad",
        "proportions": outdir / "proportions.tsv",
        "gene_sets": outdir / "genesets.gmt",
        "truth": outdir / "ground_truth.json",
    }
    ds = sim.params.dataset
    lines = ["dataset,sample,bulk,singlecell,bulk_id,sc_id,donor,phenotype"]
    for sample, row in sim.samples.iterrows():
        lines.append(
            f"{ds},{sample},{paths['bulk'].name},{paths['singlecell'].name},{row['bulk_id']},"
            f"{sample},{row['donor']},{row['phenotype']}"
        )
    paths["samplesheet"].write_text("\n".join(lines) + "\n")
    sim.bulk.to_csv(paths["bulk"], sep="\t")
    sim.cells.write_h5ad(paths["singlecell"])
    sim.proportions.round(6).to_csv(paths["proportions"], sep="\t")
    gmt = [f"{name}\tpbfidelity simulation\t" + "\t".join(genes) for name, genes in gene_sets(sim).items()]
    paths["gene_sets"].write_text("\n".join(gmt) + "\n")
    paths["truth"].write_text(json.dumps(sim.truth, indent=1, sort_keys=True))
    return paths
