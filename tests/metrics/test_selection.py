import numpy as np
import pytest

from pbfidelity.errors import StageSkipped, UserError
from pbfidelity.metrics.selection import primary_comparison


def test_bootstrap_and_per_type_rows_are_excluded(toy):
    comp = primary_comparison(toy)
    assert comp.n_bulk == comp.n_pseudobulk == 8 and len(comp.pairs) == 8
    assert comp.excluded["bootstrap_replicates"] == 1 and comp.excluded["per_cell_type"] == 1
    assert set(comp.obs.index) == {f"p{i}" for i in range(16)}
    # pairs point at the same sample in each modality
    for p in comp.pairs.itertuples():
        assert comp.obs.iloc[p.bulk]["sample"] == comp.obs.iloc[p.pseudobulk]["sample"] == p.sample
        assert comp.obs.iloc[p.bulk]["modality"] == "bulk"


def test_proportion_preferred_over_sum_and_choosable(toy):
    obs = toy.obs.copy()
    extra = toy[toy.obs["pb_method"] == "sum"].copy()
    extra.obs["pb_method"] = "proportion"
    extra.obs_names = [f"q{i}" for i in range(extra.n_obs)]
    import anndata as ad

    both = ad.concat([toy, extra])
    assert primary_comparison(both).pb_method == "proportion"
    comp = primary_comparison(both, pb_method="sum")
    assert comp.pb_method == "sum" and comp.excluded["other_pb_methods"] == 8
    with pytest.raises(UserError, match="no primary pseudo-bulk with pb_method 'mean'"):
        primary_comparison(both, pb_method="mean")
    assert obs.equals(toy.obs)


def test_too_few_profiles_skip_and_dataset_choice(toy):
    one_bulk = toy[~((toy.obs["modality"] == "bulk") & (toy.obs["sample"] != "S0"))].copy()
    with pytest.raises(StageSkipped, match="1 bulk"):
        primary_comparison(one_bulk)
    two = toy.copy()
    two.obs["dataset"] = np.where(np.arange(two.n_obs) < 8, "a", "b")
    with pytest.raises(UserError, match="choose one with --dataset"):
        primary_comparison(two)
    with pytest.raises(UserError, match=r"profiles: no dataset 'zzz' \(datasets: \['a', 'b'\]\)"):
        primary_comparison(two, dataset="zzz")


def test_all_zero_genes_dropped(toy):
    t = toy.copy()
    t.X[:, 5] = 0
    comp = primary_comparison(t)
    assert "G0005" not in comp.genes and comp.excluded["genes_all_zero"] >= 1
    assert comp.counts.shape == (16, len(comp.genes))
