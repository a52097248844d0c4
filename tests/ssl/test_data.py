import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.errors import UserError
from pbfidelity.ssl.data import from_profiles


def _profiles() -> ad.AnnData:
    rows = []
    for i in range(4):
        base = {
            "dataset": "d",
            "sample": f"S{i}",
            "donor": f"D{i}",
            "phenotype": "case" if i % 2 else "control",
        }
        rows.append({**base, "modality": "bulk", "pb_method": "bulk", "replicate": 0, "cell_type": np.nan})
        rows.append(
            {**base, "modality": "pseudobulk", "pb_method": "sum", "replicate": 0, "cell_type": np.nan}
        )
        rows.append(
            {**base, "modality": "pseudobulk", "pb_method": "bootstrap", "replicate": 1, "cell_type": np.nan}
        )
        rows.append({**base, "modality": "pseudobulk", "pb_method": "sum", "replicate": 0, "cell_type": "T"})
    obs = pd.DataFrame(rows, index=[f"p{i}" for i in range(len(rows))])
    obs.loc["p0", "phenotype"] = ""
    x = np.random.default_rng(0).poisson(5, size=(len(rows), 7)).astype(np.float32)
    return ad.AnnData(x, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(7)]))


def test_from_profiles_roles():
    data = from_profiles(_profiles(), "phenotype")
    assert len(data.obs) == 12  # per-cell-type rows dropped
    assert data.obs["primary"].sum() == 8  # bulk + sum pseudo-bulk of replicate 0
    lab = data.obs.iloc[data.labelled]
    assert (lab["modality"] == "bulk").all() and len(lab) == 3  # p0 has an empty label
    assert data.classes == ["case", "control"] and data.name == "d"
    pb = from_profiles(_profiles(), "phenotype", eval_modality="pseudobulk")
    assert len(pb.labelled) == 4


def test_missing_label_column_is_a_user_error():
    with pytest.raises(UserError, match="no column 'nope'"):
        from_profiles(_profiles(), "nope")


def test_with_extra_keeps_shared_genes_and_never_labels_extra_rows():
    data = from_profiles(_profiles(), "phenotype")
    extra = data.with_extra(
        np.ones((3, 6), np.float32), [f"g{j}" for j in range(1, 7)], ["a", "b", "c"], "x.tsv"
    )
    assert extra.genes == [f"g{j}" for j in range(1, 7)] and extra.values.shape == (15, 6)
    assert extra.obs["extra"].sum() == 3 and np.array_equal(extra.labelled, data.labelled)
    with pytest.raises(UserError, match="genes are shared"):
        data.with_extra(np.ones((1, 2)), ["zz", "g1"], ["a"], "x.tsv")
