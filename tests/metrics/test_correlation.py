import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pbfidelity.metrics import correlation as corr


def test_matrices_match_numpy_and_scipy():
    x = np.random.default_rng(1).normal(size=(5, 50))
    x[0, :10] = x[0, 0]  # ties
    assert np.allclose(corr.pearson_matrix(x), np.corrcoef(x))
    assert np.allclose(corr.spearman_matrix(x), spearmanr(x, axis=1).statistic)


def test_ccc_and_rmse():
    x = np.random.default_rng(2).normal(size=200)
    assert corr.ccc(x, x) == 1.0 and corr.rmse(x, x) == 0.0
    # a shift keeps Pearson at 1 but lowers the concordance
    assert corr.ccc(x, x + 1) < 0.9 and np.isclose(corr.rmse(x, x + 1), 1.0)


def test_matched_contrast_detects_pairing_and_not_chance():
    rng = np.random.default_rng(3)
    n = 10
    cross = rng.normal(0.90, 0.01, size=(n, n))
    np.fill_diagonal(cross, 0.95)
    res = corr.matched_contrast(cross, 199, rng)
    assert res["difference"] > 0.04 and res["p_value"] == 1 / 200
    null = corr.matched_contrast(rng.normal(0.9, 0.01, size=(n, n)), 199, rng)
    assert null["p_value"] > 0.01
    assert np.isnan(corr.matched_contrast(cross[:2, :2], 99, rng)["p_value"])  # too few pairs to test


def test_pair_kinds():
    x = np.random.default_rng(4).normal(size=(4, 30))
    table, pe, _ = corr.pair_table(
        x,
        pd.Index(list("abcd")),
        np.array(["bulk", "bulk", "pseudobulk", "pseudobulk"]),
        np.array(["s1", "s2", "s1", "s2"]),
    )
    kinds = dict(zip(zip(table["profile_a"], table["profile_b"], strict=True), table["kind"], strict=True))
    assert kinds[("a", "b")] == "within_bulk" and kinds[("c", "d")] == "within_pseudobulk"
    assert kinds[("a", "c")] == "matched" and kinds[("a", "d")] == "unmatched"
    assert set(corr.kind_summary(table).index) == set(corr.KINDS)
