import numpy as np
import pandas as pd

from pbfidelity.metrics.components import component_analysis, modality_tests, separating_component


def _data(shift: float, n_pairs: int = 12, n_genes: int = 120, k: int = 30, seed: int = 0):
    rng = np.random.default_rng(seed)
    donor = rng.normal(scale=0.5, size=(n_pairs, n_genes))
    b = donor + rng.normal(scale=0.3, size=donor.shape)
    p = donor + rng.normal(scale=0.3, size=donor.shape)
    b[:, :k] += shift
    x = np.vstack([b, p])
    is_bulk = np.r_[np.ones(n_pairs, bool), np.zeros(n_pairs, bool)]
    pairs = pd.DataFrame(
        {
            "sample": range(n_pairs),
            "donor": range(n_pairs),
            "bulk": range(n_pairs),
            "pseudobulk": range(n_pairs, 2 * n_pairs),
        }
    )
    return x, pd.Index([f"g{i}" for i in range(n_genes)]), is_bulk, pairs


def test_sparse_component_finds_the_shifted_genes():
    x, genes, is_bulk, pairs = _data(shift=3.0)
    res = component_analysis(x, genes, is_bulk, pairs, n_components=5, seed=1)
    sep = separating_component(res["sparse_pca"].table)
    assert sep["separates"] and abs(sep["auc"] - 0.5) == 0.5
    load = res["sparse_pca"].loadings[sep["component"]]
    nonzero = set(load.index[load != 0])
    assert {f"g{i}" for i in range(30)} <= nonzero and len(nonzero) < 45
    assert separating_component(res["pca"].table)["separates"]
    t = res["sparse_pca"].table
    assert (t["test"] == "wilcoxon_paired").all() and t["variance_explained"].between(0, 1).all()


def test_no_shift_no_separating_component():
    x, genes, is_bulk, pairs = _data(shift=0.0, seed=2)
    res = component_analysis(x, genes, is_bulk, pairs, n_components=5, seed=1)
    assert not separating_component(res["pca"].table)["separates"]
    assert not separating_component(res["sparse_pca"].table)["separates"]


def test_unpaired_uses_mann_whitney():
    x, genes, is_bulk, pairs = _data(shift=2.0)
    t = modality_tests(x[:, :3], is_bulk, pairs.iloc[:0])
    assert (t["test"] == "mann_whitney").all() and t.loc[0, "padj"] < 0.01
