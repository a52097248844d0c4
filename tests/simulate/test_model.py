import numpy as np
import pytest

from pbfidelity.normalize import log1p_cpm
from pbfidelity.simulate import SimulationParams, simulate

SMALL = dict(n_donors=6, n_cell_types=3, cells_per_sample=120, n_genes=800)


def _pseudobulk(sim):
    c = sim.cells
    return np.vstack([np.asarray(c.X[(c.obs["sample"] == s).to_numpy()].sum(0)).ravel() for s in sim.samples.index])


def test_deterministic_for_a_seed():
    a, b = simulate(SimulationParams(**SMALL, seed=3)), simulate(SimulationParams(**SMALL, seed=3))
    assert (a.cells.X != b.cells.X).nnz == 0 and a.bulk.equals(b.bulk) and a.truth == b.truth
    c = simulate(SimulationParams(**SMALL, seed=4))
    assert not a.bulk.equals(c.bulk)


def test_shapes_and_integer_counts():
    sim = simulate(SimulationParams(**SMALL))
    assert sim.cells.shape == (6 * 120, 800) and sim.bulk.shape == (800, 6)
    assert np.all(sim.cells.X.data == np.floor(sim.cells.X.data))
    assert set(sim.cells.obs["phenotype"]) == {"case", "control"}
    assert list(sim.samples["bulk_id"]) == list(sim.bulk.columns)


def test_planted_distortions_shift_bulk_vs_pseudobulk_in_their_direction():
    sim = simulate(SimulationParams(**SMALL))
    diff = (log1p_cpm(sim.bulk.T.to_numpy()) - log1p_cpm(_pseudobulk(sim))).mean(axis=0)
    genes = np.asarray(sim.cells.var_names)
    up = np.isin(genes, sim.truth["distorted_bulk_up"])
    down = np.isin(genes, sim.truth["distorted_pseudobulk_up"])
    other = ~np.isin(genes, sim.truth["distorted_genes"])
    assert diff[up].mean() > 1.0 and diff[down].mean() < -1.0
    assert abs(np.median(diff[other])) < 0.3


def test_null_simulation_has_no_planted_genes_and_agrees():
    sim = simulate(SimulationParams(**SMALL, null=True))
    assert sim.truth["distorted_genes"] == [] and sim.truth["null"]
    diff = (log1p_cpm(sim.bulk.T.to_numpy()) - log1p_cpm(_pseudobulk(sim))).mean(axis=0)
    assert np.quantile(np.abs(diff), 0.95) < 0.6


def test_too_few_genes_is_refused():
    with pytest.raises(ValueError, match="too small"):
        SimulationParams(n_genes=100)
