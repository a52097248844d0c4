import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.qc.cells import CellQCParams, cell_metrics, flag_cells, mad_outliers, sample_cutoffs


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


def test_sample_cutoffs_are_the_thresholds_flag_cells_applies():
    """A cell lies outside its sample's reported cut-offs exactly when flag_cells flags it (per metric)."""
    rng = np.random.default_rng(3)
    n = 400
    m = pd.DataFrame(
        {
            "total_counts": np.r_[rng.lognormal(8, 0.4, n), rng.lognormal(10, 0.4, n)].round(),
            "n_genes": np.r_[rng.lognormal(6, 0.3, n), rng.lognormal(7, 0.3, n)].round(),
            "pct_mito": np.r_[rng.gamma(2, 2, n), rng.gamma(2, 6, n)],
        }
    )
    groups = np.repeat(["a", "b"], n)
    params = CellQCParams(nmads_counts=2, nmads_genes=2, nmads_mito=2, max_pct_mito=25)
    flags = flag_cells(m, groups, params)
    cut = sample_cutoffs(m, groups, params).loc[groups].reset_index(drop=True)
    tol = 1e-6
    out_counts = (m["total_counts"] < cut["min_counts"] - tol) | (m["total_counts"] > cut["max_counts"] + tol)
    out_genes = (m["n_genes"] < cut["min_genes"] - tol) | (m["n_genes"] > cut["max_genes"] + tol)
    out_mito = m["pct_mito"] > cut["max_pct_mito"] + tol
    assert out_counts.sum() > 0 and out_genes.sum() > 0 and out_mito.sum() > 0
    np.testing.assert_array_equal(out_counts.to_numpy(), flags["outlier_counts"].to_numpy())
    np.testing.assert_array_equal(out_genes.to_numpy(), flags["outlier_genes"].to_numpy())
    np.testing.assert_array_equal(out_mito.to_numpy(), flags["outlier_mito"].to_numpy())
    # sample b has higher counts: its cut-offs are its own, not a pooled threshold
    per = sample_cutoffs(m, groups, params)
    assert per.loc["b", "min_counts"] > per.loc["a", "min_counts"] and per.index.tolist() == ["a", "b"]
