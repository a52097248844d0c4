"""Graded presets, effect-size options, the new noise/sampling effects and the complete ground truth (#13)."""

import json

import numpy as np
import pytest

from pbfidelity.simulate import SimulationParams, simulate
from pbfidelity.simulate.model import PRESETS

SMALL = dict(n_donors=6, n_cell_types=3, cells_per_sample=150, n_genes=800)


def _pseudobulk(sim):
    c = sim.cells
    return np.vstack([np.asarray(c.X[(c.obs["sample"] == s).to_numpy()].sum(0)).ravel() for s in sim.samples.index])


def _log2_ratio(sim):
    """Per donor log2(bulk / pseudo-bulk) expression fractions (+ pseudocount), and mean expression."""
    b = sim.bulk[sim.samples["bulk_id"]].T.to_numpy().astype(float)
    p = _pseudobulk(sim).astype(float)
    fb, fp = b / b.sum(1, keepdims=True), p / p.sum(1, keepdims=True)
    return np.log2(fb + 1e-6) - np.log2(fp + 1e-6), (fb + fp).mean(0) / 2


def test_presets_set_fields_and_explicit_values_override():
    hard = SimulationParams.from_preset("hard", **SMALL)
    assert hard.preset == "hard" and hard.donor_sd == PRESETS["hard"]["donor_sd"] and hard.sample_noise_sd > 0
    over = SimulationParams.from_preset("hard", **SMALL, donor_sd=0.1)
    assert over.donor_sd == 0.1 and over.capture_log_fc == hard.capture_log_fc
    easy, very = (SimulationParams.from_preset(n, **SMALL) for n in ("easy", "very-hard"))
    assert easy.capture_log_fc > hard.capture_log_fc > very.capture_log_fc
    assert easy.sample_noise_sd < hard.sample_noise_sd < very.sample_noise_sd
    assert SimulationParams.from_preset("null").null and SimulationParams.from_preset("null-depth").depth_ratio == 0.2
    with pytest.raises(ValueError, match="unknown preset"):
        SimulationParams.from_preset("medium")
    with pytest.raises(ValueError, match="doublet_rate"):
        SimulationParams(doublet_rate=1.5)


def test_default_parameters_draw_nothing_new():
    """New effects default to off and then consume no random numbers: the default output is unchanged."""
    a = simulate(SimulationParams(**SMALL))
    b = simulate(SimulationParams(**SMALL, sample_noise_sd=0.0, doublet_rate=0.0, dissociation_capture=1.0,
                                  effect_spread=0.0, depth_ratio=0.0))
    assert (a.cells.X != b.cells.X).nnz == 0 and a.bulk.equals(b.bulk) and a.truth["doublets"] == []


def test_sample_noise_is_per_modality_and_widens_pair_differences():
    quiet = simulate(SimulationParams(**SMALL, null=True))
    noisy = simulate(SimulationParams(**SMALL, null=True, sample_noise_sd=0.4))
    (rq, m), (rn, _) = _log2_ratio(quiet), _log2_ratio(noisy)
    well = m > np.quantile(m, 0.5)  # well-expressed genes: sampling noise small
    assert rn[:, well].std() > 1.5 * rq[:, well].std()
    assert abs(np.median(rn[:, well])) < 0.1  # noise, not a shift


def test_dissociation_under_captures_the_last_cell_types():
    sim = simulate(SimulationParams(**SMALL, dissociation_capture=0.3, undercaptured_types=1, mrna_content_log_range=0))
    sc = sim.cells.obs.groupby("sample", observed=True)["cell_type"].value_counts(normalize=True).unstack()
    tissue = sim.proportions.loc[sc.index]
    assert (sc["ct3"] < tissue["ct3"]).all() and (sc["ct1"] > tissue["ct1"]).all()
    markers = set(sim.truth["celltype_markers"]["ct3"])
    shifted = {g for g, v in sim.truth["affected_genes"].items() if v["class"] == "celltype_composition"}
    assert len(markers & shifted) >= 0.8 * len(markers)
    assert all(sim.truth["affected_genes"][g]["log2fc"] > 0 for g in markers & shifted)  # bulk-up: under-captured


def test_doublets_are_listed_and_hold_two_cells():
    sim = simulate(SimulationParams(**SMALL, doublet_rate=0.1, low_quality_fraction=0.0))
    dbl = sim.truth["doublets"]
    assert len(dbl) == 6 * 15 and len(set(dbl)) == len(dbl)
    totals = np.asarray(sim.cells.X.sum(1)).ravel()
    is_dbl = sim.cells.obs_names.isin(dbl)
    assert np.median(totals[is_dbl]) > 1.6 * np.median(totals[~is_dbl])


def test_null_depth_preset_is_a_pure_depth_mismatch():
    sim = simulate(SimulationParams.from_preset("null-depth", **SMALL))
    ratio = np.median(sim.bulk.sum(0).to_numpy() / _pseudobulk(sim).sum(1))
    assert 0.15 < ratio < 0.27, ratio
    assert sim.truth["affected_genes"] == {} and sim.truth["distorted_genes"] == []


@pytest.mark.parametrize("preset", ["easy", "hard"])
def test_ground_truth_lists_every_shifted_gene_with_its_true_fold_change(preset):
    """The listed log2FC matches the observed shift, and no unlisted well-expressed gene is clearly shifted
    (markers moved by mRNA content / composition are listed too, so precision is not deflated)."""
    sim = simulate(SimulationParams.from_preset(preset, n_donors=10, n_cell_types=4, cells_per_sample=400,
                                                n_genes=1500, sample_noise_sd=0.0, doublet_rate=0.0,
                                                low_quality_fraction=0.0))
    r, m = _log2_ratio(sim)
    obs = r.mean(0)
    obs -= np.median(obs)
    genes = np.asarray(sim.cells.var_names)
    aff = sim.truth["affected_genes"]
    classes = {v["class"] for v in aff.values()}
    assert {"capture_bias", "stress", "dropout", "ambient", "celltype_composition"} <= classes
    assert set(sim.truth["distorted_genes"]) <= set(aff)
    well = m > np.quantile(m, 0.4)
    listed = np.isin(genes, list(aff))
    true = np.array([aff[g]["log2fc"] if g in aff else 0.0 for g in genes])
    assert np.corrcoef(true[well & listed], obs[well & listed])[0, 1] > 0.95
    assert np.median(np.abs(true[well & listed] - obs[well & listed])) < 0.15
    unlisted = well & ~listed
    assert np.quantile(np.abs(obs[unlisted]), 0.99) < 0.5, np.sort(np.abs(obs[unlisted]))[-5:]


def test_cli_preset_with_override_and_bad_value(tmp_path, cli):
    out = tmp_path / "sim"
    cli("simulate", "--outdir", out, "--preset", "hard", "--n-donors", "4", "--cells-per-sample", "50",
        "--n-genes", "600", "--sample-noise-sd", "0.05")
    params = json.loads((out / "ground_truth.json").read_text())["params"]
    assert params["preset"] == "hard" and params["sample_noise_sd"] == 0.05
    assert params["donor_sd"] == PRESETS["hard"]["donor_sd"]
    proc = cli("simulate", "--outdir", tmp_path / "x", "--preset", "easy", "--dropout-keep", "2", check=False)
    assert proc.returncode == 2 and "dropout_keep=2.0" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()
