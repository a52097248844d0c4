"""The generative model of ``pbfidelity simulate`` (pure: parameters in, data out).

Genes have a log-normal baseline; each cell type up-regulates its own marker programme; each donor perturbs
every gene (log-normal donor effect) and case donors up-regulate a phenotype programme. Single cells are
negative-binomial (gamma-Poisson) draws around their cell type's profile scaled by a per-cell library size.
Bulk is a negative-binomial draw around the same donor's cell-type mixture.

Planted protocol distortions (off with ``null=True``), every affected gene listed in ``truth``:

- ``capture_bias``: genes captured ~3.3x more (half) or less (half) in bulk than in single-cell
  (a stand-in for transcript-length / 3'-capture bias);
- ``stress``: dissociation-stress genes raised ~4x in every single cell, absent from bulk;
- ``ambient_dropout``: genes with strong single-cell dropout (bulk-up) and ambient-RNA genes whose
  counts leak into every droplet (single-cell-up);
- ``mrna_content``: cell types differ in mRNA content, which weights bulk but not UMI-capped cells.

A few low-quality cells (few counts, high mitochondrial fraction) are planted too, for QC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

MITO_GENES = (
    "MT-ND1",
    "MT-ND2",
    "MT-CO1",
    "MT-CO2",
    "MT-ATP8",
    "MT-ATP6",
    "MT-CO3",
    "MT-ND3",
    "MT-ND4L",
    "MT-ND4",
    "MT-ND5",
    "MT-ND6",
    "MT-CYB",
)
RIBO_GENES = tuple(f"RPL{i}" for i in range(3, 15)) + tuple(f"RPS{i}" for i in range(3, 11))


@dataclass(frozen=True)
class SimulationParams:
    """Size and effect parameters; defaults give a demo that runs every stage in well under a minute."""

    n_donors: int = 12
    n_cell_types: int = 4
    cells_per_sample: int = 300
    n_genes: int = 2000
    null: bool = False
    seed: int = 42
    dataset: str = "sim"
    marker_fraction: float = 0.03
    marker_log_fc: float = 2.0
    donor_sd: float = 0.25
    phenotype_genes: int = 40
    phenotype_log_fc: float = 0.8
    capture_bias_genes: int = 60
    capture_log_fc: float = 1.2
    stress_genes: int = 30
    stress_log_fc: float = 1.4
    dropout_genes: int = 30
    dropout_keep: float = 0.15
    ambient_genes: int = 20
    ambient_fraction: float = 0.04
    mean_umis: float = 3000.0
    bulk_depth: float = 1.5e6
    cell_dispersion: float = 0.3
    bulk_dispersion: float = 0.02
    low_quality_fraction: float = 0.03

    def __post_init__(self) -> None:
        planted = self.capture_bias_genes + self.stress_genes + self.dropout_genes + self.ambient_genes
        reserved = len(MITO_GENES) + len(RIBO_GENES) + planted + self.phenotype_genes
        reserved += int(round(self.marker_fraction * self.n_genes)) * self.n_cell_types
        if self.n_genes < reserved + 50:
            raise ValueError(
                f"n_genes={self.n_genes} is too small: at least {reserved + 50} genes are needed"
            )
        if self.n_donors < 2 or self.n_cell_types < 1 or self.cells_per_sample < 10:
            raise ValueError("need n_donors >= 2, n_cell_types >= 1 and cells_per_sample >= 10")


@dataclass
class SimulatedData:
    """The simulated dataset: single cells, bulk, per-sample table and the ground truth."""

    cells: ad.AnnData
    bulk: pd.DataFrame  # genes x bulk columns
    samples: pd.DataFrame  # index = sample; donor, phenotype, bulk_id
    proportions: pd.DataFrame  # sample x cell type, true tissue fractions
    truth: dict = field(default_factory=dict)
    params: SimulationParams = field(default_factory=SimulationParams)


def _gene_names(n_genes: int) -> list[str]:
    fixed = list(MITO_GENES) + list(RIBO_GENES)
    return fixed + [f"GENE{i:05d}" for i in range(1, n_genes - len(fixed) + 1)]


def _nb(rng: np.random.Generator, mean: np.ndarray, dispersion: float) -> np.ndarray:
    """Negative-binomial draws (variance = mean + dispersion * mean^2) via gamma-Poisson."""
    shape = 1.0 / dispersion
    lam = rng.gamma(shape, mean / shape)
    return rng.poisson(lam)


def simulate(params: SimulationParams | None = None) -> SimulatedData:
    """Simulate one paired dataset (one bulk sample and one single-cell sample per donor)."""
    p = params or SimulationParams()
    rng = np.random.default_rng(p.seed)
    genes = _gene_names(p.n_genes)
    g = len(genes)
    n_fixed = len(MITO_GENES) + len(RIBO_GENES)
    mito = np.arange(len(MITO_GENES))
    ribo = np.arange(len(MITO_GENES), n_fixed)
    free = rng.permutation(np.arange(n_fixed, g))

    def take(n: int) -> np.ndarray:
        nonlocal free
        out, free = np.sort(free[:n]), free[n:]
        return out

    cell_types = [f"ct{k + 1}" for k in range(p.n_cell_types)]
    n_markers = int(round(p.marker_fraction * p.n_genes))
    markers = {ct: take(n_markers) for ct in cell_types}
    pheno_idx = take(p.phenotype_genes)
    cap_idx = take(p.capture_bias_genes)
    stress_idx = take(p.stress_genes)
    drop_idx = take(p.dropout_genes)
    amb_idx = take(p.ambient_genes)

    # Baseline log-expression; planted genes are drawn from the same baseline (no give-away by level),
    # but kept out of the lowest tail so their distortion is observable at demo depth.
    base = rng.normal(0.0, 1.3, size=g)
    base[mito] = rng.normal(3.0, 0.3, size=mito.size)
    base[ribo] = rng.normal(3.5, 0.3, size=ribo.size)
    planted_all = np.concatenate([cap_idx, stress_idx, drop_idx, amb_idx])
    base[planted_all] = np.maximum(base[planted_all], rng.normal(0.8, 0.5, size=planted_all.size))
    ct_log = np.tile(base, (p.n_cell_types, 1))
    for k, ct in enumerate(cell_types):
        ct_log[k, markers[ct]] += p.marker_log_fc

    donors = [f"D{i + 1:02d}" for i in range(p.n_donors)]
    samples = [f"S{i + 1:02d}" for i in range(p.n_donors)]
    phenotype = np.array(["case", "control"] * ((p.n_donors + 1) // 2))[: p.n_donors]
    phenotype = rng.permutation(phenotype)
    proportions = rng.dirichlet(np.full(p.n_cell_types, 6.0), size=p.n_donors)

    if p.null:
        content = np.ones(p.n_cell_types)
        capture = np.zeros(g)  # log-ratio sc/bulk capture
        stress_fc = np.zeros(g)
        amb_frac = 0.0
    else:
        content = np.exp(np.linspace(0.7, -0.7, p.n_cell_types)) if p.n_cell_types > 1 else np.ones(1)
        capture = np.zeros(g)
        half = cap_idx.size // 2
        capture[cap_idx[:half]] = -p.capture_log_fc  # lower in single-cell: bulk-up
        capture[cap_idx[half:]] = p.capture_log_fc  # higher in single-cell: pseudo-bulk-up
        capture[drop_idx] = np.log(p.dropout_keep)
        stress_fc = np.zeros(g)
        stress_fc[stress_idx] = p.stress_log_fc
        amb_frac = p.ambient_fraction
    ambient = np.zeros(g)
    ambient[amb_idx] = np.exp(base[amb_idx] + 3.0)
    ambient = ambient / ambient.sum() if ambient.sum() > 0 else ambient

    blocks, obs_rows, bulk_cols = [], [], []
    truth_lowq: list[str] = []
    for d, (donor, sample) in enumerate(zip(donors, samples, strict=True)):
        donor_log = ct_log + rng.normal(0.0, p.donor_sd, size=g)
        if phenotype[d] == "case":
            donor_log[:, pheno_idx] += p.phenotype_log_fc
        prof = np.exp(donor_log)
        prof /= prof.sum(axis=1, keepdims=True)  # per cell type, fractions of that type's mRNA
        # Bulk: mixture weighted by tissue proportion x mRNA content, at bulk capture.
        w = proportions[d] * content
        w /= w.sum()
        mu_bulk = w @ prof
        depth = p.bulk_depth * rng.lognormal(0.0, 0.2)
        bulk_cols.append(_nb(rng, depth * mu_bulk, p.bulk_dispersion))
        # Single cells: same types, sc capture + stress, ambient leakage, UMI library sizes.
        sc_prof = prof * np.exp(capture + stress_fc)
        sc_prof /= sc_prof.sum(axis=1, keepdims=True)
        sc_prof = (1.0 - amb_frac) * sc_prof + amb_frac * ambient
        n_by_type = rng.multinomial(p.cells_per_sample, proportions[d])
        types = np.repeat(np.arange(p.n_cell_types), n_by_type)
        lib = p.mean_umis * rng.lognormal(0.0, 0.35, size=types.size)
        mean = sc_prof[types] * lib[:, None]
        n_lowq = int(round(p.low_quality_fraction * types.size))
        lowq = rng.choice(types.size, size=n_lowq, replace=False) if n_lowq else np.array([], dtype=int)
        if n_lowq:  # broken cells: cytoplasmic mRNA lost, mitochondrial transcripts retained
            mean[lowq] *= 0.15
            mean[np.ix_(lowq, mito)] *= 20.0
        counts = _nb(rng, mean, p.cell_dispersion)
        blocks.append(sp.csr_matrix(counts.astype(np.int32)))
        barcodes = [f"{sample}_c{i:05d}" for i in range(types.size)]
        truth_lowq += [barcodes[i] for i in sorted(lowq)]
        obs_rows.append(
            pd.DataFrame(
                {
                    "sample": sample,
                    "donor": donor,
                    "cell_type": [cell_types[t] for t in types],
                    "phenotype": phenotype[d],
                },
                index=barcodes,
            )
        )

    obs = pd.concat(obs_rows)
    for col in ("sample", "donor", "cell_type", "phenotype"):
        obs[col] = pd.Categorical(obs[col])
    cells = ad.AnnData(X=sp.vstack(blocks).tocsr(), obs=obs, var=pd.DataFrame(index=genes))
    cells.uns["simulation"] = {"seed": p.seed, "null": p.null}
    bulk_ids = [f"B_{s}" for s in samples]
    bulk = pd.DataFrame(np.column_stack(bulk_cols).astype(np.int64), index=genes, columns=bulk_ids)
    bulk.index.name = "gene_id"
    sample_table = pd.DataFrame({"donor": donors, "phenotype": phenotype, "bulk_id": bulk_ids}, index=samples)
    sample_table.index.name = "sample"
    props = pd.DataFrame(proportions, index=samples, columns=cell_types)
    props.index.name = "sample"

    def names(idx: np.ndarray) -> list[str]:
        return [genes[i] for i in idx]

    half = cap_idx.size // 2
    if p.null:
        distortions: dict = {
            "capture_bias": [],
            "capture_bias_bulk_up": [],
            "capture_bias_pseudobulk_up": [],
            "stress": [],
            "ambient_dropout": [],
            "dropout": [],
            "ambient": [],
            "mrna_content": dict.fromkeys(cell_types, 1.0),
        }
    else:
        distortions = {
            "capture_bias": names(cap_idx),
            "capture_bias_bulk_up": names(cap_idx[:half]),
            "capture_bias_pseudobulk_up": names(cap_idx[half:]),
            "stress": names(stress_idx),
            "ambient_dropout": names(np.concatenate([drop_idx, amb_idx])),
            "dropout": names(drop_idx),
            "ambient": names(amb_idx),
            "mrna_content": {ct: float(c) for ct, c in zip(cell_types, content, strict=True)},
        }
    distorted = sorted(
        set(distortions["capture_bias"] + distortions["stress"] + distortions["ambient_dropout"])
    )
    bulk_up = sorted(set(distortions["capture_bias_bulk_up"] + distortions["dropout"]))
    truth = {
        "dataset": p.dataset,
        "null": p.null,
        "params": asdict(p),
        "distorted_genes": distorted,
        "distorted_bulk_up": bulk_up,
        "distorted_pseudobulk_up": sorted(set(distorted) - set(bulk_up)),
        "distortions": distortions,
        "phenotype_genes": names(pheno_idx),
        "celltype_markers": {ct: names(idx) for ct, idx in markers.items()},
        "mito_genes": list(MITO_GENES),
        "ribo_genes": list(RIBO_GENES),
        "low_quality_cells": truth_lowq,
        "donor_phenotype": dict(zip(donors, phenotype.tolist(), strict=True)),
    }
    return SimulatedData(
        cells=cells, bulk=bulk, samples=sample_table, proportions=props, truth=truth, params=p
    )
