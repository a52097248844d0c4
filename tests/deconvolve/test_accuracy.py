"""Scores and donor-bootstrap intervals: the weighted moments equal explicit resampling."""

import numpy as np
import pandas as pd
import pytest

from pbfidelity.deconvolve.accuracy import accuracy, bootstrap_weights, ccc, pearson, rmse_draws


def _tables(rng, n=12, k=3, bias=0.0, noise=0.05):
    truth = pd.DataFrame(
        rng.dirichlet(np.ones(k) * 3, size=n),
        index=[f"S{i}" for i in range(n)],
        columns=[f"ct{j}" for j in range(k)],
    )
    est = truth + rng.normal(0, noise, size=truth.shape)
    est.iloc[:, 0] += bias
    est.iloc[:, 1] -= bias
    return est, truth


def test_weighted_moments_equal_explicit_resamples():
    rng = np.random.default_rng(0)
    est, truth = _tables(rng)
    donors = np.array([f"D{i // 2}" for i in range(len(est))])  # two samples per donor
    w = bootstrap_weights(donors, 50, np.random.default_rng(5))
    assert w.shape == (50, 12)
    assert np.all(w[:, 0::2] == w[:, 1::2])  # a donor's samples are drawn together
    assert np.all(w.sum(axis=1) == 12)
    summ, per = accuracy(est, truth, donors, w)
    overall = summ.set_index("scope").loc["overall"]
    e, t = est.to_numpy(), truth.to_numpy()
    assert overall["rmse"] == pytest.approx(np.sqrt(np.mean((e - t) ** 2)))
    assert overall["pearson"] == pytest.approx(pearson(e, t))
    assert overall["ccc"] == pytest.approx(ccc(e, t))
    ct0 = summ.set_index("scope").loc["ct0"]
    assert ct0["bias"] == pytest.approx(np.mean(e[:, 0] - t[:, 0]))
    # each draw = the scores of the resample with rows repeated as often as drawn
    draws = rmse_draws(est, truth, w)
    for b in range(5):
        rows = np.repeat(np.arange(12), w[b].astype(int))
        assert draws[b] == pytest.approx(np.sqrt(np.mean((e[rows] - t[rows]) ** 2)))
    assert overall["rmse_ci_low"] <= overall["rmse"] <= overall["rmse_ci_high"]
    assert list(per["sample"]) == list(est.index)


def test_bias_lowers_ccc_not_pearson():
    rng = np.random.default_rng(1)
    est, truth = _tables(rng, n=40, noise=0.01)
    shifted = est.copy()
    shifted.iloc[:, 0] += 0.1
    assert pearson(shifted.iloc[:, 0], truth.iloc[:, 0]) == pytest.approx(
        pearson(est.iloc[:, 0], truth.iloc[:, 0])
    )
    assert ccc(shifted.iloc[:, 0], truth.iloc[:, 0]) < ccc(est.iloc[:, 0], truth.iloc[:, 0]) - 0.1
    w = bootstrap_weights(np.arange(40).astype(str), 200, np.random.default_rng(0))
    summ, _ = accuracy(shifted, truth, np.arange(40).astype(str), w)
    ct0 = summ.set_index("scope").loc["ct0"]
    assert ct0["bias_ci_low"] > 0.08 and ct0["bias"] == pytest.approx(0.1, abs=0.01)


def test_perfect_estimate():
    rng = np.random.default_rng(2)
    _, truth = _tables(rng)
    w = bootstrap_weights(np.arange(12).astype(str), 20, rng)
    summ, _ = accuracy(truth.copy(), truth, np.arange(12).astype(str), w)
    o = summ.set_index("scope").loc["overall"]
    assert o["rmse"] == pytest.approx(0.0, abs=1e-12) and o["ccc"] == pytest.approx(1.0)
