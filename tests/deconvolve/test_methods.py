"""NNLS and nu-SVR recover the fractions of noiseless and noisy mixtures; a wrong signature does not."""

import numpy as np
import pytest

from pbfidelity.deconvolve.methods import METHODS, estimate, nnls_proportions, svr_proportions


def _signature(rng, n_genes=200, n_types=4):
    base = rng.lognormal(2.0, 1.0, size=(n_genes, 1))
    sig = np.repeat(base, n_types, axis=1)
    for k in range(n_types):  # 25 markers per type, 8x up
        sig[k * 25 : (k + 1) * 25, k] *= 8.0
    return sig


@pytest.mark.parametrize("method", METHODS)
def test_noiseless_mixture_is_recovered(method):
    rng = np.random.default_rng(0)
    sig = _signature(rng)
    for _ in range(5):
        p = rng.dirichlet(np.ones(4))
        est = estimate(sig, sig @ p * 1e3, method)  # scale does not matter: fractions are normalised
        assert est.sum() == pytest.approx(1.0)
        assert np.all(est >= 0)
        assert np.abs(est - p).max() < 0.01, (method, est, p)


@pytest.mark.parametrize("method", METHODS)
def test_noisy_mixture_close_and_wrong_signature_far(method):
    rng = np.random.default_rng(1)
    sig = _signature(rng)
    err_right, err_wrong = [], []
    wrong = sig[rng.permutation(sig.shape[0])]  # genes shuffled: markers no longer line up
    for _ in range(20):
        p = rng.dirichlet(np.ones(4))
        y = rng.poisson(sig @ p * 50).astype(float)
        err_right.append(np.sqrt(np.mean((estimate(sig, y, method) - p) ** 2)))
        err_wrong.append(np.sqrt(np.mean((estimate(wrong, y, method) - p) ** 2)))
    assert np.mean(err_right) < 0.03
    assert np.mean(err_wrong) > 3 * np.mean(err_right)


def test_svr_picks_a_nu_and_clips_negative_coefficients():
    rng = np.random.default_rng(2)
    sig = _signature(rng)
    p = np.array([0.7, 0.3, 0.0, 0.0])
    w, nu = svr_proportions(sig, sig @ p)
    assert nu in (0.25, 0.5, 0.75)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    assert w[2] + w[3] < 0.05


def test_nnls_all_zero_mixture_gives_zeros():
    sig = _signature(np.random.default_rng(3))
    assert np.all(nnls_proportions(sig, np.zeros(sig.shape[0])) == 0)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown deconvolution method"):
        estimate(np.ones((3, 2)), np.ones(3), "music")
