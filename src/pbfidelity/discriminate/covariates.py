"""Technical covariates per profile and how far they alone separate bulk from pseudo-bulk.

Covariates: log10 library size, spike-in %, mitochondrial %, ribosomal % and genes detected. They come from
the profiles' ``obs`` (written by the pseudobulk stage over all genes before spike-ins and other classes were
excluded) when present, else from the counts and gene names (``ERCC-`` spike-ins, ``MT-`` mitochondrial,
``RPL``/``RPS`` ribosomal). The baseline is a standardised logistic regression on all covariates, fitted on the
same donor-grouped training folds as the discriminator; each covariate alone is scored the same way.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pbfidelity.discriminate.profiles import ProfileSet
from pbfidelity.discriminate.stats import auroc

COVARIATES = ("log10_library_size", "pct_spike_in", "pct_mito", "pct_ribo", "n_genes_detected")
_PATTERNS = {
    "pct_spike_in": re.compile(r"^ERCC-\d+", re.I),
    "pct_mito": re.compile(r"^MT-", re.I),
    "pct_ribo": re.compile(r"^RP[LS]\d", re.I),
}


def technical_covariates(ps: ProfileSet) -> pd.DataFrame:
    """One row per profile of ``ps``: the five covariates and where each came from (``source`` in attrs)."""
    obs = ps.obs
    counts = ps.counts
    lib = counts.sum(axis=1)
    out = pd.DataFrame(index=obs.index)
    source = {}
    raw_lib = pd.to_numeric(obs["n_counts"], errors="coerce") if "n_counts" in obs.columns else None
    if raw_lib is not None and raw_lib.notna().all():
        out["log10_library_size"], source["log10_library_size"] = (
            np.log10(np.maximum(raw_lib, 1)),
            "obs n_counts",
        )
    else:
        out["log10_library_size"], source["log10_library_size"] = np.log10(np.maximum(lib, 1)), "counts"
    genes = np.asarray(ps.genes).astype(str)
    names = genes
    for col, pat in _PATTERNS.items():
        if col in obs.columns and pd.to_numeric(obs[col], errors="coerce").notna().all():
            out[col], source[col] = pd.to_numeric(obs[col]).to_numpy(), f"obs {col}"
        else:
            hit = np.array([bool(pat.match(g)) for g in names])
            out[col] = 100 * counts[:, hit].sum(axis=1) / np.maximum(lib, 1)
            source[col] = f"counts ({int(hit.sum())} genes by name)"
    if (
        "n_genes_detected" in obs.columns
        and pd.to_numeric(obs["n_genes_detected"], errors="coerce").notna().all()
    ):
        out["n_genes_detected"], source["n_genes_detected"] = (
            pd.to_numeric(obs["n_genes_detected"]).to_numpy(),
            "obs",
        )
    else:
        out["n_genes_detected"], source["n_genes_detected"] = (counts > 0).sum(axis=1), "counts"
    out.attrs["source"] = source
    return out


def _cv_scores(features: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    scores = np.full(len(y), np.nan)
    for k in np.unique(folds):
        tr, te = folds != k, folds == k
        if np.unique(y[tr]).size < 2:
            scores[te] = float(np.mean(y[tr]))
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        model.fit(features[tr], y[tr])
        scores[te] = model.predict_proba(features[te])[:, 1]
    return scores


def covariate_baseline(
    cov: pd.DataFrame, y: np.ndarray, folds: np.ndarray, evaluate: np.ndarray
) -> tuple[np.ndarray, dict[str, float]]:
    """Held-out scores of the all-covariate model, and each covariate's held-out AUROC alone.

    ``evaluate`` marks the rows scored (primary profiles); every row of a training fold is used for fitting.
    Constant covariates (e.g. no spike-ins anywhere) are left out of the model and get AUROC 0.5.
    """
    x = cov[list(COVARIATES)].to_numpy(dtype=float)
    varying = np.nanstd(x, axis=0) > 0
    x = np.nan_to_num(x)
    scores = _cv_scores(x[:, varying], y, folds) if varying.any() else np.full(len(y), 0.5)
    single = {}
    for j, name in enumerate(COVARIATES):
        s = _cv_scores(x[:, [j]], y, folds) if varying[j] else np.full(len(y), 0.5)
        single[name] = auroc(y[evaluate], s[evaluate])
    return scores, single
