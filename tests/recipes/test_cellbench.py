"""The CellBench recipe: the real pairing, and the exchangeable null built from the same single cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pbfidelity.errors import UserError
from pbfidelity.recipes.cellbench import CELL_LINES, null_bulk


def _toy(n_per_line: int = 5):
    lines = pd.Series(np.repeat(CELL_LINES, n_per_line), index=[f"c{i}" for i in range(3 * n_per_line)])
    # cell i has count i+1 of gene g0 and 1 of gene g1: a sum identifies how often each cell was drawn
    counts = pd.DataFrame(
        [np.arange(1, lines.size + 1), np.ones(lines.size, dtype=int)],
        index=["g0", "g1"],
        columns=lines.index,
    )
    return counts, lines


def test_null_bulk_draws_the_pool_numbers_from_the_single_cells():
    counts, lines = _toy()
    numbers = pd.DataFrame({"H1975": [2, 0], "H2228": [3, 1], "HCC827": [0, 7]}, index=["P1", "P2"])
    bulk, notes = null_bulk(counts, lines, numbers, seed=1)
    assert list(bulk.columns) == ["P1", "P2"]
    np.testing.assert_array_equal(bulk.loc["g1"].to_numpy(), [5, 8])  # one count of g1 per drawn cell
    # P1 without replacement: 2 distinct H1975 cells (counts 1..5) + 3 distinct H2228 cells (6..10)
    assert 1 + 2 + 6 + 7 + 8 <= bulk.loc["g0", "P1"] <= 4 + 5 + 8 + 9 + 10
    assert notes == ["pool P2: 7 HCC827 cells drawn with replacement from 5"]  # said, not silent
    again, _ = null_bulk(counts, lines, numbers, seed=1)
    other, _ = null_bulk(counts, lines, numbers, seed=2)
    pd.testing.assert_frame_equal(bulk, again)  # seeded
    assert not bulk.equals(other)


def test_null_bulk_missing_line_is_a_user_error():
    counts, lines = _toy()
    lines = lines.replace("HCC827", "H1975")
    with pytest.raises(UserError, match="needs 1 HCC827"):
        null_bulk(counts, lines, pd.DataFrame({"H1975": [1], "H2228": [0], "HCC827": [1]}, index=["P"]), 0)


def test_exchangeable_null_layout_matches_the_real_recipe(shared_data, tmp_path, cli):
    real, null = tmp_path / "real", tmp_path / "null"
    data = shared_data / "cellbench"
    cli("recipe", "cellbench", "--data-dir", data, "--outdir", real)
    cli("recipe", "cellbench", "--data-dir", data, "--outdir", null, "--exchangeable-null", "--seed", "3")
    s_real = pd.read_csv(real / "samplesheet.csv")
    s_null = pd.read_csv(null / "samplesheet.csv")
    assert list(s_null.columns) == list(s_real.columns)
    assert (s_null["dataset"] == "cellbench_cellmix5_null").all()
    pd.testing.assert_frame_equal(s_null.drop(columns="dataset"), s_real.drop(columns="dataset"))
    b_null = pd.read_csv(null / "bulk_cellmix5.tsv", sep="\t", index_col=0)
    b_real = pd.read_csv(real / "bulk_cellmix5.tsv", sep="\t", index_col=0)
    assert list(b_null.columns) == list(b_real.columns)
    sc = pd.read_csv(data / "sc_celseq2.count.csv.gz", index_col=0, usecols=[0, 1])
    assert list(b_null.index) == list(sc.index)  # genes of the single cells, not of the pools
    # a pool's null bulk is about as deep as 90 single cells (the real pools are 5-10x shallower)
    assert b_null.sum().min() > 2 * b_real.sum().max()
    notes = (null / "null_notes.txt").read_text()
    assert "seed 3" in notes and "O24: 90 HCC827 cells drawn with replacement from 79" in notes


def test_null_fixture_profiles_are_exchangeable_in_depth_and_size(cellbench_null_profiles):
    import anndata as ad

    prof = ad.read_h5ad(cellbench_null_profiles["profiles"])
    o = prof.obs
    bulk = o[o["modality"] == "bulk"]
    pb = o[(o["modality"] == "pseudobulk") & (o["pb_method"] == "proportion")]
    assert len(bulk) == len(pb) == 21
    assert set(o["dataset"]) == {cellbench_null_profiles["dataset"]}
    depth = bulk.set_index("sample")["n_counts"] / pb.set_index("sample")["n_counts"]
    assert depth.between(0.7, 1.4).all()  # both sides are sums of 90 CEL-seq2 cells
