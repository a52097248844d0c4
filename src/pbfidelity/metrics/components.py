"""PCA and sparse PCA of the combined standardised log-CPM matrix, and which component separates modality.

Genes are centred and scaled over all primary profiles (zero-variance genes dropped). PCA: scikit-learn
``PCA(svd_solver="full")``. Sparse PCA: scikit-learn ``SparsePCA(method="cd", alpha, ridge_alpha=0.01,
max_iter, tol=1e-4, random_state=seed)`` on genes scaled to unit norm, so that a gene's loading is non-zero
roughly when its |correlation| with the component exceeds ``alpha`` (default 0.5). Sparse loadings are
normalised to unit length and scores are the projections onto them; their variance explained is the
"adjusted" variance of Zou, Hastie & Tibshirani (2006): the squared diagonal of R in the QR decomposition of
the scores, over the total variance.

Per component, bulk vs pseudo-bulk scores are compared with a Wilcoxon signed-rank test on matched pairs when
there are at least 6 pairs (the fewest that can reach p < 0.05), else a Mann-Whitney U test; p-values are BH-adjusted across the components of one
method. ``auc`` is P(score_bulk > score_pseudobulk); the separating component is the one with the smallest
adjusted p (ties: larger |auc - 0.5|), and ``separates`` says whether its adjusted p is below 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, mannwhitneyu, wilcoxon

MIN_PAIRED = 6


@dataclass
class ComponentResult:
    method: str  # "pca" | "sparse_pca"
    scores: np.ndarray  # profiles x components
    loadings: pd.DataFrame  # genes x components
    table: pd.DataFrame  # per component: variance, test, auc, padj


def standardise(logx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale columns to unit variance; returns the matrix and the mask of kept columns."""
    sd = logx.std(axis=0)
    keep = sd > 1e-12
    z = (logx[:, keep] - logx[:, keep].mean(axis=0)) / sd[keep]
    return z, keep


def _labels(prefix: str, k: int) -> list[str]:
    return [f"{prefix}{i + 1}" for i in range(k)]


def modality_tests(scores: np.ndarray, is_bulk: np.ndarray, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per column of ``scores``: test, statistic, p, BH-adjusted p and AUC of bulk vs pseudo-bulk."""
    rows = []
    paired = len(pairs) >= MIN_PAIRED
    for k in range(scores.shape[1]):
        s = scores[:, k]
        b, p = s[is_bulk], s[~is_bulk]
        u = mannwhitneyu(b, p, alternative="two-sided")
        auc = float(u.statistic / (b.size * p.size))
        if np.ptp(s) == 0:
            rows.append({"test": "none", "statistic": np.nan, "p_value": 1.0, "auc": 0.5})
            continue
        if paired:
            d = s[pairs["bulk"].to_numpy()] - s[pairs["pseudobulk"].to_numpy()]
            if np.all(d == 0):
                rows.append({"test": "wilcoxon_paired", "statistic": 0.0, "p_value": 1.0, "auc": auc})
                continue
            w = wilcoxon(d)
            rows.append(
                {
                    "test": "wilcoxon_paired",
                    "statistic": float(w.statistic),
                    "p_value": float(w.pvalue),
                    "auc": auc,
                }
            )
        else:
            rows.append(
                {
                    "test": "mann_whitney",
                    "statistic": float(u.statistic),
                    "p_value": float(u.pvalue),
                    "auc": auc,
                }
            )
    out = pd.DataFrame(rows)
    out["padj"] = false_discovery_control(out["p_value"].to_numpy()) if len(out) else []
    return out


def pca(z: np.ndarray, genes: pd.Index, n_components: int) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    from sklearn.decomposition import PCA

    k = max(1, min(n_components, z.shape[0] - 1, z.shape[1]))
    model = PCA(n_components=k, svd_solver="full").fit(z)
    load = pd.DataFrame(model.components_.T, index=genes, columns=_labels("PC", k))
    return model.transform(z), load, model.explained_variance_ratio_


def sparse_pca(
    z: np.ndarray, genes: pd.Index, n_components: int, alpha: float, seed: int, max_iter: int = 200
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Sparse PCA (see module docstring); returns scores, unit-norm loadings and adjusted variance ratios."""
    from sklearn.decomposition import SparsePCA

    n = z.shape[0]
    k = max(1, min(n_components, n - 1, z.shape[1]))
    unit = z / np.sqrt(n)
    model = SparsePCA(
        n_components=k,
        alpha=alpha,
        ridge_alpha=0.01,
        method="cd",
        max_iter=max_iter,
        tol=1e-4,
        random_state=seed,
    ).fit(unit)
    comp = model.components_.copy()
    norm = np.linalg.norm(comp, axis=1)
    comp[norm > 0] /= norm[norm > 0, None]
    scores = z @ comp.T
    total = float((z**2).sum())
    adj = np.zeros(k)
    live = norm > 0
    if live.any() and total > 0:
        r = np.linalg.qr(scores[:, live], mode="r")
        adj[live] = np.diag(r) ** 2 / total
    load = pd.DataFrame(comp.T, index=genes, columns=_labels("sPC", k))
    return scores, load, adj


def top_variance(logx: np.ndarray, keep: np.ndarray, max_genes: int) -> np.ndarray:
    """Mask (over the kept columns) of the ``max_genes`` columns with the largest log-CPM variance."""
    v = logx[:, keep].var(axis=0)
    if max_genes <= 0 or v.size <= max_genes:
        return np.ones(v.size, bool)
    order = np.lexsort((np.arange(v.size), -v))  # ties: column order
    mask = np.zeros(v.size, bool)
    mask[order[:max_genes]] = True
    return mask


def component_analysis(
    logx: np.ndarray,
    genes: pd.Index,
    is_bulk: np.ndarray,
    pairs: pd.DataFrame,
    n_components: int = 10,
    spca_alpha: float = 0.5,
    seed: int = 42,
    spca_max_genes: int = 5000,
    spca_candidates: np.ndarray | None = None,
) -> dict[str, ComponentResult]:
    """PCA and sparse PCA with per-component modality tests (keys ``pca`` and ``sparse_pca``).

    Sparse PCA runs on the ``spca_max_genes`` genes with the largest log-CPM variance (0 = all genes) among
    ``spca_candidates`` (a gene mask, e.g. the genes with enough counts for DE; default all): its per-gene
    lasso fits dominate the run time, and low-count genes have a large log-CPM variance from noise alone.
    """
    z, keep = standardise(logx)
    kept = pd.Index(genes[keep], name="gene")
    cand = keep if spca_candidates is None else keep & np.asarray(spca_candidates, bool)
    if not cand.any():
        cand = keep
    hv = top_variance(logx, cand, spca_max_genes)
    hv = np.isin(np.flatnonzero(keep), np.flatnonzero(cand)[hv])
    out = {}
    for method, (scores, load, var) in {
        "pca": pca(z, kept, n_components),
        "sparse_pca": sparse_pca(z[:, hv], kept[hv], n_components, spca_alpha, seed),
    }.items():
        t = modality_tests(scores, is_bulk, pairs)
        t.insert(0, "component", list(load.columns))
        t.insert(1, "variance_explained", var)
        t.insert(2, "n_nonzero_genes", (load.to_numpy() != 0).sum(axis=0))
        out[method] = ComponentResult(method, scores, load, t)
    return out


def separating_component(table: pd.DataFrame, alpha: float = 0.05) -> dict:
    """The component whose scores differ most between modalities (see module docstring)."""
    if table.empty:
        return {"component": None, "padj": None, "auc": None, "separates": False}
    order = table.assign(_sep=-(table["auc"] - 0.5).abs()).sort_values(["padj", "_sep"], kind="stable")
    best = order.iloc[0]
    return {
        "component": str(best["component"]),
        "index": int(order.index[0]),
        "padj": float(best["padj"]),
        "auc": float(best["auc"]),
        "variance_explained": float(best["variance_explained"]),
        "n_nonzero_genes": int(best["n_nonzero_genes"]),
        "separates": bool(best["padj"] < alpha),
    }
