"""``pbfidelity calibrate --apply``: a calibration learnt on some donors makes other donors' new pseudo-bulk
bulk-like (a synthetic-bulk generator); bad tables fail in one line."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from pbfidelity.normalize import log1p_cpm


@pytest.fixture(scope="module")
def learnt(sim_planted, tmp_path_factory):
    """Calibration learnt by the real stage on donors D01-D08 only."""
    from pbfidelity.cli import dispatch

    tmp = tmp_path_factory.mktemp("apply")
    prof = ad.read_h5ad(sim_planted[0])
    train = prof[prof.obs["donor"].astype(str).isin([f"D{i:02d}" for i in range(1, 9)])].copy()
    train.write_h5ad(tmp / "train.h5ad")
    argv = ["calibrate", "--profiles", tmp / "train.h5ad", "--outdir", tmp / "cal", "--methods", "offset"]
    assert dispatch([*map(str, argv), "--n-folds", "2", "--n-bootstrap", "20", "--n-genes", "200", "-q"]) == 0
    return tmp, prof


def _error(prof, new):
    """Mean squared log-CPM difference between each new pseudo-bulk profile and its sample's bulk."""
    bulk = prof[(prof.obs["modality"] == "bulk").to_numpy()]
    b = pd.DataFrame(log1p_cpm(np.asarray(bulk.X, float)), index=bulk.obs["sample"].astype(str))
    x = log1p_cpm(np.asarray(new.X, float))
    return float(np.mean((x - b.loc[new.obs["sample"].astype(str)].to_numpy()) ** 2))


def test_applied_calibration_makes_held_out_pseudobulk_bulk_like(learnt, sim_planted, cli):
    tmp, prof = learnt
    # "new" pseudo-bulk: the half-split profiles of the held-out donors D09-D12
    halves = ad.read_h5ad(sim_planted[0].parent / "negative_control.h5ad")
    held = halves[halves.obs["donor"].astype(str).isin(["D09", "D10", "D11", "D12"]).to_numpy()].copy()
    held.write_h5ad(tmp / "new.h5ad")
    cli(
        "calibrate",
        "--profiles",
        tmp / "new.h5ad",
        "--apply",
        tmp / "cal" / "gene_calibration.tsv",
        "--outdir",
        tmp / "applied",
        "-q",
    )
    out = ad.read_h5ad(tmp / "applied" / "calibrated_profiles.h5ad")
    assert out.n_obs == held.n_obs and set(out.obs["calibration"]) == {"offset"}
    assert np.array_equal(out.X.sum(axis=1), np.asarray(held.X).sum(axis=1)) or np.all(
        np.abs(out.X.sum(axis=1) - np.asarray(held.X).sum(axis=1)) <= held.n_vars
    )
    before, after = _error(prof, held), _error(prof, out)
    print(
        f"held-out half pseudo-bulks, mean squared log-CPM error to bulk: {before:.4f} raw -> {after:.4f} calibrated"
    )
    assert after < 0.8 * before
    s = json.loads((tmp / "applied" / "calibrate_summary.json").read_text())
    assert s["mode"] == "apply" and s["method"] == "offset" and s["n_genes_calibrated"] == held.n_vars


def test_bad_tables_fail_in_one_line(learnt, cli):
    tmp, _ = learnt
    table = tmp / "cal" / "gene_calibration.tsv"
    bad = tmp / "bad.tsv"
    pd.read_csv(table, sep="\t").drop(columns=["gene"]).to_csv(bad, sep="\t", index=False)
    for t, expected in ((bad, "no 'gene' column"), (tmp / "missing.tsv", "does not exist")):
        proc = cli(
            "calibrate", "--profiles", tmp / "train.h5ad", "--apply", t, "--outdir", tmp / "x", check=False
        )
        assert proc.returncode == 2 and expected in proc.stderr and proc.stderr.strip().count("\n") == 0
    proc = cli(
        "calibrate",
        "--profiles",
        tmp / "train.h5ad",
        "--apply",
        table,
        "--apply-method",
        "scale",
        "--outdir",
        tmp / "x",
        check=False,
    )
    assert proc.returncode == 2 and "no model for method 'scale'" in proc.stderr
    assert not (tmp / "x").exists()
