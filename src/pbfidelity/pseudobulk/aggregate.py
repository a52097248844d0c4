"""Apply pseudo-bulk weight matrices to cell counts: in memory, or streamed chunk by chunk."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp


def aggregate(X, weights: sp.spmatrix) -> np.ndarray:
    """``weights @ X`` as a dense (profiles x genes) array; ``X`` is cells x genes (sparse or dense)."""
    out = sp.csr_matrix(weights) @ X
    return np.asarray(out.toarray() if sp.issparse(out) else out)


def aggregate_stream(
    chunks: Iterable[tuple[int, sp.csr_matrix]], weights: sp.spmatrix, n_genes: int, dtype=np.float64
) -> np.ndarray:
    """Accumulate ``weights[:, rows] @ chunk`` over ``(start_row, chunk)`` pairs.

    Memory is the result plus one chunk, whatever the number of cells. Chunks whose rows carry no weight
    are skipped cheaply.
    """
    w = sp.csc_matrix(weights)
    out = np.zeros((w.shape[0], n_genes), dtype=dtype)
    for start, block in chunks:
        part = w[:, start : start + block.shape[0]]
        if part.nnz == 0:
            continue
        out += (part @ block).toarray() if sp.issparse(block) else part @ block
    return out
