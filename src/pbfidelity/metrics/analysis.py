"""All fidelity metrics of one dataset, from a :class:`~pbfidelity.metrics.selection.Comparison` (no files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pbfidelity.metrics import components as comps
from pbfidelity.metrics import correlation as corr
from pbfidelity.metrics.annotation import gene_attributes
from pbfidelity.metrics.attributes import attribute_bias
from pbfidelity.metrics.de import de_definition, run_deseq2, volcano_points, well_measured
from pbfidelity.metrics.genes import gene_bias, mean_density
from pbfidelity.metrics.overlap import selection_overlap
from pbfidelity.metrics.selection import Comparison
from pbfidelity.normalize import cpm, tmm_factors


@dataclass(frozen=True)
class MetricsParams:
    normalisation: str = "logcpm"  # or "tmm_logcpm"
    alpha: float = 0.05
    lfc_threshold: float = 1.0
    n_components: int = 10
    spca_alpha: float = 0.5
    spca_max_genes: int = 5000
    min_count: int = 10
    n_permutations: int = 999
    n_cpus: int = 1
    de_method: str = "deseq2-blocked"
    seed: int = 42


@dataclass
class MetricsResult:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    pearson: np.ndarray | None = None
    profiles: pd.Index | None = None
    donors: np.ndarray | None = None  # donor of each profile (rows of ``pearson``)


def compute_metrics(
    comp: Comparison, params: MetricsParams = MetricsParams(), annotation: Path | None = None
) -> MetricsResult:
    """Correlations, gene biases, PCA/sparse PCA, DESeq2, overlap and attribute bias for one comparison."""
    rng = np.random.default_rng(params.seed)
    factors = tmm_factors(comp.counts) if params.normalisation == "tmm_logcpm" else None
    c = cpm(comp.counts, factors)
    logx = np.log1p(c)
    obs, pairs, is_bulk = comp.obs, comp.pairs, comp.is_bulk
    profiles = pd.Index(obs.index.astype(str))
    modality = obs["modality"].to_numpy()

    pair_tab, pe, sr = corr.pair_table(logx, profiles, modality, obs["sample"].to_numpy())
    kinds = corr.kind_summary(pair_tab)
    mp = corr.matched_pair_table(logx, pairs, pe, sr)
    b_idx, p_idx = pairs["bulk"].to_numpy(), pairs["pseudobulk"].to_numpy()
    contrast = corr.matched_contrast(pe[np.ix_(b_idx, p_idx)], params.n_permutations, rng)
    ci = corr.bootstrap_ci(mp["pearson"].to_numpy(), rng=rng)

    bias = gene_bias(c, comp.counts, is_bulk, pairs, comp.genes)
    density = mean_density(bias)
    pcs = comps.component_analysis(
        logx,
        comp.genes,
        is_bulk,
        pairs,
        params.n_components,
        params.spca_alpha,
        params.seed,
        params.spca_max_genes,
        well_measured(comp.counts, is_bulk, params.min_count),
    )
    del c, logx  # the DE fit works on the counts: release the two normalised copies first
    de, design = run_deseq2(
        comp.counts, comp.genes, obs, params.alpha, params.lfc_threshold, params.n_cpus, params.min_count,
        params.de_method,
    )
    de_genes = de.loc[de["direction"] != "ns", "gene"]
    sep = {m: comps.separating_component(r.table) for m, r in pcs.items()}
    sp_load = pcs["sparse_pca"].loadings
    sel = (
        sp_load.index[sp_load[sep["sparse_pca"]["component"]] != 0] if sep["sparse_pca"]["component"] else []
    )
    universe = sp_load.index.intersection(de.dropna(subset=["pvalue"])["gene"])
    overlap = selection_overlap(sel, de_genes, universe)
    attrs = gene_attributes(comp.genes, annotation)
    attr_cat, attr_tests = attribute_bias(bias, de, attrs)

    scores = []
    for m, r in pcs.items():
        k = min(3, r.scores.shape[1])
        s = pd.DataFrame(r.scores[:, :k], index=profiles, columns=[f"comp{i + 1}" for i in range(k)])
        s.insert(0, "method", m)
        scores.append(s.assign(modality=modality, sample=obs["sample"].to_numpy()))
    comp_table = pd.concat([r.table.assign(method=m) for m, r in pcs.items()], ignore_index=True)
    comp_table = comp_table[["method", *[c for c in comp_table.columns if c != "method"]]]
    loadings = pcs["sparse_pca"].loadings
    nonzero = loadings.loc[(loadings != 0).any(axis=1)]

    n_de = int(len(de_genes))
    summary = {
        "dataset": comp.dataset,
        "pb_method": comp.pb_method,
        "normalisation": params.normalisation,
        "n_bulk": comp.n_bulk,
        "n_pseudobulk": comp.n_pseudobulk,
        "n_matched_pairs": int(len(pairs)),
        "n_genes": int(len(comp.genes)),
        "excluded": comp.excluded,
        "bootstrap_handling": "bootstrap pseudo-replicates (pb_method=bootstrap, replicate>0) are excluded from "
        "every analysis: they resample one sample's cells and are not independent samples",
        "matched_pair_r": contrast["matched_mean"],
        "matched_pair_r_ci95": list(ci),
        "matched_pair_spearman": float(mp["spearman"].mean()) if len(mp) else None,
        "unmatched_pair_r": contrast["unmatched_mean"],
        "matched_minus_unmatched_r": contrast["difference"],
        "matched_vs_unmatched_p": contrast["p_value"],
        "matched_vs_unmatched_permutations": int(contrast["n_permutations"]),
        "within_bulk_r": _kind_mean(kinds, "within_bulk"),
        "within_pseudobulk_r": _kind_mean(kinds, "within_pseudobulk"),
        "ccc_mean": float(mp["ccc"].mean()) if len(mp) else None,
        "rmse_mean": float(mp["rmse"].mean()) if len(mp) else None,
        "de_design": design,
        "de_alpha": params.alpha,
        "de_lfc_threshold": params.lfc_threshold,
        "de_definition": de_definition(params.alpha, params.lfc_threshold),
        "n_de": n_de,
        "n_de_bulk_up": int((de["direction"] == "bulk_up").sum()),
        "n_de_pseudobulk_up": int((de["direction"] == "pseudobulk_up").sum()),
        "n_tested": int(de["pvalue"].notna().sum()),
        "separating_component": sep["sparse_pca"]["component"] if sep["sparse_pca"]["separates"] else None,
        "separating_components": sep,
        "spca_alpha": params.spca_alpha,
        "spca_genes": int(len(sp_load)),
        "de_min_count": params.min_count,
        "spca_de_overlap": overlap,
        "f1_overlap": overlap["f1"],
        "bias_basis": bias.attrs.get("bias_basis"),
        "median_abs_log2_bias": float(bias["log2_bias"].abs().median()),
        "seed": params.seed,
    }
    tables = {
        "correlation_pairs": pair_tab,
        "correlation_summary": kinds.reset_index(),
        "matched_pairs": mp,
        "gene_bias": bias.reset_index(),
        "gene_mean_density": density,
        "components": comp_table,
        "component_scores": pd.concat(scores).rename_axis("profile").reset_index(),
        "sparse_loadings": nonzero.reset_index(),
        "de_results": de,
        "volcano": volcano_points(de, seed=params.seed),
        "gene_attribute_bias": attr_cat,
        "gene_attribute_tests": attr_tests,
    }
    return MetricsResult(tables=tables, summary=summary, pearson=pe, profiles=profiles,
                         donors=obs["donor"].astype(str).to_numpy())


def _kind_mean(kinds: pd.DataFrame, kind: str) -> float | None:
    return float(kinds.loc[kind, "pearson_mean"]) if kind in kinds.index else None
