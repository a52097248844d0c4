"""Differential expression bulk vs pseudo-bulk with pydeseq2 (DESeq2's model in Python).

Design ``~ donor + modality`` when every donor has profiles of both modalities and the design leaves residual
degrees of freedom (paired), else ``~ modality``. The contrast is bulk over pseudo-bulk, so a positive
``log2FoldChange`` means higher in bulk. A discordant gene is defined by a *thresholded* test: the Wald test of
H0 ``|log2FC| <= lfc_threshold`` against ``|log2FC| > lfc_threshold`` (pydeseq2 ``lfc_null=lfc_threshold``,
``alt_hypothesis="greaterAbs"``, DESeq2's ``lfcThreshold``), so a gene is ``bulk_up`` / ``pseudobulk_up`` when
its thresholded ``padj < alpha`` (defaults 0.05 and 1), else ``ns``. Cutting a point-null test by |LFC| afterwards
does not control the error rate of that claim; the point-null p-values stay in ``pvalue_point``/``padj_point``.
``lfc_threshold = 0`` gives the point-null test. genes whose padj pydeseq2 leaves
undefined (independent filtering, Cook's outliers) or that fail the low-count pre-filter are ``ns``. Only primary profiles enter (bootstrap
pseudo-replicates are excluded: they are not independent samples).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from pbfidelity.memory import release

DE_COLUMNS = [
    "gene",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "direction",
    "pvalue_point",
    "padj_point",
    "stat_thresholded",
]


#: how a discordant gene is defined (written into the summary and the report)
def de_definition(alpha: float, lfc_threshold: float) -> str:
    if lfc_threshold > 0:
        return (
            f"thresholded DESeq2 Wald test of |log2FC| > {lfc_threshold:g} (pydeseq2 lfc_null={lfc_threshold:g}, "
            f"alt_hypothesis='greaterAbs'), BH padj < {alpha:g}"
        )
    return f"DESeq2 Wald test of log2FC = 0, BH padj < {alpha:g}"


log = logging.getLogger("pbfidelity.metrics")


def choose_design(obs: pd.DataFrame) -> str:
    """``~ donor + modality`` when paired (see module docstring), else ``~ modality``."""
    per_donor = obs.groupby("donor", observed=True)["modality"].nunique()
    n_donors = int(per_donor.size)
    paired = bool((per_donor == 2).all()) and n_donors >= 2 and len(obs) > n_donors + 1
    return "~ donor + modality" if paired else "~ modality"


def classify(table: pd.DataFrame, alpha: float, lfc_threshold: float) -> pd.Series:
    sig = (table["padj"] < alpha) & (table["log2FoldChange"].abs() > lfc_threshold)
    return pd.Series(
        np.where(
            sig & (table["log2FoldChange"] > 0),
            "bulk_up",
            np.where(sig & (table["log2FoldChange"] < 0), "pseudobulk_up", "ns"),
        ),
        index=table.index,
    )


def well_measured(counts: np.ndarray, is_bulk: np.ndarray, min_count: int) -> np.ndarray:
    """Genes with >= ``min_count`` counts in at least as many profiles as the smaller modality has."""
    if min_count <= 0:
        return np.ones(counts.shape[1], bool)
    smallest = int(min(is_bulk.sum(), (~is_bulk).sum()))
    return (counts >= min_count).sum(axis=0) >= smallest


def run_deseq2(
    counts: np.ndarray,
    genes: pd.Index,
    obs: pd.DataFrame,
    alpha: float = 0.05,
    lfc_threshold: float = 1.0,
    n_cpus: int = 1,
    min_count: int = 10,
    method: str = "deseq2-blocked",
) -> tuple[pd.DataFrame, str]:
    """DESeq2 Wald test of modality; returns the DE table (``DE_COLUMNS``, every gene) and the design used.

    As in the DESeq2 vignette, only genes with at least ``min_count`` counts in at least as many profiles as
    the smaller modality has are tested (0 = test all); the others are reported untested (NaN, ``ns``).
    ``method``: ``deseq2-full`` (pydeseq2's per-gene solvers, cost ~ donors^3 per gene) or ``deseq2-blocked``
    (the same model solved with the donor-block structure of the design, :mod:`pbfidelity.metrics.blocked`).
    """
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    design = choose_design(obs)
    donors = {d: f"d{i}" for i, d in enumerate(sorted(obs["donor"].unique()))}  # formula-safe levels
    meta = pd.DataFrame(
        {
            "modality": pd.Categorical(obs["modality"].to_numpy(), categories=["pseudobulk", "bulk"]),
            "donor": obs["donor"].map(donors).to_numpy(),
        },
        index=[f"p{i}" for i in range(len(obs))],
    )
    tested = well_measured(counts, (obs["modality"] == "bulk").to_numpy(), min_count)
    names = np.array([f"g{i}" for i in range(len(genes))])
    cdf = pd.DataFrame(np.rint(counts[:, tested]).astype(np.int64), index=meta.index, columns=names[tested])
    from threadpoolctl import threadpool_limits

    if method == "deseq2-blocked" and design != "~ modality":
        from pbfidelity.metrics.blocked import DonorBlockInference

        inference = DonorBlockInference(pd.factorize(meta["donor"])[0], n_cpus=n_cpus)
    elif method in ("deseq2-full", "deseq2-blocked"):
        inference = DefaultInference(n_cpus=n_cpus)
    else:
        raise ValueError(f"unknown DE method {method!r}")
    # pydeseq2 solves thousands of tiny per-gene problems: multi-threaded BLAS only adds overhead (~8x slower).
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(
            counts=cdf, metadata=meta, design=design, refit_cooks=True, inference=inference, quiet=True
        )
        del cdf  # pydeseq2 holds its own copy of the counts
        dds.deseq2()
        stats = DeseqStats(
            dds, contrast=["modality", "bulk", "pseudobulk"], alpha=alpha, inference=inference, quiet=True
        )
        stats.summary()
        point = stats.results_df[["stat", "pvalue", "padj"]].copy()
        if lfc_threshold > 0:
            stats.summary(lfc_null=lfc_threshold, alt_hypothesis="greaterAbs")
    res = stats.results_df.reindex(names)
    # the fitted AnnData (counts, means, Cook's distances, hat diagonals: several profiles x genes arrays) sits
    # in reference cycles: free it now, not at some later collection while the next steps allocate
    del dds, stats
    release()
    point = point.reindex(names)
    res.index = pd.Index(genes, name="gene")
    table = res[["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]].astype(float)
    table["direction"] = classify(table, alpha, lfc_threshold)
    # ``stat`` stays the point-null Wald statistic: a continuous ranking for preranked enrichment (the
    # thresholded statistic is 0 for every gene within the threshold); ``stat_thresholded`` keeps the other
    table["stat_thresholded"] = table["stat"]
    table["stat"] = point["stat"].to_numpy(dtype=float)
    table["pvalue_point"] = point["pvalue"].to_numpy(dtype=float)
    table["padj_point"] = point["padj"].to_numpy(dtype=float)
    table = table.reset_index()
    return table[DE_COLUMNS], design


def volcano_points(de: pd.DataFrame, max_ns: int = 1500, seed: int = 42) -> pd.DataFrame:
    """Volcano data: every DE gene plus a seeded random sample of at most ``max_ns`` non-significant genes."""
    ok = de.dropna(subset=["log2FoldChange", "pvalue"])
    sig, ns = ok[ok["direction"] != "ns"], ok[ok["direction"] == "ns"]
    if len(ns) > max_ns:
        ns = ns.sample(n=max_ns, random_state=seed).sort_index()
    out = pd.concat([sig, ns]).sort_index()
    out = out.assign(neg_log10_pvalue=-np.log10(np.clip(out["pvalue"].to_numpy(), 1e-300, 1.0)))
    return out[["gene", "log2FoldChange", "neg_log10_pvalue", "padj", "direction"]]
