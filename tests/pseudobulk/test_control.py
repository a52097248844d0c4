"""The half-split negative control and the sampling warnings of the pseudo-bulk stage."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from pbfidelity.pseudobulk.control import draw_overlap, halfsplit_cells, split_halves
from pbfidelity.simulate import SimulationParams, simulate, write_simulation


def test_split_halves_are_disjoint_complete_and_stratified():
    cells = np.arange(100, 161)
    types = np.array(["a"] * 31 + ["b"] * 20 + ["c"] * 10)
    a, b = split_halves(cells, types, np.random.default_rng(0))
    assert not set(a) & set(b) and sorted(np.r_[a, b]) == list(cells)
    for t, n in (("a", 31), ("b", 20), ("c", 10)):
        na, nb = np.isin(a, cells[types == t]).sum(), np.isin(b, cells[types == t]).sum()
        assert abs(na - nb) <= 1 and na + nb == n
    a2, _ = split_halves(cells, types, np.random.default_rng(0))
    np.testing.assert_array_equal(a, a2)


def test_proportion_halves_keep_composition_without_replacement():
    types = np.array(["x"] * 40 + ["y"] * 81 + ["z"] * 79)
    idx = np.arange(200)
    a, b = split_halves(idx, types, np.random.default_rng(1))
    plan = halfsplit_cells(idx, a, b, types, {"x": 0, "y": 70, "z": 20}, np.random.default_rng(2), 5)
    assert not plan.note and not set(plan.a) & set(plan.b)
    assert set(plan.a) <= set(a) and set(plan.b) <= set(b)
    for half in (plan.a, plan.b):
        assert np.unique(half).size == half.size  # no cell twice
        y, z = (types[half] == "y").sum(), (types[half] == "z").sum()
        assert (types[half] == "x").sum() == 0 and y / (y + z) == pytest.approx(70 / 90, abs=0.02)
    assert plan.fraction <= 0.5
    # more cells wanted than a half holds (O24-like: 90 of 79): scaled down, still no replacement
    plan = halfsplit_cells(idx, a, b, types, {"z": 90}, np.random.default_rng(3), 5)
    assert (
        plan.a.size
        == plan.b.size
        == min(np.isin(a, idx[types == "z"]).sum(), np.isin(b, idx[types == "z"]).sum())
    )
    assert np.unique(plan.a).size == plan.a.size
    tiny = halfsplit_cells(idx[:6], a, b, None, None, np.random.default_rng(4), 5)
    assert tiny.a.size == 0 and "no negative control" in tiny.note


def test_draw_overlap():
    w = sp.csr_matrix(np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [2, 0, 0, 0, 0, 1]]))
    mean, largest = draw_overlap(w)
    assert largest == pytest.approx(0.5) and mean == pytest.approx((0.5 + 0.5 + 0.5) / 3)


def test_halves_of_a_sum_partition_its_cells(tmp_path, cli):
    sim = simulate(SimulationParams(n_donors=4, cells_per_sample=120, n_genes=400))
    write_simulation(sim, tmp_path / "in")
    sheet = tmp_path / "in" / "samplesheet.csv"
    cli("qc", "--input", sheet, "--outdir", tmp_path / "qc")
    out = tmp_path / "pb"
    cli(
        "pseudobulk",
        "--input",
        sheet,
        "--cell-qc",
        tmp_path / "qc" / "cell_qc.tsv.gz",
        "--bulk-qc",
        tmp_path / "qc" / "bulk_qc.tsv",
        "--outdir",
        out,
        "--min-detection",
        "0",
    )
    prof, ctrl = ad.read_h5ad(out / "profiles.h5ad"), ad.read_h5ad(out / "negative_control.h5ad")
    assert list(ctrl.var_names) == list(prof.var_names)
    assert set(ctrl.obs["pb_method"]) == {"halfsplit"} and set(ctrl.obs["half"]) == {"A", "B"}
    for s in sim.samples.index:
        a, b = ctrl[f"sim:{s}:halfsplit_A"], ctrl[f"sim:{s}:halfsplit_B"]
        whole = prof[f"sim:{s}:sum"]
        np.testing.assert_array_equal(a.X + b.X, whole.X)  # disjoint halves of exactly the summed cells
        assert a.obs["n_cells"].iloc[0] + b.obs["n_cells"].iloc[0] == whole.obs["n_cells"].iloc[0]
        assert abs(int(a.obs["n_cells"].iloc[0]) - int(b.obs["n_cells"].iloc[0])) <= 4  # stratified halves
    summary = json.loads((out / "pseudobulk_summary.json").read_text())
    assert summary["warnings"] == []  # one single-cell sample per pair, no proportion matching
    assert summary["negative_control"]["n_pairs"] == len(sim.samples)


def test_cellbench_warnings_shared_suspension_and_replacement(cellbench_profiles):
    pb = cellbench_profiles["profiles"].parent
    summary = json.loads((pb / "pseudobulk_summary.json").read_text())
    kinds = {w["kind"]: w for w in summary["warnings"]}
    shared, repl = kinds["shared_singlecell_sample"], kinds["sampling_with_replacement"]
    assert shared["n_pairs"] == 21 and shared["sc_id"] == "celseq2"
    assert shared["max_shared_cells"] > 0.8  # e.g. two 70-cell H2228 draws from ~81 cells
    assert (repl["sample"], repl["cell_type"], repl["cells_wanted"]) == ("O24", "HCC827", 90)
    assert repl["cells_available"] < 90
    assert all(w["message"] in summary["notes"] for w in summary["warnings"])  # no longer silent
    mqc = (pb / "pbf_pseudobulk_cellbench_cellmix5_warnings_mqc.yaml").read_text()
    assert "O24" in mqc and "feeds 21 pairs" in mqc
    ctrl = ad.read_h5ad(pb / "negative_control.h5ad")
    assert len(ctrl) == 42 and (ctrl.obs["n_cells"] <= 45).all() and (ctrl.obs["n_cells"] >= 35).all()
