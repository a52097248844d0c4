import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.qc.cells import CellQCParams, cell_metrics, flag_cells, mad_outliers


def test_cell_metrics():
    X = sp.csr_matrix(np.array([[5, 5, 0, 10], [0, 0, 0, 0]]))
    m = cell_metrics(X, np.array([True, False, False, False]), np.array([False, True, False, False]))
    assert m["total_counts"].tolist() == [20, 0] and m["n_genes"].tolist() == [3, 0]
    assert m.loc[0, "pct_mito"] == 25.0 and m.loc[0, "pct_ribo"] == 25.0 and m.loc[1, "pct_mito"] == 0.0


def test_mad_outliers_sides():
    v = np.array([10.0, 11, 9, 10, 10.5, 9.5, 30])
    assert mad_outliers(v, 5).tolist() == [False] * 6 + [True]
    assert not mad_outliers(v, 5, side="lower").any()
    assert not mad_outliers(np.ones(5), 3).any()  # zero MAD flags nothing


def test_flags_are_per_sample():
    m = pd.DataFrame({"total_counts": [100, 110, 90, 105, 1000, 1100, 900, 1050],
                      "n_genes": [50, 55, 45, 52, 500, 550, 450, 520], "pct_mito": [1.0] * 8, "pct_ribo": 0.0})
    out = flag_cells(m, np.array(["a"] * 4 + ["b"] * 4), CellQCParams())
    assert out["pass_qc"].all()  # pooled, sample a would look like outliers; per sample it does not
