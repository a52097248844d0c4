import numpy as np
import pandas as pd

from pbfidelity.metrics.analysis import MetricsParams, compute_metrics
from pbfidelity.metrics.selection import primary_comparison


def test_simulation_fidelity_numbers(planted_result):
    res, truth = planted_result
    s = res.summary
    # must-show: matched-pair correlation exceeds unmatched, and the permutation test says so
    assert s["matched_pair_r"] > s["unmatched_pair_r"] and s["matched_vs_unmatched_p"] <= 0.01
    lo, hi = s["matched_pair_r_ci95"]
    assert lo <= s["matched_pair_r"] <= hi
    assert s["n_matched_pairs"] == 12 and s["excluded"]["bootstrap_replicates"] == 24
    assert s["separating_component"] is not None and s["separating_components"]["sparse_pca"]["separates"]
    # the separating sparse component's genes overlap the DE genes (paper's F1), and hold planted genes
    assert s["f1_overlap"] > 0.7
    load = res.tables["sparse_loadings"].set_index("gene")[s["separating_component"]]
    chosen = set(load.index[load != 0])
    assert len(chosen & set(truth["distorted_genes"])) / len(chosen) > 0.7
    assert 0 < s["ccc_mean"] <= s["matched_pair_r"] + 1e-9 and s["rmse_mean"] > 0
    assert np.isfinite(res.pearson).all()


def test_null_simulation_no_separating_component(null_result):
    s = null_result[0].summary
    assert s["separating_component"] is None and s["n_de"] <= 20
    assert s["matched_pair_r"] > s["unmatched_pair_r"]  # donors still pair up without distortion


def test_bootstrap_rows_do_not_change_results(toy):
    """Bootstrap pseudo-replicates and per-type rows are excluded: dropping them changes nothing."""
    p = MetricsParams(n_permutations=49, n_components=3)
    full = compute_metrics(primary_comparison(toy), p)
    clean = toy[(toy.obs["replicate"] == 0) & (toy.obs["cell_type"] == "")].copy()
    bare = compute_metrics(primary_comparison(clean), p)
    for name in ("de_results", "correlation_pairs", "components", "gene_bias"):
        pd.testing.assert_frame_equal(full.tables[name], bare.tables[name])
