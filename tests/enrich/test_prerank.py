import numpy as np
import pandas as pd

from pbfidelity.enrich.genesets import GeneSets
from pbfidelity.enrich.prerank import break_ties, prerank


def _stat(seed=0):
    rng = np.random.default_rng(seed)
    genes = [f"g{i:04d}" for i in range(1000)]
    s = pd.Series(rng.normal(size=1000), index=genes)
    s.iloc[:30] += 4  # "top" set: higher in bulk
    s.iloc[30:60] -= 4  # "bottom" set: higher in pseudo-bulk
    return s


def test_planted_sets_found_with_direction():
    rng = np.random.default_rng(1)
    genes = [f"g{i:04d}" for i in range(1000)]
    sets = {"top": genes[:30], "bottom": genes[30:60]}
    sets |= {f"r{i}": sorted(rng.choice(genes[60:], 30, replace=False)) for i in range(20)}
    res = prerank(_stat(), GeneSets(sets, {k: k for k in sets}), seed=3, permutations=200).set_index("term")
    assert res.loc["top", "direction"] == "bulk_up" and res.loc["top", "padj"] < 0.01
    assert res.loc["bottom", "direction"] == "pseudobulk_up" and res.loc["bottom", "padj"] < 0.01
    assert (res.drop(index=["top", "bottom"])["padj"] > 0.05).mean() > 0.8
    again = prerank(_stat(), GeneSets(sets, {k: k for k in sets}), seed=3, permutations=200).set_index("term")
    pd.testing.assert_frame_equal(res, again)


def test_ties_are_ordered_by_gene_and_kept_in_order():
    s = pd.Series([1.0, 2.0, 1.0, 1.0], index=["c", "z", "a", "b"])
    out = break_ties(s)
    assert list(out.index) == ["z", "a", "b", "c"] and out.is_monotonic_decreasing and out.is_unique
