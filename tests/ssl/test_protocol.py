import numpy as np
import pandas as pd
import pytest

from pbfidelity.errors import StageSkipped
from pbfidelity.ssl import protocol
from pbfidelity.ssl.protocol import first_matching_fraction, run_protocol, summarise_curves
from pbfidelity.ssl.torchutil import configure_torch


def _curves(values: dict[str, list[float]], fractions=(0.1, 0.5, 1.0)) -> pd.DataFrame:
    rows = []
    for model, vals in values.items():
        family = "baseline" if model in ("mlp", "xgboost", "logreg") else "ssl_probe"
        for f, v in zip(fractions, vals, strict=True):
            rows.append({"model": model, "family": family, "fraction": f, "balanced_accuracy_mean": v})
    return pd.DataFrame(rows)


def test_first_matching_fraction_against_best_full_label_baseline():
    cv = _curves(
        {
            "logreg": [0.6, 0.7, 0.8],
            "mlp": [0.5, 0.8, 0.9],
            "scarf_probe": [0.7, 0.9, 0.9],
            "vime_probe": [0.5, 0.6, 0.7],
        }
    )
    fm = first_matching_fraction(cv, "balanced_accuracy").set_index("model")
    assert (fm["best_baseline"] == "mlp").all() and np.isclose(fm["target"].iloc[0], 0.9)
    assert fm.loc["scarf_probe", "first_fraction"] == 0.5
    assert fm.loc["mlp", "first_fraction"] == 1.0
    assert np.isnan(fm.loc["vime_probe", "first_fraction"]) and np.isnan(fm.loc["logreg", "first_fraction"])
    assert fm.loc["scarf_probe", "fewer_labels_pct"] == 50.0
    tol = first_matching_fraction(cv, "balanced_accuracy", tolerance=0.1).set_index("model")
    assert tol.loc["mlp", "first_fraction"] == 0.5 and tol.loc["logreg", "first_fraction"] == 1.0


def test_summarise_curves_mean_and_sd():
    runs = pd.DataFrame(
        {
            "model": "m",
            "family": "baseline",
            "fraction": 0.5,
            "fold": [0, 0, 1],
            "n_labelled": 4,
            "accuracy": [0.5, 0.7, 0.9],
            "macro_f1": 0.5,
            "balanced_accuracy": 0.5,
        }
    )
    c = summarise_curves(runs).iloc[0]
    assert np.isclose(c["accuracy_mean"], 0.7) and np.isclose(c["accuracy_sd"], 0.2) and c["n_runs"] == 3


def test_run_protocol_never_pretrains_or_prepares_on_test_donors(toy_data, tiny_config, monkeypatch):
    configure_torch()
    seen = []
    real = protocol.fit_prep

    def spy(values, n_genes, gene_names=None):
        seen.append(values.copy())
        return real(values, n_genes, gene_names)

    monkeypatch.setattr(protocol, "fit_prep", spy)
    res = run_protocol(toy_data, tiny_config, seed=1)
    lab = toy_data.labelled
    groups = toy_data.obs["group"].to_numpy()
    folds = protocol.outer_folds(groups[lab], toy_data.obs["label"].to_numpy()[lab], 2, 1)
    for (_, te), values in zip(folds, seen[::2], strict=True):  # [curves fit, modality fit] per fold
        test_rows = np.isin(groups, groups[lab][te])
        for row in toy_data.values[test_rows]:
            assert not any(np.array_equal(row, v) for v in values)
        assert len(values) == (~test_rows).sum()
    # tables
    models = {
        "scarf_probe",
        "scarf_finetune",
        "vime_probe",
        "vime_finetune",
        "byol_probe",
        "byol_finetune",
        "mlp",
        "xgboost",
        "logreg",
    }
    assert set(res.runs["model"]) == models | {"selected_baseline"}
    # folds x fractions x repeats x (models + the reference row copied from the fold's chosen baseline)
    assert len(res.runs) == 2 * 2 * 2 * (len(models) + 1)
    assert set(res.curves["fraction"]) == {0.25, 1.0}
    assert (
        res.runs[["accuracy", "macro_f1", "balanced_accuracy"]].apply(lambda s: s.between(0, 1).all()).all()
    )
    assert (
        set(res.losses["analysis"]) == {"curves", "modality"}
        and res.losses.groupby(["analysis", "fold", "method"])["best"].sum().eq(1).all()
    )
    assert set(res.modality["space"]) == {"input", "scarf", "vime", "byol"} and len(res.modality) == 8
    assert len(res.checkpoints) == 6 and res.summary["folds"] == 2 and res.summary["classes"] == ["c0", "c1"]


def test_run_protocol_is_deterministic(toy_data, tiny_config):
    configure_torch()
    from dataclasses import replace

    cfg = replace(tiny_config, methods=("scarf",), baselines=("logreg", "mlp"))
    a = run_protocol(toy_data, cfg, seed=7, checkpoints=False)
    b = run_protocol(toy_data, cfg, seed=7, checkpoints=False)
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.losses, b.losses)


def test_run_protocol_skips_when_a_class_has_one_donor(toy_data, tiny_config):
    obs = toy_data.obs
    obs["label"] = np.where(obs["group"] == "D0", "rare", "common")
    with pytest.raises(StageSkipped, match="fewer than 2 donors"):
        run_protocol(toy_data, tiny_config)
    obs["label"] = "common"
    with pytest.raises(StageSkipped, match="need 2"):
        run_protocol(toy_data, tiny_config)


def test_run_protocol_folds_in_two_processes_give_the_same_tables(toy_data, tiny_config):
    """--threads 2 runs the outer folds in forked workers; every table and every encoder weight must be
    identical to the one-process run (folds are seeded by their index, not by what ran before)."""
    configure_torch()
    from dataclasses import replace

    cfg = replace(tiny_config, methods=("scarf", "vime"), baselines=("logreg", "mlp"))
    one = run_protocol(toy_data, cfg, seed=3, threads=1)
    two = run_protocol(toy_data, cfg, seed=3, threads=2)
    for attr in ("runs", "curves", "losses", "modality", "power"):
        pd.testing.assert_frame_equal(getattr(one, attr), getattr(two, attr), check_exact=True)
    assert [(c["method"], c["fold"]) for c in one.checkpoints] == [(c["method"], c["fold"]) for c in two.checkpoints]
    for a, b in zip(one.checkpoints, two.checkpoints, strict=True):
        sa, sb = a["encoder"].state_dict(), b["encoder"].state_dict()
        assert all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)
