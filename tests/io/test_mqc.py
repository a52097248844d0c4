"""MultiQC custom content: numeric x values stay numbers (else MultiQC sorts them as text)."""

import numpy as np
import yaml

from pbfidelity.io.mqc import to_builtin, write_mqc


def test_numeric_keys_stay_numeric_and_nonfinite_become_null(tmp_path):
    out = to_builtin({np.int64(10): np.float32(0.5), 2.5: float("nan"), np.float64(100.0): 1, "a": True})
    assert out == {10: 0.5, 2.5: None, 100: 1, "a": True}
    path = write_mqc(tmp_path, "x_curve", "curve", "d", "linegraph", {"s": {10: 0.1, 100: 0.2, 20: 0.3}})
    data = yaml.safe_load(path.read_text())["data"]["s"]
    assert all(isinstance(k, int) for k in data) and sorted(data) == [10, 20, 100]


def test_table_columns_get_formats_and_readable_titles(tmp_path):
    import pandas as pd

    from pbfidelity.io.mqc import write_mqc_table

    table = pd.DataFrame(
        {"matched_pair_r": [0.951, 0.916], "permutation_p": [0.001, 0.2], "padj": [1e-9, 0.04],
         "n_genes": [400, 12], "auroc_ci_low": [0.87, 0.5], "verdict": ["distinguishable", "no difference"], "pass_qc": [True, False]},
        index=["a", "b"],
    )
    doc = yaml.safe_load(write_mqc_table(tmp_path, "t", "T", "d", table).read_text())
    h = doc["headers"]
    assert h["matched_pair_r"]["format"] == "{:,.3f}" and h["auroc_ci_low"]["format"] == "{:,.3f}"
    assert h["permutation_p"]["format"] == "{:.2e}" and h["padj"]["format"] == "{:.2e}"
    assert h["n_genes"]["format"] == "{:,.0f}" and "format" not in h["verdict"]
    assert "format" not in h["pass_qc"]  # MultiQC fails on a number format for booleans
    assert h["auroc_ci_low"]["title"] == "AUROC CI low" and h["n_genes"]["title"] == "n genes"
    assert doc["data"]["a"]["matched_pair_r"] == 0.951  # values are never rounded, only displayed
