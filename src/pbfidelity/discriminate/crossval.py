"""Cross-validation on donor-grouped folds with training-fold-only feature selection.

Gene selection (top variance on the training fold's log-CPM, labels unused) and any scaling happen inside
each fold; held-out donors never influence what the model sees. Scores are pooled out of fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pbfidelity.discriminate.models import FitPredict
from pbfidelity.parallel import parallel_map

#: given (train rows, test rows) return the (train, test) feature matrices over all genes; lets ``calibrate``
#: transform pseudo-bulk inside each fold
FoldData = Callable[[np.ndarray, np.ndarray], "tuple[np.ndarray, np.ndarray]"]

@dataclass
class CVResult:
    """Out-of-fold scores (P(bulk)) and, when asked, out-of-fold SHAP contributions (rows x all genes)."""

    scores: np.ndarray
    folds: np.ndarray
    contributions: np.ndarray | None
    selected: list[np.ndarray]  # gene indices used in each fold


@dataclass
class FoldSplit:
    """One fold's training/test rows and the per-gene variance of its training rows (labels unused), so that
    reruns on the same folds (label permutations, learning-curve sizes) select genes without recomputing it."""

    k: int
    train: np.ndarray
    test: np.ndarray
    var: np.ndarray


def split_folds(x: np.ndarray, folds: np.ndarray) -> list[FoldSplit]:
    """:class:`FoldSplit` of every fold of ``folds`` on the features ``x``."""
    out = []
    for k in np.unique(folds):
        train = np.flatnonzero(folds != k)
        out.append(FoldSplit(int(k), train, np.flatnonzero(folds == k), x[train].var(axis=0)))
    return out


def top_variance_genes(x_train: np.ndarray | None, n_genes: int | None, var: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n_genes`` most variable genes of the training rows (ties broken by gene order).

    Genes that never vary (e.g. zero everywhere in training) are never selected. ``var``: the training rows'
    per-gene variance, when already known.
    """
    var = x_train.var(axis=0) if var is None else var
    varying = np.flatnonzero(var > 0)
    if n_genes is None or n_genes >= varying.size:
        return varying
    order = np.argsort(-var[varying], kind="stable")[:n_genes]
    return np.sort(varying[order])


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    model: FitPredict,
    n_genes: int | None,
    seed: int,
    contributions: bool = False,
    fold_data: FoldData | None = None,
    threads: int = 1,
    splits: list[FoldSplit] | None = None,
) -> CVResult:
    """Fit ``model`` on each training fold, score its held-out donors; pool the out-of-fold scores.

    ``threads`` > 1 fits the folds concurrently (:func:`pbfidelity.parallel.parallel_map`); the result is identical. ``splits``
    (:func:`split_folds` of ``x`` and ``folds``, not with ``fold_data``) reuses the folds' gene variances.

    A training fold with a single class cannot be fitted; its held-out rows get the training-class rate.
    """
    n, g = x.shape
    scores = np.full(n, np.nan)
    contrib = np.zeros((n, g)) if contributions else None

    if splits is not None and fold_data is not None:
        raise ValueError("splits cannot be combined with fold_data (the features differ per fold)")
    by_k = {sp.k: sp for sp in splits} if splits is not None else {}

    def one_fold(k):
        k = int(k)
        if k in by_k:  # variances known: index only the selected genes' columns
            sp = by_k[k]
            train, test = sp.train, sp.test
            genes = top_variance_genes(None, n_genes, sp.var)
            x_train, x_test = x[np.ix_(train, genes)], x[np.ix_(test, genes)]
        else:
            test = np.flatnonzero(folds == k)
            train = np.flatnonzero(folds != k)
            x_train, x_test = (x[train], x[test]) if fold_data is None else fold_data(train, test)
            genes = top_variance_genes(x_train, n_genes)
            x_train, x_test = x_train[:, genes], x_test[:, genes]
        if np.unique(y[train]).size < 2 or genes.size == 0:
            return test, genes, float(np.mean(y[train])), None
        s, c = model(x_train, y[train], x_test, seed + k, contributions)
        return test, genes, s, c

    selected: list[np.ndarray] = []
    for test, genes, s, c in parallel_map(one_fold, np.unique(folds), threads):
        selected.append(genes)
        scores[test] = s
        if contrib is not None and c is not None:
            contrib[np.ix_(test, genes)] = c
    return CVResult(scores=scores, folds=np.asarray(folds), contributions=contrib, selected=selected)
