import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pbfidelity.errors import UserError
from pbfidelity.io.genes import (
    GeneAnnotation,
    choose_target,
    harmonise_ids,
    intersection_report,
    strip_version,
)


@pytest.fixture
def annotation(tmp_path):
    p = tmp_path / "ann.tsv"
    p.write_text("ENTREZID\tENSEMBL\tSYMBOL\tGENETYPE\tCHR\n1\tENSG00000000001\tAAA\tprotein-coding\t1\n"
                 "2\tENSG00000000002\tBBB\tprotein-coding\tMT\n3\tENSG00000000003\tBBB\tpseudo\t2\n")
    return GeneAnnotation.read(p)


def test_strip_version():
    assert strip_version("ENSG00000141510.17") == "ENSG00000141510"
    assert strip_version("ENSG00000182378.14_PAR_Y") == "ENSG00000182378_PAR_Y"
    assert strip_version("TP53.1") == "TP53.1"


def test_versions_collapse_by_summing():
    h = harmonise_ids(["ENSG00000000001.1", "ENSG00000000001.2", "ENSG00000000009.1"])
    assert list(h.ids) == ["ENSG00000000001", "ENSG00000000009"]
    x = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(h.apply(x), [[3, 3], [9, 6]])
    assert h.report["n_collapsed"] == 1 and h.report["n_version_stripped"] == 3


def test_symbols_mapped_to_ensembl_unmapped_kept(annotation):
    h = harmonise_ids(["AAA", "BBB", "ZZZ"], "ensembl", annotation)
    assert list(h.ids) == ["ENSG00000000001", "ENSG00000000002", "ZZZ"]
    assert h.report["n_mapped"] == 2 and h.report["n_unmapped_kept"] == 1


def test_mismatched_namespaces_need_annotation(annotation):
    with pytest.raises(UserError, match="pass --gene-annotation"):
        choose_target(pd.Index(["ENSG00000000001"]), pd.Index(["AAA"]), None)
    assert choose_target(pd.Index(["ENSG00000000001"]), pd.Index(["AAA"]), annotation) == "ensembl"
    assert choose_target(pd.Index(["AAA"]), pd.Index(["BBB"]), None) is None


def test_intersection_report_counts_what_is_lost():
    r = intersection_report(pd.Index(["a", "b", "c"]), pd.Index(["b", "c", "d"]), np.array([10.0, 5, 5]),
                            np.array([1.0, 1, 2]))
    assert r["n_shared"] == 2 and r["n_bulk_only"] == 1 and r["n_singlecell_only"] == 1
    assert r["bulk_counts_outside_shared"] == pytest.approx(0.5)
    assert r["singlecell_counts_outside_shared"] == pytest.approx(0.5)


ids = st.lists(st.sampled_from(["ENSG00000000001", "ENSG00000000001.3", "ENSG00000000002.1", "AAA", "BBB",
                                "ENSG00000000003", "CCC"]), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(ids=ids, seed=st.integers(0, 1000))
def test_harmonisation_idempotent_and_count_preserving(ids, seed):
    rng = np.random.default_rng(seed)
    x = sp.csr_matrix(rng.integers(0, 9, size=(4, len(ids))))
    h1 = harmonise_ids(ids)
    y = h1.apply(x)
    assert y.sum() == x.sum()  # no count lost
    np.testing.assert_array_equal(np.asarray(y.sum(axis=1)).ravel(), np.asarray(x.sum(axis=1)).ravel())
    h2 = harmonise_ids(h1.ids)
    assert list(h2.ids) == list(h1.ids)
    assert (h2.apply(y) != y).nnz == 0
