"""Methods paragraph and references for the stages that ran (pure functions returning HTML)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

#: key -> (citation, DOI)
REFERENCES: dict[str, tuple[str, str]] = {
    "multiqc": (
        "Ewels P, Magnusson M, Lundin S, Käller M. MultiQC: summarize analysis results for multiple tools "
        "and samples in a single report. Bioinformatics 32, 3047–3048 (2016).",
        "10.1093/bioinformatics/btw354",
    ),
    "nextflow": (
        "Di Tommaso P, Chatzou M, Floden EW, Barja PP, Palumbo E, Notredame C. Nextflow enables "
        "reproducible computational workflows. Nat Biotechnol 35, 316–319 (2017).",
        "10.1038/nbt.3820",
    ),
    "cibersort": (
        "Newman AM, Liu CL, Green MR, et al. Robust enumeration of cell subsets from tissue expression "
        "profiles. Nat Methods 12, 453–457 (2015).",
        "10.1038/nmeth.3337",
    ),
    "nnls": ("Lawson CL, Hanson RJ. Solving Least Squares Problems. Prentice-Hall (1974).", ""),
    "lin_ccc": (
        "Lin LI. A concordance correlation coefficient to evaluate reproducibility. Biometrics 45, "
        "255–268 (1989).",
        "10.2307/2532051",
    ),
    "nfcore": (
        "Ewels PA, Peltzer A, Fillinger S, et al. The nf-core framework for community-curated "
        "bioinformatics pipelines. Nat Biotechnol 38, 276–278 (2020).",
        "10.1038/s41587-020-0439-x",
    ),
    "anndata": (
        "Virshup I, Rybakov S, Theis FJ, Angerer P, Wolf FA. anndata: Access and store annotated data "
        "matrices. JOSS 9, 4371 (2024).",
        "10.21105/joss.04371",
    ),
    "tmm": (
        "Robinson MD, Oshlack A. A scaling normalization method for differential expression analysis of "
        "RNA-seq data. Genome Biol 11, R25 (2010).",
        "10.1186/gb-2010-11-3-r25",
    ),
    "mad": (
        "McCarthy DJ, Campbell KR, Lun ATL, Wills QF. Scater: pre-processing, quality control, "
        "normalization and visualization of single-cell RNA-seq data in R. Bioinformatics 33, 1179–1186 "
        "(2017).",
        "10.1093/bioinformatics/btw777",
    ),
    "pseudobulk": (
        "Squair JW, Gautier M, Kathe C, et al. Confronting false discoveries in single-cell "
        "differential expression. Nat Commun 12, 5692 (2021).",
        "10.1038/s41467-021-25960-2",
    ),
    "deseq2": (
        "Love MI, Huber W, Anders S. Moderated estimation of fold change and dispersion for RNA-seq data "
        "with DESeq2. Genome Biol 15, 550 (2014).",
        "10.1186/s13059-014-0550-8",
    ),
    "pydeseq2": (
        "Muzellec B, Teleńczuk M, Cabeli V, Andreux M. PyDESeq2: a python package for bulk RNA-seq "
        "differential expression analysis. Bioinformatics 39, btad547 (2023).",
        "10.1093/bioinformatics/btad547",
    ),
    "bh": (
        "Benjamini Y, Hochberg Y. Controlling the false discovery rate: a practical and powerful approach to "
        "multiple testing. J R Stat Soc B 57, 289–300 (1995).",
        "10.1111/j.2517-6161.1995.tb02031.x",
    ),
    "sklearn": (
        "Pedregosa F, Varoquaux G, Gramfort A, et al. Scikit-learn: machine learning in Python. "
        "JMLR 12, 2825–2830 (2011).",
        "",
    ),
    "sparsepca": (
        "Mairal J, Bach F, Ponce J, Sapiro G. Online dictionary learning for sparse coding. "
        "Proc ICML, 689–696 (2009).",
        "10.1145/1553374.1553463",
    ),
    "gsea": (
        "Subramanian A, Tamayo P, Mootha VK, et al. Gene set enrichment analysis: a knowledge-based "
        "approach for interpreting genome-wide expression profiles. PNAS 102, 15545–15550 (2005).",
        "10.1073/pnas.0506580102",
    ),
    "gseapy": (
        "Fang Z, Liu X, Peltz G. GSEApy: a comprehensive package for performing gene set enrichment "
        "analysis in Python. Bioinformatics 39, btac757 (2023).",
        "10.1093/bioinformatics/btac757",
    ),
    "xgboost": (
        "Chen T, Guestrin C. XGBoost: a scalable tree boosting system. Proc KDD, 785–794 (2016).",
        "10.1145/2939672.2939785",
    ),
    "shap": (
        "Lundberg SM, Lee S-I. A unified approach to interpreting model predictions. NeurIPS 30 (2017).",
        "",
    ),
    "treeshap": (
        "Lundberg SM, Erion G, Chen H, et al. From local explanations to global understanding with "
        "explainable AI for trees. Nat Mach Intell 2, 56–67 (2020).",
        "10.1038/s42256-019-0138-9",
    ),
    "pytorch": (
        "Paszke A, Gross S, Massa F, et al. PyTorch: an imperative style, high-performance deep learning "
        "library. NeurIPS 32 (2019).",
        "",
    ),
    "scarf": (
        "Bahri D, Jiang H, Tay Y, Metzler D. SCARF: self-supervised contrastive learning using random "
        "feature corruption. ICLR (2022).",
        "",
    ),
    "vime": (
        "Yoon J, Zhang Y, Jordon J, van der Schaar M. VIME: extending the success of self- and "
        "semi-supervised learning to tabular domain. NeurIPS 33 (2020).",
        "",
    ),
    "byol": (
        "Grill J-B, Strub F, Altché F, et al. Bootstrap your own latent: a new approach to self-supervised "
        "learning. NeurIPS 33 (2020).",
        "",
    ),
}

#: stage -> (sentence describing what it did, reference keys)
STAGE_METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "qc": (
        "Single cells were filtered per sample by median-absolute-deviation outlier rules on log total counts, "
        "log detected genes and the mitochondrial fraction [{mad}]; bulk libraries were checked for size, "
        "detected genes and replicate outliers.",
        ("mad",),
    ),
    "pseudobulk": (
        "Pseudo-bulk profiles were built by summing the raw counts of the QC-passing cells of each "
        "sample [{pseudobulk}], on the genes shared with the bulk matrix after identifier "
        "harmonisation; profiles are stored as AnnData [{anndata}].",
        ("pseudobulk", "anndata"),
    ),
    "metrics": (
        "Fidelity was measured on log-CPM (TMM-scaled where stated [{tmm}]) with Pearson and Spearman "
        "correlations of matched and unmatched bulk/pseudo-bulk pairs, PCA and sparse PCA "
        "[{sparsepca}; {sklearn}], and differential expression between modalities with PyDESeq2 "
        "[{pydeseq2}], an implementation of DESeq2 [{deseq2}], with Benjamini–Hochberg adjusted "
        "p-values [{bh}].",
        ("tmm", "sparsepca", "sklearn", "pydeseq2", "deseq2", "bh"),
    ),
    "enrich": (
        "Biological processes were tested by over-representation [{gseapy}] of the discordant genes against "
        "the tested genes (of the SHAP genes against the genes the classifier could choose from), and by a "
        "competitive preranked test whose null flips the modality labels within donor, so that correlated "
        "genes do not inflate significance (gene-permutation preranked enrichment [{gsea}] only when no "
        "profiles were given, flagged as not null-safe).",
        ("gsea", "gseapy"),
    ),
    "discriminate": (
        "An XGBoost classifier [{xgboost}] was trained to tell bulk from pseudo-bulk with "
        "donor-grouped cross-validation (feature selection fitted on training folds only), with "
        "bootstrap confidence intervals, a within-donor label-permutation test, logistic-regression "
        "and random-forest baselines [{sklearn}], and SHAP contributions [{shap}; {treeshap}].",
        ("xgboost", "sklearn", "shap", "treeshap"),
    ),
    "calibrate": (
        "A gene-wise correction of pseudo-bulk towards bulk was learned on training donors only and "
        "applied to held-out donors; the discriminator was re-run on calibrated pseudo-bulk with the "
        "same folds.",
        (),
    ),
    "deconvolve": (
        "Cell-type proportions of every bulk sample and of its pseudo-bulk were estimated from reference "
        "profiles of QC-passing cells (per-cell means per cell type, leaving each pair's donor out) by "
        "non-negative least squares [{nnls}] and by nu-support-vector regression on a marker signature, the "
        "core of CIBERSORT [{cibersort}; {sklearn}], also with the reference corrected by a calibration "
        "fitted on other folds' donors only; accuracy against known proportions was summarised by RMSE, "
        "Pearson r and Lin's concordance correlation coefficient [{lin_ccc}] with donor-bootstrap intervals.",
        ("nnls", "cibersort", "sklearn", "lin_ccc"),
    ),
    "ssl": (
        "Self-supervised encoders (SCARF [{scarf}], VIME [{vime}], BYOL [{byol}]) were pre-trained in PyTorch "
        "[{pytorch}] with donor-grouped splits and input preparation fitted on the pre-training split, then "
        "evaluated on phenotype prediction at increasing label fractions against supervised baselines.",
        ("scarf", "vime", "byol", "pytorch"),
    ),
}


def _version_note(versions: Mapping[str, Mapping[str, str]]) -> str:
    tools: dict[str, str] = {}
    for proc_tools in versions.values():
        for tool, ver in proc_tools.items():
            tools.setdefault(tool, ver)
    keep = [
        t
        for t in (
            "pbfidelity",
            "python",
            "pydeseq2",
            "xgboost",
            "scikit-learn",
            "gseapy",
            "torch",
            "anndata",
            "multiqc",
        )
        if t in tools
    ]
    return ", ".join(f"{t} {tools[t]}" for t in keep)


def methods_html(
    stages: Iterable[str], versions: Mapping[str, Mapping[str, str]], nextflow: bool = False
) -> str:
    """A methods paragraph for the stages that ran, numbered citations and a reference list."""
    order: list[str] = []

    def cite(key: str) -> str:
        if key not in order:
            order.append(key)
        return str(order.index(key) + 1)

    sentences = []
    for stage in stages:
        if stage not in STAGE_METHODS:
            continue
        text, keys = STAGE_METHODS[stage]
        sentences.append(escape(text).format(**{k: cite(k) for k in keys}))
    runner = (
        f"Nextflow [{cite('nextflow')}] following nf-core conventions [{cite('nfcore')}]"
        if nextflow
        else "the pbfidelity embedded runner (the same commands as its Nextflow pipeline)"
    )
    closing = (
        f"The analysis ran with {runner}, and this report was assembled with MultiQC [{cite('multiqc')}]."
    )
    note = _version_note(versions)
    if note:
        closing += f" Software versions: {escape(note)} (all tools are listed under Software Versions)."
    refs = "".join(
        f"<li>{escape(REFERENCES[k][0])}"
        + (
            f' <a href="https://doi.org/{REFERENCES[k][1]}">doi:{REFERENCES[k][1]}</a>'
            if REFERENCES[k][1]
            else ""
        )
        + "</li>"
        for k in order
    )
    return (
        f'<p class="pbf-methods">{" ".join(sentences)} {closing}</p>'
        f'<h4>References</h4><ol class="pbf-references">{refs}</ol>'
    )
