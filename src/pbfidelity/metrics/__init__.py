"""Fidelity metrics of pseudo-bulk against bulk: correlations, gene biases, PCA / sparse PCA, DESeq2, attributes.

The primary comparison uses the bulk profiles and the primary pseudo-bulk profiles (``replicate == 0``, not
per cell type, not bootstrap): see :mod:`pbfidelity.metrics.selection`. Bootstrap pseudo-replicates
(``pb_method == "bootstrap"``) are never used as samples in these analyses, because they re-sample the cells of
one sample and are not independent replicates; counting them would inflate the sample size of every test.
Heavy libraries (pydeseq2) are imported inside functions only.
"""

from pbfidelity.metrics.selection import Comparison, primary_comparison

__all__ = ["Comparison", "primary_comparison"]
