import numpy as np
import pytest

from pbfidelity.errors import UserError
from pbfidelity.ssl.datasets import load_benchmark, read_unlabeled, tcga_sample_type


def test_tcga_sample_type_codes():
    assert tcga_sample_type("TCGA-3X-AAV9-01A-72R-A41I-07") == "tumour"
    assert tcga_sample_type("TCGA-3X-AAV9-11A-72R-A41I-07") == "normal"


@pytest.fixture(scope="module")
def tcga_cohort(shared_data):
    return load_benchmark("tcga5_cohort", shared_data)


@pytest.mark.realdata
def test_tcga5_cohort(tcga_cohort):
    d = tcga_cohort
    assert d.values.shape[0] == 309 and len(d.labelled) == 309
    assert d.classes == ["ACC", "CHOL", "DLBC", "UCS", "UVM"]
    assert (d.obs["group"].str.len() == 12).all() and d.obs[
        "group"
    ].nunique() < 309  # CHOL tumour+normal pairs
    assert np.isfinite(d.values).all() and (d.values >= 0).all()


@pytest.mark.realdata
def test_tcga5_tumour_normal(shared_data):
    d = load_benchmark("tcga5_tumour_normal", shared_data)
    lab = d.obs.iloc[d.labelled]
    assert lab["label"].value_counts().to_dict() == {"tumour": 36, "normal": 9}
    assert d.obs["extra"].sum() == 309 - 45 and d.obs.loc[d.obs["extra"], "label"].isna().all()


@pytest.mark.realdata
def test_islets(shared_data):
    d = load_benchmark("islets_t2d", shared_data)
    assert len(d.labelled) == 77 and d.classes == ["Normal", "T2D"]
    assert d.obs["group"].is_unique and d.values.dtype == np.float32


def test_unknown_benchmark_and_unlabeled_reader(tmp_path):
    with pytest.raises(UserError, match="unknown benchmark"):
        load_benchmark("nope", tmp_path)
    path = tmp_path / "extra.tsv"
    path.write_text("gene\ta\tb\ng1\t1\t2\ng2\t3\t4\n")
    values, genes, ids = read_unlabeled(path)
    assert values.shape == (2, 2) and genes == ["g1", "g2"] and ids == ["a", "b"] and values[1, 0] == 2
    path.write_text("gene\ta\ng1\t-1\n")
    with pytest.raises(UserError, match="negative"):
        read_unlabeled(path)
