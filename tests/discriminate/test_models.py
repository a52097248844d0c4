import numpy as np
import pytest

from pbfidelity.discriminate.models import XGB_DEFAULT, logistic_model, random_forest_model, xgboost_model


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 60))
    y = np.tile([1, 0], 20)
    x[y == 1, :5] += 2.0
    return x[:30], y[:30], x[30:], y[30:]


def test_xgboost_shap_contributions_add_up_and_are_deterministic(toy):
    import xgboost as xgb

    xtr, ytr, xte, yte = toy
    s1, c1 = xgboost_model()(xtr, ytr, xte, 3, True)
    s2, c2 = xgboost_model()(xtr, ytr, xte, 3, True)
    assert np.array_equal(s1, s2) and np.array_equal(c1, c2)
    assert c1.shape == xte.shape
    # SHAP contributions + bias reproduce the margin: logit(p) - sum(contrib) is one constant (the bias)
    margin = np.log(s1 / (1 - s1))
    assert np.ptp(margin - c1.sum(axis=1)) < 1e-4
    assert np.mean((s1 >= 0.5) == yte.astype(bool)) >= 0.9
    # credit goes to the informative genes
    assert np.abs(c1[:, :5]).mean() > 2 * np.abs(c1[:, 5:]).mean()
    assert XGB_DEFAULT.booster_params(1)["nthread"] == 1 and xgb.__version__


@pytest.mark.parametrize("factory", [logistic_model, random_forest_model])
def test_baselines_separate_toy_data(factory, toy):
    xtr, ytr, xte, yte = toy
    s, c = factory()(xtr, ytr, xte, 0, True)
    assert c is None and s.shape == (10,)
    assert np.mean((s >= 0.5) == yte.astype(bool)) >= 0.9


def test_xgboost_with_very_few_genes_still_fits(toy):
    xtr, ytr, xte, _ = toy
    s, c = xgboost_model()(xtr[:, :2], ytr, xte[:, :2], 0, True)
    assert np.all(np.isfinite(s)) and np.abs(c).sum() > 0
