"""Technical genes (#12 item 1): spike-ins out of the profiles by default, mito/ribo on request, and the
per-profile covariates computed over the shared genes before any exclusion."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.cli import dispatch
from pbfidelity.simulate import SimulationParams, simulate, write_simulation

N_SPIKE = 6


@pytest.fixture(scope="module")
def spiked(tmp_path_factory):
    """A small simulation whose last genes are renamed ERCC spike-ins (in both modalities), plus one
    user-named technical gene ('EGFP')."""
    d = tmp_path_factory.mktemp("spiked")
    write_simulation(simulate(SimulationParams(n_donors=3, cells_per_sample=60, n_genes=400)), d / "in")
    bulk = pd.read_csv(d / "in" / "bulk_counts.tsv", sep="\t", index_col=0)
    sc = ad.read_h5ad(d / "in" / "singlecell.h5ad")
    plain = [g for g in bulk.index if not g.startswith(("MT-", "RPL", "RPS"))]
    rename = {g: f"ERCC-{i:05d}" for i, g in enumerate(plain[-N_SPIKE:], start=1)} | {plain[0]: "EGFP"}
    bulk.rename(index=rename).to_csv(d / "in" / "bulk_counts.tsv", sep="\t")
    sc.var_names = [rename.get(g, g) for g in sc.var_names]
    sc.write_h5ad(d / "in" / "singlecell.h5ad")
    dispatch(["qc", "--input", str(d / "in" / "samplesheet.csv"), "--outdir", str(d / "qc"), "-q"])
    return d


def _pb(d, name, *extra):
    out = d / name
    dispatch(
        [
            "pseudobulk",
            "--input",
            str(d / "in" / "samplesheet.csv"),
            "--cell-qc",
            str(d / "qc" / "cell_qc.tsv.gz"),
            "--bulk-qc",
            str(d / "qc" / "bulk_qc.tsv"),
            "--min-detection",
            "0",
            "--outdir",
            str(out),
            "-q",
            *extra,
        ]
    )
    return ad.read_h5ad(out / "profiles.h5ad"), json.loads((out / "pseudobulk_summary.json").read_text())


def test_spike_ins_excluded_by_default_and_kept_as_covariate(spiked):
    prof, summary = _pb(spiked, "default")
    assert not any(g.startswith("ERCC-") for g in prof.var_names)
    assert "EGFP" in prof.var_names  # not named by the user: kept
    for col in ("pct_spike_in", "pct_mito", "pct_ribo", "n_genes_detected", "n_counts"):
        assert col in prof.obs.columns
    assert (prof.obs["pct_spike_in"] > 0).all() and (prof.obs["pct_mito"] > 0).all()
    # the covariate is the spike-ins' share of the counts before exclusion: n_counts = total * (1 - share)
    bulk = pd.read_csv(spiked / "in" / "bulk_counts.tsv", sep="\t", index_col=0)
    b = prof.obs[prof.obs["modality"] == "bulk"].iloc[0]
    col = bulk[[c for c in bulk.columns if c.endswith(b["sample"])][0]]
    expected = 100 * col[col.index.str.startswith("ERCC-")].sum() / col.sum()
    assert b["pct_spike_in"] == pytest.approx(expected)
    assert b["n_counts"] == col.sum() - col[col.index.str.startswith("ERCC-")].sum()
    exc = prof.uns["pbfidelity"]["excluded_genes"]
    assert sorted(exc["genes"]["spike_in"]) == [f"ERCC-{i:05d}" for i in range(1, N_SPIKE + 1)]
    assert summary["excluded_genes"]["n_genes"] == N_SPIKE and len(exc["classes"]) == 0
    assert "MT-CO1" in prof.var_names  # mito stays unless asked


def test_user_patterns_and_classes_on_request(spiked):
    prof, summary = _pb(spiked, "classes", "--exclude-genes", "egfp", "--exclude-gene-classes", "mito,ribo")
    assert "EGFP" not in prof.var_names
    assert not any(g.startswith(("MT-", "RPL", "RPS", "ERCC-")) for g in prof.var_names)
    genes = summary["excluded_genes"]["genes"]
    assert "EGFP" in genes["spike_in"] and genes["mito"] and genes["ribo"]
    # covariates are computed before exclusion, so they do not depend on what is excluded
    base, _ = _pb(spiked, "default")
    np.testing.assert_allclose(prof.obs["pct_mito"], base.obs["pct_mito"])
    assert (prof.obs["pct_spike_in"] >= base.obs["pct_spike_in"]).all()


def test_no_technical_genes_nothing_excluded(tmp_path):
    """Negative control: without spike-ins nothing is removed and pct_spike_in is exactly 0."""
    write_simulation(
        simulate(SimulationParams(n_donors=3, cells_per_sample=30, n_genes=400)), tmp_path / "in"
    )
    out = tmp_path / "pb"
    dispatch(
        [
            "pseudobulk",
            "--input",
            str(tmp_path / "in" / "samplesheet.csv"),
            "--min-detection",
            "0",
            "--outdir",
            str(out),
            "-q",
        ]
    )
    prof = ad.read_h5ad(out / "profiles.h5ad")
    assert prof.uns["pbfidelity"]["excluded_genes"]["n_genes"] == 0
    assert (prof.obs["pct_spike_in"] == 0).all()
    assert prof.n_vars == pd.read_csv(tmp_path / "in" / "bulk_counts.tsv", sep="\t", index_col=0).shape[0]
