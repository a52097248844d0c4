"""Deconvolution inputs from the session simulations (profiles, per-cell-type profiles, known proportions)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.deconvolve.analysis import DeconvolveParams, deconvolve
from pbfidelity.discriminate.profiles import select_profiles


def run_deconvolution(profiles_path, dataset="sim", truth_path=None, **params):
    pb = profiles_path.parent
    truth_path = truth_path or pb.parent / "input" / "proportions.tsv"
    ps = select_profiles(ad.read_h5ad(profiles_path), dataset, "auto", False)
    ct = ad.read_h5ad(pb / "celltype_profiles.h5ad")
    truth = pd.read_csv(truth_path, sep="\t")
    if "dataset" in truth.columns:
        truth = truth[truth["dataset"] == dataset].drop(columns="dataset")
    truth = truth.set_index("sample")
    params.setdefault("n_bootstrap", 400)
    return deconvolve(
        ps, np.asarray(ct.X), ct.obs, np.asarray(ct.var_names), truth, None, DeconvolveParams(**params)
    )


@pytest.fixture(scope="session")
def deconvolve_sim():
    """:func:`run_deconvolution` (profiles path, dataset, truth path, params)."""
    return run_deconvolution


@pytest.fixture(scope="module")
def planted(sim_planted):
    return run_deconvolution(sim_planted[0])


@pytest.fixture(scope="module")
def null(sim_null):
    return run_deconvolution(sim_null[0])
