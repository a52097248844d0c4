"""Input preparation fit on the pre-training split only: log-CPM, top-variance genes, standardisation.

``fit_prep`` sees only pre-training profiles; ``InputPrep.transform`` applies the frozen choice to anything
else (validation, labelled and test profiles), so no held-out value influences genes, means or scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbfidelity.normalize import log1p_cpm


@dataclass(frozen=True)
class InputPrep:
    """Frozen preparation: gene indices (into the input columns), means and standard deviations."""

    genes: np.ndarray  # int indices of the kept columns
    mean: np.ndarray
    std: np.ndarray
    gene_names: tuple[str, ...] = ()

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Library-size normalise every row, keep the chosen genes, standardise with the fitted moments."""
        logcpm = log1p_cpm(np.asarray(values, dtype=np.float64))[:, self.genes]
        return ((logcpm - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"genes": list(self.gene_names), "mean": self.mean.tolist(), "std": self.std.tolist()}


def fit_prep(values: np.ndarray, n_genes: int, gene_names: list[str] | None = None) -> InputPrep:
    """Choose the ``n_genes`` most variable log-CPM genes of ``values`` (pre-training rows) and their moments.

    Works on raw counts and on already normalised non-negative values (e.g. RSEM): both are rescaled to
    counts per million per profile before ``log1p``. Genes constant on the pre-training rows are never kept.
    """
    logcpm = log1p_cpm(np.asarray(values, dtype=np.float64))
    var = logcpm.var(axis=0)
    order = np.argsort(-var, kind="stable")
    order = order[var[order] > 0][:n_genes]
    genes = np.sort(order)
    mean = logcpm[:, genes].mean(axis=0)
    std = logcpm[:, genes].std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    names = tuple(np.asarray(gene_names)[genes].tolist()) if gene_names is not None else ()
    return InputPrep(genes=genes, mean=mean, std=std, gene_names=names)
