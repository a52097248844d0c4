"""Between calibrated log-CPM and integer counts."""

from __future__ import annotations

import numpy as np

from pbfidelity.normalize import log1p_cpm


def logcpm_to_counts(logcpm: np.ndarray, library_sizes: np.ndarray) -> np.ndarray:
    """Integer counts whose proportions follow ``expm1(logcpm)`` and whose totals keep ``library_sizes``.

    The calibrated CPM no longer sum to a million, so each profile is rescaled to its original library size
    before rounding (calibration moves counts between genes; it does not change sequencing depth).
    """
    cpm = np.expm1(np.maximum(np.asarray(logcpm, dtype=np.float64), 0.0))
    total = cpm.sum(axis=1, keepdims=True)
    total = np.where(total > 0, total, 1.0)
    lib = np.asarray(library_sizes, dtype=np.float64).reshape(-1, 1)
    return np.rint(cpm / total * lib).astype(np.int64)


def calibrated_logcpm(logcpm: np.ndarray, library_sizes: np.ndarray) -> np.ndarray:
    """log1p(CPM) of the integer counts a calibration writes (what users take away)."""
    return log1p_cpm(logcpm_to_counts(logcpm, library_sizes))
