import numpy as np
import pandas as pd

from pbfidelity.metrics.genes import gene_bias, mean_density


def test_bias_sign_and_detection():
    cpm = np.array([[100.0, 10, 0], [120, 10, 0], [25, 10, 5], [30, 10, 5]])
    counts = cpm.copy()
    is_bulk = np.array([True, True, False, False])
    pairs = pd.DataFrame({"sample": ["a", "b"], "donor": ["a", "b"], "bulk": [0, 1], "pseudobulk": [2, 3]})
    t = gene_bias(cpm, counts, is_bulk, pairs, pd.Index(["up", "flat", "pbonly"]))
    assert t.loc["up", "log2_bias"] > 1.5 and abs(t.loc["flat", "log2_bias"]) < 1e-12
    assert t.loc["pbonly", "log2_bias"] < 0
    assert t.loc["pbonly", "detection_diff"] == -1.0 and t.attrs["bias_basis"] == "matched pairs"
    d = mean_density(t)
    assert (
        list(d.columns) == ["mean_logcpm", "bulk", "pseudobulk"]
        and (d[["bulk", "pseudobulk"]] >= 0).all().all()
    )
