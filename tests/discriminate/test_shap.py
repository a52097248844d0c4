import numpy as np

from pbfidelity.discriminate.shap import gene_importance, top_genes


def test_ranking_and_direction():
    rng = np.random.default_rng(0)
    y = np.tile([1, 0], 10)
    x = rng.normal(size=(20, 4))
    x[:, 0] += 3 * y  # higher in bulk
    x[:, 1] -= 3 * y  # higher in pseudo-bulk
    contrib = np.zeros((20, 4))
    contrib[:, 0] = 0.5 * (x[:, 0] - x[:, 0].mean())  # pushes towards bulk when high
    contrib[:, 1] = -0.2 * (x[:, 1] - x[:, 1].mean())  # pushes towards pseudo-bulk when high
    imp = gene_importance(contrib, x, y, np.array(["a", "b", "c", "d"]))
    assert list(imp["gene"][:2]) == ["a", "b"]
    assert list(imp["rank"]) == [1, 2, 3, 4]
    d = imp.set_index("gene")["direction"]
    assert d["a"] == "bulk" and d["b"] == "pseudobulk"
    top = top_genes(imp, 10)
    assert list(top["gene"]) == ["a", "b"]  # genes with no contribution are not listed
