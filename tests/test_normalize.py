import numpy as np

from pbfidelity.normalize import cpm, log1p_cpm, tmm_factors


def test_cpm_rows_sum_to_a_million():
    x = np.array([[1, 3, 6], [10, 0, 0]])
    np.testing.assert_allclose(cpm(x).sum(axis=1), 1e6)
    np.testing.assert_allclose(log1p_cpm(x), np.log1p(cpm(x)))


def test_tmm_recovers_composition_bias():
    rng = np.random.default_rng(0)
    base = rng.gamma(2.0, 50.0, size=2000)
    a = rng.poisson(base)
    boosted = base.copy()
    boosted[:100] *= 30  # a few genes soak up library: other genes look lower by CPM
    b = rng.poisson(boosted)
    f = tmm_factors(np.vstack([a, b]))
    assert np.isclose(np.prod(f), 1.0)
    assert f[1] < f[0]  # b's library is inflated by a few genes: its effective library shrinks
    eff = np.vstack([a, b]).sum(axis=1) * f
    ratio = (b[100:] / eff[1]).sum() / (a[100:] / eff[0]).sum()
    assert abs(ratio - 1) < 0.05  # non-boosted genes agree after TMM
