import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from pbfidelity.discriminate.folds import rng_for
from pbfidelity.discriminate.stats import (
    auroc,
    classification_metrics,
    donor_bootstrap,
    permutation_p_value,
    roc_on_grid,
    roc_points,
)


@pytest.mark.parametrize("n", [10, 40, 800])
def test_auroc_matches_sklearn_with_ties(n):
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = np.round(rng.random(n) + 0.3 * y, 1)  # rounding creates ties
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(auroc(np.ones(5), np.arange(5)))


def test_threshold_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50)
    s = rng.random(50)
    m = classification_metrics(y, s)
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, s >= 0.5))
    assert m["f1"] == pytest.approx(f1_score(y, s >= 0.5))


def test_donor_bootstrap_ci_brackets_estimate_and_is_reproducible():
    rng = np.random.default_rng(0)
    donors = np.repeat([f"D{i}" for i in range(15)], 2)
    y = np.tile([1, 0], 15)
    s = 0.5 + 0.2 * (y - 0.5) + rng.normal(0, 0.2, 30)
    a = donor_bootstrap(y, s, donors, 300, rng_for(5, 2)).set_index("metric")
    b = donor_bootstrap(y, s, donors, 300, rng_for(5, 2)).set_index("metric")
    assert a.equals(b)
    for m in a.index:
        assert a.loc[m, "ci_low"] <= a.loc[m, "value"] + 1e-9 <= a.loc[m, "ci_high"] + 2e-9


def test_roc_points_and_grid():
    y = np.array([1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.3, 0.3, 0.1])
    pts = roc_points(y, s)
    assert (pts["fpr"].iloc[0], pts["tpr"].iloc[0]) == (0.0, 0.0)
    assert (pts["fpr"].iloc[-1], pts["tpr"].iloc[-1]) == (1.0, 1.0)
    assert np.all(np.diff(pts["fpr"]) >= 0) and np.all(np.diff(pts["tpr"]) >= 0)
    # trapezoid area under the exact points equals the rank AUROC
    assert np.trapezoid(pts["tpr"], pts["fpr"]) == pytest.approx(auroc(y, s))
    grid = roc_on_grid(pts, 0.1)
    assert list(grid)[0] == 0.0 and list(grid)[-1] == 1.0 and grid[1.0] == 1.0
    assert np.all(np.diff(list(grid.values())) >= 0)


def test_permutation_p_value_is_never_zero():
    assert permutation_p_value(1.0, np.full(199, 0.5)) == pytest.approx(1 / 200)
    assert permutation_p_value(0.5, np.array([0.4, 0.5, 0.6])) == pytest.approx(3 / 4)
