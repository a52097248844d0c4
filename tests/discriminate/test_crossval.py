import numpy as np

from pbfidelity.discriminate.crossval import cross_validate, top_variance_genes
from pbfidelity.discriminate.folds import donor_folds
from pbfidelity.discriminate.models import logistic_model


def test_top_variance_genes_ignores_constant_genes():
    x = np.zeros((6, 5))
    x[:, 1] = [0, 1, 0, 1, 0, 1]
    x[:, 3] = [0, 5, 0, 5, 0, 5]
    assert list(top_variance_genes(x, 1)) == [3]
    assert list(top_variance_genes(x, None)) == [1, 3]


def test_feature_selection_sees_training_rows_only():
    """A gene that varies only among held-out donors must never be selected or used."""
    rng = np.random.default_rng(0)
    donors = np.repeat([f"D{i}" for i in range(6)], 2)
    y = np.tile([1, 0], 6)
    x = rng.normal(size=(12, 20))
    folds = donor_folds(donors, 3, 0)
    seen = []

    def spy(x_train, y_train, x_test, seed, contribs):
        seen.append((x_train.shape, x_test.shape))
        return np.full(x_test.shape[0], 0.5), None

    leak = np.zeros(12)
    leak[folds == 0] = rng.normal(size=(folds == 0).sum()) * 100  # varies only in fold 0
    x[:, 7] = leak
    cv = cross_validate(x, y, folds, spy, n_genes=5, seed=0)
    assert 7 not in cv.selected[0]
    assert all(s[0][1] == 5 for s in seen)
    assert np.all(cv.scores == 0.5)


def test_out_of_fold_scores_cover_every_row_once():
    rng = np.random.default_rng(1)
    donors = np.repeat([f"D{i}" for i in range(8)], 3)
    y = np.tile([1, 0, 0], 8)
    x = rng.normal(size=(24, 30)) + y[:, None]
    folds = donor_folds(donors, 4, 2)
    cv = cross_validate(x, y, folds, logistic_model(), n_genes=10, seed=0)
    assert np.all(np.isfinite(cv.scores)) and len(cv.selected) == 4
    assert np.mean((cv.scores >= 0.5) == y.astype(bool)) > 0.8
