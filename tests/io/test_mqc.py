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
