"""Pseudo-bulk profiles: every kind (sum, mean, per cell type, proportion-matched, bootstrap replicates)
is a sparse weight matrix over cells, applied to the counts chunk by chunk (flat memory in cells)."""

from pbfidelity.pseudobulk.aggregate import aggregate, aggregate_stream
from pbfidelity.pseudobulk.weights import (
    bootstrap_weights,
    group_weights,
    proportion_weights,
)

__all__ = ["aggregate", "aggregate_stream", "bootstrap_weights", "group_weights", "proportion_weights"]
