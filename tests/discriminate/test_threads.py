"""``--threads``: folds, permutations and learning-curve points run concurrently with single-threaded models,
so every table is the same for any thread count (discriminate and calibrate)."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.calibrate.analysis import CalibrateParams, calibrate
from pbfidelity.discriminate.analysis import DiscriminateParams, discriminate
from pbfidelity.discriminate.profiles import select_profiles


@pytest.fixture(scope="module")
def profiles(sim_planted):
    return select_profiles(ad.read_h5ad(sim_planted[0]), "sim")


def _tables(res) -> list[pd.DataFrame]:
    return [res.metrics, res.roc, res.predictions, res.importance, res.permutations, res.learning_curve,
            res.shap_values]


def test_discriminate_identical_for_one_and_two_threads(profiles):
    base = dict(n_permutations=12, n_bootstrap=50, learning_curve=(10, 50, 200))
    one = discriminate(profiles, DiscriminateParams(**base, threads=1))
    two = discriminate(profiles, DiscriminateParams(**base, threads=2))
    for a, b in zip(_tables(one), _tables(two), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert json.dumps(one.summary, sort_keys=True, default=str) == json.dumps(two.summary, sort_keys=True, default=str)
    # the permutation null is a real distribution, not one value repeated
    null = one.permutations.loc[one.permutations["kind"] == "permuted", "auroc"].to_numpy()
    assert null.size == 12 and np.unique(null).size > 3


def test_calibrate_identical_for_one_and_two_threads(profiles):
    base = dict(methods=("auto", "offset"), n_bootstrap=50)
    one = calibrate(profiles, CalibrateParams(**base, threads=1))
    two = calibrate(profiles, CalibrateParams(**base, threads=2))
    pd.testing.assert_frame_equal(one.metrics, two.metrics, check_exact=True)
    pd.testing.assert_frame_equal(one.pairs, two.pairs, check_exact=True)
    np.testing.assert_array_equal(one.counts, two.counts)
