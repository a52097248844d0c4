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

Optional noise and sampling effects (all off by default, so the default output is unchanged):

- ``sample_noise_sd``: every profile gets its own log-normal gene noise, independently for the bulk and the
  single-cell sample of a donor (the donor profile is then no longer shared exactly by both modalities);
- ``dissociation_capture``: the last ``undercaptured_types`` cell types are captured at this relative rate by
  dissociation, so single-cell composition differs from tissue composition (a composition distortion);
- ``doublet_rate``: that fraction of droplets holds a second cell (type drawn from the captured composition);
- ``effect_spread``: each planted gene's effect is scaled by a uniform factor in ``1 +/- effect_spread``;
- ``depth_ratio``: bulk depth set to this multiple of the expected pseudo-bulk depth (overrides ``bulk_depth``).

Named presets (:data:`PRESETS`, :meth:`SimulationParams.from_preset`) grade the difficulty: ``easy``, ``hard``,
``very-hard``, ``null`` and ``null-depth`` (no distortion, bulk 5x shallower than pseudo-bulk).

The ground truth's ``affected_genes`` lists every gene whose expected bulk vs pseudo-bulk log2 fold change is
at least ``truth_min_log2fc`` in size (every planted gene too), with its distortion class and that true log2
fold change: cell-type markers shifted by the mRNA-content or composition effects are listed with class
``celltype_composition``.
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
    mrna_content_log_range: float = 0.7
    cell_library_sd: float = 0.35
    bulk_depth_sd: float = 0.2
    sample_noise_sd: float = 0.0
    dissociation_capture: float = 1.0
    undercaptured_types: int = 1
    doublet_rate: float = 0.0
    effect_spread: float = 0.0
    depth_ratio: float = 0.0
    truth_min_log2fc: float = 0.25
    preset: str = ""

    @classmethod
    def from_preset(cls, name: str | None = None, **overrides) -> SimulationParams:
        """Parameters of a named preset (:data:`PRESETS`); explicit keyword arguments override its values."""
        if name and name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        values = {**(PRESETS[name] if name else {}), **overrides}
        return cls(**values, **({"preset": name} if name and "preset" not in overrides else {}))

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
        checks = {
            "dropout_keep": 0 < self.dropout_keep <= 1,
            "ambient_fraction": 0 <= self.ambient_fraction < 1,
            "low_quality_fraction": 0 <= self.low_quality_fraction < 1,
            "doublet_rate": 0 <= self.doublet_rate < 1,
            "dissociation_capture": 0 < self.dissociation_capture <= 1,
            "effect_spread": 0 <= self.effect_spread < 1,
            "depth_ratio": self.depth_ratio >= 0,
            "bulk_depth": self.bulk_depth > 0,
            "mean_umis": self.mean_umis > 0,
        }
        for name in ("donor_sd", "sample_noise_sd", "cell_library_sd", "bulk_depth_sd", "cell_dispersion",
                     "bulk_dispersion", "truth_min_log2fc"):
            checks[name] = getattr(self, name) >= 0
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"out of range: {', '.join(f'{k}={getattr(self, k)}' for k in bad)}")
        if not 0 <= self.undercaptured_types <= self.n_cell_types:
            raise ValueError(f"undercaptured_types={self.undercaptured_types} must be 0..n_cell_types")


#: Graded difficulty. Effect sizes are natural-log fold changes (``capture_log_fc`` 1.2 = 3.3x); the thresholded
#: DE test calls |log2FC| > 1 (= 0.69 natural log). Sizes (donors, cells, genes) are not part of a preset.
PRESETS: dict[str, dict] = {
    "easy": dict(capture_log_fc=1.4, stress_log_fc=1.4, dropout_keep=0.2, ambient_fraction=0.02,
                 donor_sd=0.25, sample_noise_sd=0.1, effect_spread=0.5, dissociation_capture=0.5,
                 doublet_rate=0.03, depth_ratio=1.0),
    "hard": dict(capture_log_fc=1.0, stress_log_fc=1.0, dropout_keep=0.35, ambient_fraction=0.008,
                 mrna_content_log_range=0.5, donor_sd=0.5, sample_noise_sd=0.3, effect_spread=0.5,
                 dissociation_capture=0.6, doublet_rate=0.05, depth_ratio=1.0),
    "very-hard": dict(capture_log_fc=0.85, stress_log_fc=0.85, dropout_keep=0.45, ambient_fraction=0.004,
                      mrna_content_log_range=0.35, donor_sd=0.6, sample_noise_sd=0.35, effect_spread=0.5,
                      dissociation_capture=0.7, doublet_rate=0.08, depth_ratio=1.0),
    "null": dict(null=True, donor_sd=0.5, sample_noise_sd=0.3, doublet_rate=0.05, depth_ratio=1.0),
    "null-depth": dict(null=True, donor_sd=0.5, sample_noise_sd=0.3, doublet_rate=0.05, depth_ratio=0.2),
}


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
        r = p.mrna_content_log_range
        content = np.exp(np.linspace(r, -r, p.n_cell_types)) if p.n_cell_types > 1 else np.ones(1)
        capture = np.zeros(g)
        half = cap_idx.size // 2
        capture[cap_idx[:half]] = -p.capture_log_fc  # lower in single-cell: bulk-up
        capture[cap_idx[half:]] = p.capture_log_fc  # higher in single-cell: pseudo-bulk-up
        capture[drop_idx] = np.log(p.dropout_keep)
        stress_fc = np.zeros(g)
        stress_fc[stress_idx] = p.stress_log_fc
        amb_frac = p.ambient_fraction
        if p.effect_spread > 0:  # per-gene effect sizes (drawn only when asked: the default stream is unchanged)
            spread_idx = np.concatenate([cap_idx, drop_idx, stress_idx])
            scale = rng.uniform(1 - p.effect_spread, 1 + p.effect_spread, size=spread_idx.size)
            capture[spread_idx] *= scale
            stress_fc[spread_idx] *= scale
    # Dissociation under-captures some cell types: single-cell composition differs from the tissue's.
    sc_capture = np.ones(p.n_cell_types)
    if not p.null and p.undercaptured_types and p.dissociation_capture < 1:
        sc_capture[p.n_cell_types - p.undercaptured_types:] = p.dissociation_capture
    ambient = np.zeros(g)
    ambient[amb_idx] = np.exp(base[amb_idx] + 3.0)
    ambient = ambient / ambient.sum() if ambient.sum() > 0 else ambient

    blocks, obs_rows, bulk_cols = [], [], []
    truth_lowq: list[str] = []
    truth_doublets: list[str] = []
    true_lfc = np.zeros((p.n_donors, g))  # expected log2(bulk / pseudo-bulk) fractions, before sampling noise
    bulk_depth = p.bulk_depth
    if p.depth_ratio > 0:  # relative to the expected pseudo-bulk depth
        bulk_depth = p.depth_ratio * p.cells_per_sample * p.mean_umis * np.exp(p.cell_library_sd**2 / 2)
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
        depth = bulk_depth * rng.lognormal(0.0, p.bulk_depth_sd)
        mu_bulk_obs, noise_sc = mu_bulk, None
        if p.sample_noise_sd > 0:  # each profile its own gene noise, independently per modality
            mu_bulk_obs = mu_bulk * rng.lognormal(0.0, p.sample_noise_sd, size=g)
            mu_bulk_obs /= mu_bulk_obs.sum()
            noise_sc = rng.lognormal(0.0, p.sample_noise_sd, size=g)
        bulk_cols.append(_nb(rng, depth * mu_bulk_obs, p.bulk_dispersion))
        # Single cells: same types, sc capture + stress, ambient leakage, UMI library sizes.
        sc_prof = prof * np.exp(capture + stress_fc)
        sc_prof /= sc_prof.sum(axis=1, keepdims=True)
        sc_prof = (1.0 - amb_frac) * sc_prof + amb_frac * ambient
        sc_comp = proportions[d]
        if (sc_capture != 1).any():
            sc_comp = sc_comp * sc_capture / (sc_comp * sc_capture).sum()
        mu_pb = sc_comp @ sc_prof
        true_lfc[d] = np.log2(mu_bulk / mu_bulk.sum()) - np.log2(mu_pb / mu_pb.sum())
        if noise_sc is not None:
            sc_prof = sc_prof * noise_sc
            sc_prof /= sc_prof.sum(axis=1, keepdims=True)
        n_by_type = rng.multinomial(p.cells_per_sample, sc_comp)
        types = np.repeat(np.arange(p.n_cell_types), n_by_type)
        lib = p.mean_umis * rng.lognormal(0.0, p.cell_library_sd, size=types.size)
        mean = sc_prof[types] * lib[:, None]
        n_lowq = int(round(p.low_quality_fraction * types.size))
        lowq = rng.choice(types.size, size=n_lowq, replace=False) if n_lowq else np.array([], dtype=int)
        if n_lowq:  # broken cells: cytoplasmic mRNA lost, mitochondrial transcripts retained
            mean[lowq] *= 0.15
            mean[np.ix_(lowq, mito)] *= 20.0
        n_dbl = int(round(p.doublet_rate * types.size))
        dbl = np.array([], dtype=int)
        if n_dbl:  # a second cell in the droplet, of a type drawn from the captured composition
            healthy = np.setdiff1d(np.arange(types.size), lowq)
            dbl = np.sort(rng.choice(healthy, size=min(n_dbl, healthy.size), replace=False))
            partner = rng.choice(p.n_cell_types, size=dbl.size, p=sc_comp)
            mean[dbl] += sc_prof[partner] * (p.mean_umis * rng.lognormal(0.0, p.cell_library_sd, size=dbl.size))[:, None]
        counts = _nb(rng, mean, p.cell_dispersion)
        blocks.append(sp.csr_matrix(counts.astype(np.int32)))
        barcodes = [f"{sample}_c{i:05d}" for i in range(types.size)]
        truth_lowq += [barcodes[i] for i in sorted(lowq)]
        truth_doublets += [barcodes[i] for i in dbl]
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
    if p.preset:
        cells.uns["simulation"]["preset"] = p.preset
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
    affected = _affected_genes(
        genes, true_lfc.mean(axis=0), p, distortions, {ct: names(idx) for ct, idx in markers.items()}
    )
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
        "doublets": truth_doublets,
        "affected_genes": affected,
        "affected_definition": (
            "every planted gene, and every other gene whose expected log2(bulk / pseudo-bulk) expression "
            f"fraction, centred on the median gene and averaged over donors, is at least {p.truth_min_log2fc} "
            "in size; log2fc excludes per-sample noise and sampling"
        ),
        "donor_phenotype": dict(zip(donors, phenotype.tolist(), strict=True)),
    }
    return SimulatedData(
        cells=cells, bulk=bulk, samples=sample_table, proportions=props, truth=truth, params=p
    )


def _affected_genes(
    genes: list[str], lfc: np.ndarray, p: SimulationParams, distortions: dict, markers: dict[str, list[str]]
) -> dict[str, dict]:
    """Every affected gene -> ``{"class": distortion class, "log2fc": true log2 fold change bulk vs pseudo-bulk}``.

    The fold change is centred on the median gene (as DESeq2's size factors centre it). Planted genes are
    always listed; other genes when ``|log2fc| >= truth_min_log2fc``: cell-type markers (mRNA content and
    dissociation composition) as ``celltype_composition``, mitochondrial/ribosomal genes as ``housekeeping``, the
    rest (genes diluted by the planted ones) as ``other``.
    """
    lfc = lfc - np.median(lfc)
    cls: dict[str, str] = {}
    for name in ("dropout", "ambient", "stress", "capture_bias"):
        for gene in distortions[name]:
            cls.setdefault(gene, name)
    marker_set = {gene for m in markers.values() for gene in m}
    fixed = set(MITO_GENES) | set(RIBO_GENES)
    out: dict[str, dict] = {}
    for i, gene in enumerate(genes):
        if gene in cls:
            c = cls[gene]
        elif abs(lfc[i]) >= p.truth_min_log2fc:
            c = "celltype_composition" if gene in marker_set else "housekeeping" if gene in fixed else "other"
        else:
            continue
        out[gene] = {"class": c, "log2fc": round(float(lfc[i]), 4)}
    return out
