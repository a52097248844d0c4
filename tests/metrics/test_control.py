"""The bulk-vs-pseudo-bulk discrepancy against the half-split cell-sampling floor."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest

from pbfidelity.cli import dispatch
from pbfidelity.errors import UserError
from pbfidelity.metrics import correlation as corr
from pbfidelity.metrics.control import compare_with_control, thin
from pbfidelity.metrics.selection import primary_comparison
from pbfidelity.normalize import log1p_cpm


def floor(profiles, classifier: bool = True) -> tuple:
    """compare_with_control on a pseudobulk output folder's profiles.h5ad + negative_control.h5ad."""
    comp = primary_comparison(ad.read_h5ad(profiles))
    logx = log1p_cpm(comp.counts)
    mp = corr.matched_pair_table(logx, comp.pairs, corr.pearson_matrix(logx), corr.spearman_matrix(logx))
    ctrl = ad.read_h5ad(profiles.parent / "negative_control.h5ad")
    return compare_with_control(ctrl, comp, mp, classifier=classifier)


def test_thin_reaches_the_depth_and_never_adds():
    x = np.array([1000.0, 0, 50, 3])
    y = thin(x, 500, np.random.default_rng(0))
    assert 450 < y.sum() < 550 and (y <= x).all()
    np.testing.assert_array_equal(thin(x, 5000, np.random.default_rng(0)), x)


def test_planted_discrepancy_is_far_above_the_floor_and_null_is_not(sim_planted, sim_null):
    table, planted = floor(sim_planted[0])
    _, null = floor(sim_null[0], classifier=False)
    assert len(table) == planted["n_pairs_compared"] == 12
    assert planted["distance_ratio_depth_matched"] > 2 and planted["pairs_above_floor"] == 12
    assert null["distance_ratio_depth_matched"] < 0.6 * planted["distance_ratio_depth_matched"]
    # independent donors: halves of different donors share nothing, the classifier is at chance
    assert planted["auroc_ci_low"] < 0.5 < planted["auroc_ci_high"]
    assert "x that between two disjoint cell halves" in planted["statement"]


def test_control_from_another_run_is_a_user_error(sim_planted, cellbench_profiles):
    comp = primary_comparison(ad.read_h5ad(sim_planted[0]))
    comp.dataset = "cellbench_cellmix5"
    ctrl = ad.read_h5ad(cellbench_profiles["profiles"].parent / "negative_control.h5ad")
    with pytest.raises(UserError, match="lacks .* gene"):
        compare_with_control(ctrl, comp, None)


@pytest.mark.realdata
def test_cellbench_exchangeable_null_sits_below_the_floor(cellbench_null_profiles):
    _, s = floor(cellbench_null_profiles["profiles"], classifier=False)
    # null bulk and pseudo-bulk are draws from the same cells, even closer than two disjoint halves
    assert s["distance_ratio_depth_matched"] < 1 and s["pairs_above_floor"] == 0


@pytest.mark.realdata
def test_cellbench_half_split_sits_at_the_floor(shared_data, tmp_path):
    """bulk = cells of half A of the suspension, pseudo-bulk = half B: the primary AUROC is 1.0 (issue #12);
    the control shows the same separation from cell sampling alone and a distance ratio near 1."""
    ann = shared_data / "genesets" / "human_gene_annotation.tsv.gz"
    inp, qc, pb = tmp_path / "in", tmp_path / "qc", tmp_path / "pb"
    sheet = str(inp / "samplesheet.csv")
    dispatch(
        [
            "recipe",
            "cellbench",
            "--data-dir",
            str(shared_data / "cellbench"),
            "--outdir",
            str(inp),
            "--half-split-null",
            "--seed",
            "42",
            "-q",
        ]
    )
    dispatch(["qc", "--input", sheet, "--outdir", str(qc), "--gene-annotation", str(ann), "-q"])
    dispatch(
        [
            "pseudobulk",
            "--input",
            sheet,
            "--cell-qc",
            str(qc / "cell_qc.tsv.gz"),
            "--bulk-qc",
            str(qc / "bulk_qc.tsv"),
            "--proportions",
            str(inp / "proportions.tsv"),
            "--gene-annotation",
            str(ann),
            "--outdir",
            str(pb),
            "-q",
        ]
    )
    _, s = floor(pb / "profiles.h5ad")
    assert 0.8 < s["distance_ratio_depth_matched"] < 1.25
    assert s["auroc"] > 0.9  # cell sampling alone separates profiles drawn from two halves of one suspension
    assert "cell sampling alone makes these profiles distinguishable" in s["statement"]
