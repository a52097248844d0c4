import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.io.profiles import validate_profiles
from pbfidelity.simulate import SimulationParams, simulate, write_simulation


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("pb")
    sim = simulate(SimulationParams(n_donors=4, cells_per_sample=150, n_genes=800))
    write_simulation(sim, d / "in")
    return d, sim


def _run(cli, d, name, *extra):
    if not (d / "qc" / "cell_qc.tsv.gz").exists():
        cli("qc", "--input", d / "in" / "samplesheet.csv", "--outdir", d / "qc")
    out = d / name
    cli("pseudobulk", "--input", d / "in" / "samplesheet.csv", "--cell-qc", d / "qc" / "cell_qc.tsv.gz",
        "--bulk-qc", d / "qc" / "bulk_qc.tsv", "--outdir", out, *extra)
    return out


def test_pseudobulk_sums_equal_summed_passing_cells(sim_dir, cli):
    d, sim = sim_dir
    out = _run(cli, d, "sum", "--min-detection", "0", "--min-cells", "1")
    prof = ad.read_h5ad(out / "profiles.h5ad")
    validate_profiles(prof)
    qc = pd.read_csv(d / "qc" / "cell_qc.tsv.gz", sep="\t")
    passing = set(qc.loc[qc["pass_qc"], "barcode"])
    cells = sim.cells
    for s in sim.samples.index:
        mask = (cells.obs["sample"] == s).to_numpy() & cells.obs_names.isin(passing)
        expected = np.asarray(cells.X[mask].sum(axis=0)).ravel()
        got = prof[f"sim:{s}:sum"]
        np.testing.assert_array_equal(got.X.ravel(), expected[cells.var_names.get_indexer(prof.var_names)])
        assert got.obs["n_cells"].iloc[0] == mask.sum()
        bulk = prof[f"sim:{s}:bulk"].X.ravel()
        np.testing.assert_array_equal(bulk, sim.bulk.loc[prof.var_names, sim.samples.loc[s, "bulk_id"]].to_numpy())
    assert set(prof.obs["phenotype"]) == {"case", "control"}
    assert {"logcpm", "tmm_logcpm"} <= set(prof.layers) and "tmm_logcpm" in prof.uns["layer_methods"]
    ct = ad.read_h5ad(out / "celltype_profiles.h5ad")
    for s in sim.samples.index:  # per-cell-type profiles add up to the sample's profile
        parts = ct[ct.obs["sample"] == s]
        np.testing.assert_array_equal(parts.X.sum(axis=0), prof[f"sim:{s}:sum"].X.ravel())


def test_proportion_matched_and_bootstrap(sim_dir, cli):
    d, sim = sim_dir
    counts = pd.DataFrame({"sample": sim.samples.index, "ct1": 20, "ct2": 30, "ct3": 10, "ct4": 0})
    counts.to_csv(d / "props.tsv", sep="\t", index=False)
    out = _run(cli, d, "prop", "--proportions", d / "props.tsv", "--n-replicates", "2", "--seed", "7")
    prof = ad.read_h5ad(out / "profiles.h5ad")
    pb = prof.obs[prof.obs["modality"] == "pseudobulk"]
    assert (pb.loc[pb["pb_method"] == "proportion", "n_cells"] == 60).all()
    # the cells drawn per cell type are recorded for the report's composition view
    targets = json.loads((out / "pseudobulk_summary.json").read_text())["cells_drawn_per_type"]
    assert set(targets) == set(map(str, sim.samples.index))
    assert all(t == {"ct1": 20, "ct2": 30, "ct3": 10, "ct4": 0} for t in targets.values()), targets
    assert (pb["pb_method"] == "bootstrap").sum() == 2 * 4
    assert set(pb.loc[pb["pb_method"] == "bootstrap", "replicate"]) == {1, 2}
    assert (pb.loc[pb["pb_method"] == "bootstrap", "n_cells"] == 60).all()  # fresh draws of the same recipe
    boot = prof[(prof.obs["pb_method"] == "bootstrap").to_numpy()]
    np.testing.assert_array_equal(boot.obs["sample"].to_numpy(), np.repeat(sim.samples.index.to_numpy(), 2))
    first = prof[(prof.obs["pb_method"] == "proportion").to_numpy()].X[0]
    assert not np.array_equal(boot.X[0], first)  # a replicate is a new draw, not a copy
    again = _run(cli, d, "prop2", "--proportions", d / "props.tsv", "--n-replicates", "2", "--seed", "7")
    np.testing.assert_array_equal(ad.read_h5ad(again / "profiles.h5ad").X, prof.X)  # same seed, same draws


def test_gene_filter_applies_to_each_modality(sim_dir, cli):
    d, _ = sim_dir
    out = _run(cli, d, "filt", "--min-detection", "1.0")
    prof = ad.read_h5ad(out / "profiles.h5ad")
    x = prof.X[prof.obs["replicate"].to_numpy() == 0]
    assert (x > 0).all()
    table = pd.read_csv(out / "gene_filter.tsv", sep="\t")
    assert table["kept"].sum() == prof.n_vars < len(table)
