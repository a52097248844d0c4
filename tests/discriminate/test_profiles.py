import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.discriminate.profiles import choose_pb_method, select_profiles
from pbfidelity.errors import StageSkipped, UserError


def _profiles(n_donors=4, methods=("sum", "proportion"), n_reps=2, cell_types=False) -> ad.AnnData:
    rows = []
    for d in range(n_donors):
        s = f"S{d}"
        rows.append({"sample": s, "donor": f"D{d}", "modality": "bulk", "pb_method": "bulk", "replicate": 0})
        for m in methods:
            rows.append(
                {"sample": s, "donor": f"D{d}", "modality": "pseudobulk", "pb_method": m, "replicate": 0}
            )
        for k in range(1, n_reps + 1):
            rows.append(
                {
                    "sample": s,
                    "donor": f"D{d}",
                    "modality": "pseudobulk",
                    "pb_method": "bootstrap",
                    "replicate": k,
                }
            )
        if cell_types:
            rows.append(
                {
                    "sample": s,
                    "donor": f"D{d}",
                    "modality": "pseudobulk",
                    "pb_method": "sum",
                    "replicate": 0,
                    "cell_type": "T",
                }
            )
    obs = pd.DataFrame(rows)
    obs["dataset"] = "ds"
    obs["n_cells"] = 10
    obs["n_counts"] = 100
    obs.index = [f"p{i}" for i in range(len(obs))]
    x = np.random.default_rng(0).poisson(5, size=(len(obs), 30))
    return ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(30)]))


def test_auto_prefers_proportion_and_keeps_replicates_with_their_donor():
    ps = select_profiles(_profiles(cell_types=True), "ds")
    assert ps.pb_method == "proportion"
    methods = set(ps.obs.loc[ps.obs["modality"] == "pseudobulk", "pb_method"])
    assert methods == {"proportion", "bootstrap"}
    assert "cell_type" not in ps.obs or ps.obs["cell_type"].isna().all()
    assert ps.y.sum() == 4 and (ps.y == 0).sum() == 4 * 3
    reps = ps.obs[ps.obs["replicate"] > 0]
    assert (reps["donor"] == reps["sample"].str.replace("S", "D")).all()


def test_explicit_method_and_no_replicates():
    ps = select_profiles(_profiles(), "ds", pb_method="sum", replicates=False)
    assert set(ps.obs["pb_method"]) == {"bulk", "sum"}
    assert len(ps.matched_pairs()) == 4
    with pytest.raises(UserError, match="pseudo-bulk method 'mean'"):
        select_profiles(_profiles(), "ds", pb_method="mean")


def test_too_few_donors_or_one_modality_is_skipped():
    with pytest.raises(StageSkipped, match="2 donor"):
        select_profiles(_profiles(n_donors=2), "ds")
    a = _profiles()
    with pytest.raises(StageSkipped, match="both bulk and pseudo-bulk"):
        select_profiles(a[a.obs["modality"] == "bulk"].copy(), "ds")
    with pytest.raises(UserError, match="no profiles of dataset 'other'"):
        select_profiles(a, "other")


def test_choose_pb_method_falls_back_to_sum():
    obs = pd.DataFrame({"modality": ["pseudobulk"] * 2, "pb_method": ["sum", "bootstrap"]})
    assert choose_pb_method(obs) == "sum"
