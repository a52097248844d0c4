"""Python API, tools (scanpy style): the analyses of a profiles AnnData (see :func:`pbfidelity.pp.build_profiles`).

Thin wrappers around the stages' pure functions (the CLI adapters call the same functions): options are
keyword-only and are the fields of each stage's parameter dataclass.
"""

from __future__ import annotations

import anndata as ad

__all__ = ["apply_calibration", "calibrate", "deconvolve", "discriminate", "fidelity"]


def fidelity(
    profiles: ad.AnnData,
    *,
    dataset: str | None = None,
    pb_method: str | None = None,
    annotation=None,
    **params,
):
    """Fidelity metrics of the primary comparison (correlations, gene biases, PCA, DESeq2, attributes).

    ``params``: fields of :class:`pbfidelity.metrics.analysis.MetricsParams` (e.g. ``n_permutations``,
    ``seed``). Returns a :class:`~pbfidelity.metrics.analysis.MetricsResult` (``tables`` dict of DataFrames,
    ``summary``).
    """
    from pbfidelity.metrics.analysis import MetricsParams, compute_metrics
    from pbfidelity.metrics.selection import primary_comparison

    comp = primary_comparison(profiles, dataset, pb_method, "profiles")
    return compute_metrics(comp, MetricsParams(**params), annotation)


def _profile_set(profiles: ad.AnnData, dataset: str | None, pb_method: str, replicates: bool):
    from pbfidelity.discriminate.profiles import dataset_names, select_profiles
    from pbfidelity.io.samplesheet import choose_dataset

    dataset = choose_dataset(list(dataset_names(profiles)), dataset, "profiles", "dataset=")
    return select_profiles(profiles, dataset, pb_method, replicates)


def discriminate(
    profiles: ad.AnnData,
    *,
    dataset: str | None = None,
    pb_method: str = "auto",
    replicates: bool = True,
    **params,
):
    """Can a classifier tell bulk from pseudo-bulk? Donor-grouped cross-validation, CIs, SHAP genes.

    ``params``: fields of :class:`pbfidelity.discriminate.analysis.DiscriminateParams` (e.g. ``n_folds``,
    ``n_permutations``, ``seed``). Returns a :class:`~pbfidelity.discriminate.analysis.DiscriminationResult`.
    """
    from pbfidelity.discriminate.analysis import DiscriminateParams
    from pbfidelity.discriminate.analysis import discriminate as _discriminate

    return _discriminate(_profile_set(profiles, dataset, pb_method, replicates), DiscriminateParams(**params))


def calibrate(
    profiles: ad.AnnData,
    *,
    dataset: str | None = None,
    pb_method: str = "auto",
    replicates: bool = True,
    **params,
):
    """Gene-wise calibration of pseudo-bulk towards bulk, fitted on training donors, judged on held-out ones.

    ``params``: fields of :class:`pbfidelity.calibrate.analysis.CalibrateParams` (e.g. ``methods``,
    ``n_folds``, ``seed``). Returns a :class:`~pbfidelity.calibrate.analysis.CalibrationResult`.
    """
    from pbfidelity.calibrate.analysis import CalibrateParams
    from pbfidelity.calibrate.analysis import calibrate as _calibrate

    return _calibrate(_profile_set(profiles, dataset, pb_method, replicates), CalibrateParams(**params))


def deconvolve(
    profiles: ad.AnnData,
    celltype_profiles: ad.AnnData,
    *,
    dataset: str | None = None,
    pb_method: str = "auto",
    proportions=None,
    de=None,
    **params,
):
    """Cell-type proportions of bulk and its pseudo-bulk from the single-cell reference, and what infidelity costs.

    ``celltype_profiles``: the per-cell-type pseudo-bulk (``pbf.pp.build_profiles(...).celltype`` or
    ``celltype_profiles.h5ad``); ``proportions``: known proportions (DataFrame, samples x cell types; fractions
    or cell numbers) or None; ``de``: the metrics DE table (``fidelity(...).tables['de_results']``) or None.
    ``params``: fields of :class:`pbfidelity.deconvolve.analysis.DeconvolveParams` (e.g. ``methods``,
    ``n_bootstrap``, ``seed``). Returns a :class:`~pbfidelity.deconvolve.analysis.DeconvolutionResult`.
    """
    import numpy as np
    import scipy.sparse as sp

    from pbfidelity.deconvolve.analysis import DeconvolveParams
    from pbfidelity.deconvolve.analysis import deconvolve as _deconvolve
    from pbfidelity.deconvolve.estimate import targets_from_profiles

    if "methods" in params:
        params["methods"] = tuple(params["methods"])
    ps = _profile_set(profiles, dataset, pb_method, False)
    x = celltype_profiles.X
    x = x.toarray() if sp.issparse(x) else np.asarray(x)
    return _deconvolve(
        ps,
        x,
        celltype_profiles.obs,
        np.asarray(celltype_profiles.var_names).astype(str),
        proportions,
        de,
        DeconvolveParams(**params),
        targets_from_profiles(profiles, ps.dataset),
        bool((profiles.uns.get("pbfidelity") or {}).get("proportions_estimated", False)),
    )


def apply_calibration(profiles: ad.AnnData, table, *, method: str | None = None, dataset: str | None = None):
    """Pass the pseudo-bulk rows of ``profiles`` through a learnt calibration (``gene_calibration.tsv`` of the
    calibrate stage): bulk-like counts for new pseudo-bulk, e.g. random mixtures (``pbfidelity calibrate --apply``).
    Returns the calibrated profiles AnnData."""
    from pbfidelity.calibrate.apply import calibrate_profiles, read_gene_calibration

    return calibrate_profiles(profiles, read_gene_calibration(table, dataset, method), str(table))[0]
