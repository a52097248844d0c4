"""Rank genes by out-of-fold SHAP contributions (XGBoost ``pred_contribs``).

``mean_abs_shap`` averages |contribution| over every held-out profile (zero in folds where the gene was not
selected). ``direction`` is the modality that higher expression of the gene pushes a profile towards: the
sign of the covariance between the gene's log-CPM and its contribution across held-out profiles (positive
means higher expression looks like bulk). Genes with no contribution fall back to the sign of the mean log-CPM
difference between bulk and pseudo-bulk. ``log_ratio`` is that difference (bulk minus pseudo-bulk, natural log).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def gene_importance(contrib: np.ndarray, x: np.ndarray, y: np.ndarray, genes: np.ndarray) -> pd.DataFrame:
    """All genes ranked by mean |SHAP|: gene, rank, mean_abs_shap, mean_shap, direction, log_ratio."""
    y = np.asarray(y).astype(bool)
    mean_abs = np.abs(contrib).mean(axis=0)
    xc = x - x.mean(axis=0)
    cov = (xc * (contrib - contrib.mean(axis=0))).mean(axis=0)
    log_ratio = x[y].mean(axis=0) - x[~y].mean(axis=0)
    sign = np.where(np.abs(cov) > 0, np.sign(cov), np.sign(log_ratio))
    table = pd.DataFrame(
        {
            "gene": np.asarray(genes).astype(str),
            "mean_abs_shap": mean_abs,
            "mean_shap": contrib.mean(axis=0),
            "direction": np.where(sign >= 0, "bulk", "pseudobulk"),
            "log_ratio": log_ratio,
        }
    )
    table = table.sort_values(["mean_abs_shap", "gene"], ascending=[False, True], kind="stable")
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def top_genes(importance: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` best-ranked genes with a non-zero contribution (fewer when fewer genes were used)."""
    used = importance[importance["mean_abs_shap"] > 0]
    return used.head(n).reset_index(drop=True)


def signed_values(
    contrib: np.ndarray,
    x: np.ndarray,
    genes: np.ndarray,
    profiles: np.ndarray,
    modality: np.ndarray,
    top: list[str],
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per held-out profile and top gene: its signed SHAP value and the gene's standardised log-CPM.

    Long table (gene, rank, profile, modality, shap, expression_z) for a beeswarm: positive SHAP pushes a
    profile towards bulk. ``expression_z`` centres and scales the gene over the profiles shown (0 when constant).
    ``rows`` restricts to evaluation profiles (pseudo-replicates are not scored)."""
    genes = np.asarray(genes).astype(str)
    rows = np.ones(contrib.shape[0], dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    col = {g: i for i, g in enumerate(genes)}
    parts = []
    for rank, g in enumerate(top, start=1):
        j = col[g]
        v = x[rows, j]
        sd = v.std()
        z = (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)
        parts.append(
            pd.DataFrame(
                {
                    "gene": g,
                    "rank": rank,
                    "profile": np.asarray(profiles)[rows].astype(str),
                    "modality": np.asarray(modality)[rows].astype(str),
                    "shap": contrib[rows, j],
                    "expression_z": z,
                }
            )
        )
    cols = ["gene", "rank", "profile", "modality", "shap", "expression_z"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
