"""Extra QC/pseudo-bulk plot data built by the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pbfidelity.report.plots import cell_metric_boxes, cells_per_sample, library_sizes, sample_qc_violin


def test_cell_boxes_subsample_is_bounded_and_seeded():
    rng = np.random.default_rng(0)
    cells = pd.DataFrame(
        {
            "sample": ["S1"] * 500 + ["S2"] * 20,
            "n_genes": rng.integers(100, 900, 520),
            "pct_mito": rng.random(520) * 10,
        }
    )
    a = cell_metric_boxes(cells, "d", max_cells=100, seed=3)
    b = cell_metric_boxes(cells, "d", max_cells=100, seed=3)
    assert a == b
    assert len(a["n_genes"]["d_S1"]) == 100 and len(a["n_genes"]["d_S2"]) == 20
    assert set(a["n_genes"]["d_S1"]) <= set(cells.loc[cells["sample"] == "S1", "n_genes"].astype(float))


def test_sample_violin_headers_only_for_present_columns():
    per = pd.DataFrame({"n_cells": [10, 12], "median_counts": [1e3, np.nan]}, index=["S1", "S2"])
    data, headers = sample_qc_violin(per, "d")
    assert set(headers) == {"n_cells", "median_counts"}
    assert data["d_S2"]["median_counts"] is None


def test_library_sizes_primary_profiles_only():
    obs = pd.DataFrame(
        {
            "dataset": "d",
            "sample": ["S1", "S1", "S1", "S1"],
            "modality": ["bulk", "pseudobulk", "pseudobulk", "pseudobulk"],
            "pb_method": ["bulk", "sum", "sum", "proportion"],
            "replicate": [0, 0, 1, 0],
            "n_counts": [100.0, 80.0, 70.0, 60.0],
            "n_cells": [0, 50, 40, 30],
        }
    )
    assert library_sizes(obs) == {"d_S1": {"bulk": 100.0, "pseudo-bulk": 80.0}}
    assert cells_per_sample(obs) == {"d_S1": {"cells": 50.0}}
