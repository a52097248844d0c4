import numpy as np

from pbfidelity.ssl.prepare import fit_prep


def test_prep_is_fit_on_pretraining_rows_only():
    rng = np.random.default_rng(0)
    pre = rng.poisson(20, size=(30, 50)).astype(float)
    held = rng.poisson(20, size=(10, 50)).astype(float)
    prep = fit_prep(pre, 10, [f"g{i}" for i in range(50)])
    z = prep.transform(pre)
    assert z.shape == (30, 10) and z.dtype == np.float32
    assert np.allclose(z.mean(0), 0, atol=1e-5) and np.allclose(z.std(0), 1, atol=1e-4)
    # wildly different held-out rows change nothing about the fitted choice
    prep2 = fit_prep(pre, 10, [f"g{i}" for i in range(50)])
    held[:, :5] *= 100
    assert np.array_equal(prep.genes, prep2.genes) and np.allclose(
        prep.transform(held), prep2.transform(held)
    )
    assert len(prep.gene_names) == 10 and prep.to_dict()["genes"] == list(prep.gene_names)


def test_top_variance_genes_and_constant_genes_dropped():
    rng = np.random.default_rng(1)
    x = np.full((20, 6), 100.0)
    x[:, 2] = rng.poisson(100, 20) * rng.choice([1, 20], 20)  # highly variable
    prep = fit_prep(x, 3)
    assert 2 in prep.genes
    assert len(prep.genes) <= 6 and np.all(np.isfinite(prep.transform(x)))
