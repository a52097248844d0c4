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


def test_row_stepped_normalisation_equals_whole_matrix():
    """tmm_factors, the reference choice and the float32 log-CPM layers work ROW_STEP rows at a time (no
    float64 copy of the whole matrix): the values are bit-identical to the whole-matrix formulas."""
    import scipy.sparse as sp

    from pbfidelity import normalize as nz

    rng = np.random.default_rng(4)
    n = 2 * nz.ROW_STEP + 7
    x = rng.negative_binomial(2, 0.02, size=(n, 500)).astype(np.int64)
    x[5] = 0  # an empty profile
    for counts in (x, x.astype(np.float64), sp.csr_matrix(x)):
        dense = np.asarray(x, dtype=np.float64)
        lib = np.where(dense.sum(axis=1) > 0, dense.sum(axis=1), 1.0)
        uq = np.quantile(dense / lib[:, None], 0.75, axis=1)
        ref = int(np.argmin(np.abs(uq - uq.mean())))
        assert nz.upper_quartile_reference(counts) == ref
        f = np.array([nz._tmm_one(row, dense[ref], 0.3, 0.05) for row in dense])
        f = f / np.exp(np.mean(np.log(f)))
        np.testing.assert_array_equal(tmm_factors(counts), f)
        np.testing.assert_array_equal(nz.log1p_cpm_float32(counts), log1p_cpm(dense).astype(np.float32))
        np.testing.assert_array_equal(nz.log1p_cpm_float32(counts, f), log1p_cpm(dense, f).astype(np.float32))
