"""Proportions of one mixture from a signature matrix: NNLS and nu-SVR (the core of CIBERSORT).

Both take ``signature`` (genes x cell types, linear scale) and ``mixture`` (genes, linear scale, same genes)
and return fractions summing to 1 (all zeros only when nothing fits).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import nnls

METHODS = ("nnls", "svr")
NUS = (0.25, 0.5, 0.75)


def _normalise(w: np.ndarray) -> np.ndarray:
    w = np.maximum(np.asarray(w, dtype=np.float64), 0.0)
    total = w.sum()
    return w / total if total > 0 else w


def nnls_proportions(signature: np.ndarray, mixture: np.ndarray) -> np.ndarray:
    """Non-negative least squares (``scipy.optimize.nnls``) coefficients, normalised to fractions."""
    coef, _ = nnls(
        np.asarray(signature, dtype=np.float64), np.asarray(mixture, dtype=np.float64), maxiter=5000
    )
    return _normalise(coef)


def svr_proportions(
    signature: np.ndarray, mixture: np.ndarray, nus: tuple[float, ...] = NUS
) -> tuple[np.ndarray, float]:
    """nu-SVR with a linear kernel on the standardised signature and mixture (CIBERSORT's core).

    For each ``nu``: fit, set negative coefficients to 0, normalise, reconstruct the standardised mixture
    and keep the ``nu`` with the smallest reconstruction RMSE. Returns the fractions and the chosen ``nu``.
    """
    from sklearn.svm import NuSVR

    x = np.asarray(signature, dtype=np.float64)
    y = np.asarray(mixture, dtype=np.float64)
    x = (x - x.mean()) / (x.std() or 1.0)
    y = (y - y.mean()) / (y.std() or 1.0)
    best, best_rmse, best_nu = np.zeros(x.shape[1]), np.inf, float("nan")
    for nu in nus:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = NuSVR(kernel="linear", nu=nu, C=1.0, max_iter=100_000).fit(x, y)
        w = _normalise(np.ravel(model.coef_))
        if w.sum() == 0:
            continue
        rmse = float(np.sqrt(np.mean((x @ w - y) ** 2)))
        if rmse < best_rmse:
            best, best_rmse, best_nu = w, rmse, float(nu)
    return best, best_nu


def estimate(signature: np.ndarray, mixture: np.ndarray, method: str) -> np.ndarray:
    """Fractions of one mixture by ``method`` (one of :data:`METHODS`)."""
    if method == "nnls":
        return nnls_proportions(signature, mixture)
    if method == "svr":
        return svr_proportions(signature, mixture)[0]
    raise ValueError(f"unknown deconvolution method {method!r}; choose from {METHODS}")
