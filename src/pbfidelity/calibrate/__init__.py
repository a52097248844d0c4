"""Make pseudo-bulk more bulk-like: gene-wise corrections learnt on training donors, judged on held-out donors.

:mod:`~pbfidelity.calibrate.models` fits the corrections (per gene on log-CPM: a shrunken log-ratio offset,
location-scale matching, a ridge linear model), :mod:`~pbfidelity.calibrate.counts` turns calibrated log-CPM back into integer counts,
:mod:`~pbfidelity.calibrate.analysis` cross-fits them over donor-grouped folds and re-runs the discriminator of
:mod:`pbfidelity.discriminate` on raw vs calibrated pseudo-bulk with the same folds.
"""
