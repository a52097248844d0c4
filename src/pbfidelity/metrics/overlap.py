"""Agreement of two gene selections: the separating sparse component's genes vs the DE genes.

Precision = |S ∩ D| / |S|, recall = |S ∩ D| / |D|, F1 their harmonic mean, with S the genes with a non-zero
loading on the component and D the DE genes; a one-sided hypergeometric p of the overlap uses the genes both
analyses saw as the universe.
"""

from __future__ import annotations

from collections.abc import Iterable

from scipy.stats import hypergeom


def selection_overlap(selected: Iterable[str], truth: Iterable[str], universe: Iterable[str]) -> dict:
    """Precision, recall, F1 and a hypergeometric p of ``selected`` against ``truth`` within ``universe``."""
    u = set(universe)
    s, t = set(selected) & u, set(truth) & u
    hit = len(s & t)
    precision = hit / len(s) if s else float("nan")
    recall = hit / len(t) if t else float("nan")
    f1 = (
        2 * precision * recall / (precision + recall)
        if s and t and hit
        else (0.0 if s and t else float("nan"))
    )
    p = float(hypergeom.sf(hit - 1, len(u), len(t), len(s))) if s and t else float("nan")
    return {
        "n_selected": len(s),
        "n_reference": len(t),
        "n_overlap": hit,
        "n_universe": len(u),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "hypergeom_p": p,
    }
