"""The SSL comparison with power: a baseline chosen on validation folds only, paired differences with their
fold-level SD, "underpowered" where the folds cannot tell models apart, and the simulated latent task."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pbfidelity.ssl import protocol
from pbfidelity.ssl.config import get_config
from pbfidelity.ssl.datasets import load_benchmark, simulate_latent_task
from pbfidelity.ssl.protocol import power_statement, power_table, run_protocol, select_baseline
from pbfidelity.ssl.torchutil import configure_torch


def _runs(diffs_by_fold: dict[int, list[float]], model: str = "scarf_probe") -> pd.DataFrame:
    rows = []
    for fold, diffs in diffs_by_fold.items():
        for rep, d in enumerate(diffs):
            base = 0.5
            rows.append(
                {
                    "fold": fold,
                    "repeat": rep,
                    "fraction": 0.1,
                    "model": "selected_baseline",
                    "family": "reference",
                    "balanced_accuracy": base,
                }
            )
            rows.append(
                {
                    "fold": fold,
                    "repeat": rep,
                    "fraction": 0.1,
                    "model": model,
                    "family": "ssl_probe",
                    "balanced_accuracy": base + d,
                }
            )
    return pd.DataFrame(rows)


def test_power_table_calls_better_worse_and_underpowered():
    better = power_table(_runs({0: [0.20, 0.22], 1: [0.18, 0.2], 2: [0.21, 0.19]}), "balanced_accuracy")
    assert better.iloc[0]["call"] == "better" and np.isclose(better.iloc[0]["diff_mean"], 0.2)
    worse = power_table(_runs({0: [-0.2], 1: [-0.25], 2: [-0.18]}), "balanced_accuracy")
    assert worse.iloc[0]["call"] == "worse"
    # same mean gain, but the folds disagree: within two fold SDs
    noisy = power_table(_runs({0: [0.5], 1: [-0.2], 2: [0.3]}), "balanced_accuracy")
    row = noisy.iloc[0]
    assert (
        row["call"] == "underpowered" and row["diff_mean"] > 0 and row["diff_sd_fold"] > row["diff_mean"] / 2
    )
    assert np.isclose(row["diff_sd_fold"], np.std([0.5, -0.2, 0.3], ddof=1))
    assert "underpowered" in power_statement(noisy) and "no SSL model beats" in power_statement(noisy)
    assert "beats the validation-chosen baseline at 10% labels" in power_statement(better)


def test_select_baseline_uses_inner_folds_and_picks_the_model_that_fits():
    """XOR on two features: logistic regression cannot fit it, XGBoost can; the choice is made on inner folds."""
    rng = np.random.default_rng(0)
    n = 120
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)
    groups = np.array([f"d{i}" for i in range(n)])
    cfg = get_config("ci", baselines=("logreg", "xgboost"))
    chosen, means = select_baseline(x, y, groups, 2, cfg, seed=1, device="cpu")
    assert chosen == "xgboost" and means["xgboost"] > 0.8 and means["logreg"] < 0.7


def test_protocol_chooses_the_reference_without_test_donors(monkeypatch):
    configure_torch()
    data = simulate_latent_task(
        n_labelled=60, n_unlabelled=60, n_classes=3, n_genes=80, n_informative=20, seed=2
    )
    seen = []
    real = protocol.select_baseline

    def spy(x, y, groups, *a, **k):
        seen.append(set(groups))
        return real(x, y, groups, *a, **k)

    monkeypatch.setattr(protocol, "select_baseline", spy)
    cfg = get_config(
        "ci",
        n_genes=40,
        methods=("scarf",),
        fractions=(0.2, 1.0),
        repeats=1,
        folds=2,
        max_epochs=3,
        patience=2,
        steps=10,
    )
    res = run_protocol(data, cfg, seed=5)
    folds = sorted(res.runs["fold"].unique())
    assert len(seen) == len(folds) == 2
    lab = data.obs.iloc[data.labelled]
    n_groups = lab["group"].nunique()
    for groups_seen in seen:  # each selection saw only that fold's training donors
        assert 0 < len(groups_seen) < n_groups
    ref = res.runs[res.runs["model"] == "selected_baseline"]
    assert len(ref) == len(res.runs[res.runs["model"] == "logreg"])
    assert {s["selected_baseline"] for s in res.summary["selected_baselines"]} <= set(cfg.baselines)
    assert set(res.power["call"]) <= {"better", "worse", "underpowered"}
    # every reference row is one of that run's baselines, scored on the same test donors
    base = res.runs[res.runs["family"] == "baseline"]
    for (fold, rep, frac), g in ref.groupby(["fold", "repeat", "fraction"]):
        same = base[(base["fold"] == fold) & (base["repeat"] == rep) & (base["fraction"] == frac)]
        assert g["balanced_accuracy"].iloc[0] in set(same["balanced_accuracy"])
    choices = {(r["fraction"], r["selected_baseline"]) for r in res.summary["reference_choices"]}
    assert {f for f, _ in choices} == {0.2, 1.0}
    assert res.summary["power_statement"]


def test_simulated_latent_task_shape_and_hidden_signal():
    data = simulate_latent_task(n_labelled=300, n_unlabelled=700, n_genes=500, n_informative=50, seed=1)
    assert data.values.shape == (1000, 500) and len(data.classes) == 10
    assert data.obs["extra"].sum() == 700 and data.obs.loc[data.obs["extra"], "label"].isna().all()
    assert len(data.labelled) == 300
    # informative genes are not picked out by variance: their log-variance rank is spread over all genes
    logx = np.log1p(data.values / data.values.sum(1, keepdims=True) * 1e6)
    var_rank = pd.Series(logx.var(0)).rank(ascending=False).to_numpy()
    inf = np.array([g.endswith("_inf") for g in data.genes])
    top = var_rank <= 100
    assert 0.02 < (top & inf).sum() / top.sum() < 0.5
    # the default benchmark is the size the issue asks for, and is reproducible
    assert load_benchmark("sim_latent", None, seed=3).values.shape[0] == 5600


def test_cli_offers_every_benchmark():
    from pbfidelity.ssl.cli import BENCHMARK_NAMES
    from pbfidelity.ssl.datasets import BENCHMARKS

    assert BENCHMARK_NAMES == BENCHMARKS
