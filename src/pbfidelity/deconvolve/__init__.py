"""Does pseudo-bulk infidelity matter? Deconvolve bulk from the single-cell reference and measure the cost.

:mod:`~pbfidelity.deconvolve.reference` builds cell-type reference profiles (per-cell mean counts of QC-passing
cells, from the pseudo-bulk stage's per-cell-type profiles; leave-donor-out when the reference donors are the
bulk donors) and a marker signature; :mod:`~pbfidelity.deconvolve.methods` estimates proportions (NNLS, and
nu-SVR on the signature: the core of CIBERSORT); :mod:`~pbfidelity.deconvolve.accuracy` scores estimates against
known proportions with donor-bootstrap intervals; :mod:`~pbfidelity.deconvolve.analysis` runs the four arms
(bulk, its pseudo-bulk, bulk with a cross-fitted calibrated reference, bulk on concordant genes only).
"""
