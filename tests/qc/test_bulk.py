import numpy as np
import pandas as pd

from pbfidelity.qc.bulk import bulk_metrics, replicate_outliers


def test_replicate_outlier_rule():
    u = pd.Series({"a": 100, "b": 120, "c": 90, "d": 400, "e": 20})
    assert replicate_outliers(u).tolist() == [False, False, False, True, True]
    assert not replicate_outliers(pd.Series({"a": 0, "b": 0})).any()


def test_bulk_metrics():
    counts = pd.DataFrame({"s1": [10, 0, 30], "s2": [0, 0, 5]}, index=["MT-CO1", "G2", "G3"])
    m = bulk_metrics(counts, np.array([True, False, False]))
    assert m.loc["s1", "library_size"] == 40 and m.loc["s1", "n_genes"] == 2 and m.loc["s1", "pct_mito"] == 25.0
