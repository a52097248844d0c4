"""Issue #12: a verdict that separates technical covariates from gene-level distortion, with intervals that
stay valid at the boundary, checked on real data (CellBench), on nulls (exchangeable, depth mismatch) and on
the planted simulator."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
from tests.conftest import NULL_SEEDS

from pbfidelity.calibrate.analysis import CalibrateParams, calibrate
from pbfidelity.discriminate.analysis import DiscriminateParams, discriminate
from pbfidelity.discriminate.depth import thin
from pbfidelity.discriminate.profiles import ProfileSet, select_profiles
from pbfidelity.discriminate.stats import paired_concordance_interval

FAST = dict(n_permutations=0, learning_curve=(), n_bootstrap=200, baselines=False)


def _load(path, dataset=None) -> ProfileSet:
    a = ad.read_h5ad(path)
    return select_profiles(a, dataset or str(a.obs["dataset"].iloc[0]))


def test_exact_interval_is_below_one_when_every_pair_is_separated():
    n = 21
    y = np.r_[np.ones(n), np.zeros(n)].astype(int)
    samples = np.r_[np.arange(n), np.arange(n)].astype(str)
    score = np.r_[np.full(n, 0.9), np.full(n, 0.1)]
    ci = paired_concordance_interval(y, score, samples)
    assert ci["concordance"] == 1.0 and ci["ci_high"] == 1.0
    assert ci["lower_bound"] == pytest.approx(0.05 ** (1 / 21), abs=1e-6)  # 0.867
    rnd = np.random.default_rng(0).uniform(size=2 * n)  # chance scores: the interval covers 0.5
    c = paired_concordance_interval(y, rnd, samples)
    assert c["ci_low"] < 0.5 < c["ci_high"]


def test_thinning_keeps_proportions_and_reaches_the_target():
    rng = np.random.default_rng(1)
    counts = rng.poisson(50, size=(3, 2000))
    out = thin(counts, np.array([20000, 10**9, 5000]), np.random.default_rng(2))
    assert abs(out[0].sum() - 20000) < 600 and np.array_equal(out[1], counts[1]) and (out <= counts).all()
    assert np.corrcoef(out[2], counts[2])[0, 1] > 0.2


def _five_fold_shallower_bulk(ps: ProfileSet, seed: int = 0) -> ProfileSet:
    """A null with a pure depth mismatch: bulk binomially thinned to a fifth of its depth."""
    counts = ps.counts.astype(np.int64)
    bulk = ps.y == 1
    target = np.where(bulk, counts.sum(axis=1) / 5, counts.sum(axis=1) + 1)
    thinned = thin(counts, target, np.random.default_rng(seed))
    return ProfileSet(ps.dataset, thinned.astype(float), ps.genes, ps.obs.drop(columns=["n_counts"]), ps.pb_method)


def test_depth_mismatch_null_covariates_separate_but_depth_matched_profiles_do_not(sim_null):
    ps = _five_fold_shallower_bulk(_load(sim_null[0]))
    res = discriminate(ps, DiscriminateParams(**FAST))
    s = res.summary
    cov = s["covariate_baseline"]
    assert cov["single_covariate_auroc"]["log10_library_size"] == 1.0
    assert cov["separates"] and cov["auroc_exact"]["lower_bound"] > 0.5
    ex = s["auroc_exact"]
    assert ex["ci_low"] < 0.5 < ex["ci_high"], ex  # depth matched: the interval covers chance
    assert s["verdict"].startswith(("no detectable", "underpowered"))
    assert s["depth"]["bulk_median_matched"] == pytest.approx(s["depth"]["pseudobulk_median_matched"], rel=0.05)


def test_null_depth_preset_depth_matching_covers_chance_and_covariates_alone_separate(tmp_path_factory):
    """#12 on the simulator's ``null-depth`` preset (no distortion, bulk 5x shallower, per-modality sample
    noise, doublets), three seeds: the covariate baseline alone separates every time (library size AUROC 1);
    with depth matching the exact paired interval covers 0.5 in at least two of three seeds (a 95 % interval
    may miss by chance: seed 42 at full size gives 10 of 12 pairs; the benchmark counts coverage over more
    seeds)."""
    from tests.conftest import build_sim_profiles

    covered = []
    for seed in (1, 2, 3):
        path, truth = build_sim_profiles(tmp_path_factory.mktemp(f"nulldepth{seed}"), null=False, n_replicates=0,
                                         seed=seed, extra=["--preset", "null-depth", "--cells-per-sample", "150",
                                                           "--n-genes", "1500"])
        assert truth["null"] and truth["affected_genes"] == {}
        s = discriminate(_load(path), DiscriminateParams(**FAST)).summary
        assert s["depth"]["pseudobulk_median_raw"] > 3.5 * s["depth"]["bulk_median_raw"]
        cov = s["covariate_baseline"]
        assert cov["single_covariate_auroc"]["log10_library_size"] == 1.0
        assert cov["separates"] and cov["auroc_exact"]["lower_bound"] > 0.5
        ex = s["auroc_exact"]
        covered.append(ex["ci_low"] < 0.5 < ex["ci_high"])
    assert sum(covered) >= 2, covered


def test_planted_simulation_still_recovered_with_an_exact_bound(tmp_path_factory):
    from tests.conftest import build_sim_profiles

    path, truth = build_sim_profiles(tmp_path_factory.mktemp("planted16"), null=False, n_replicates=0,
                                     extra=["--n-donors", "16", "--preset", "hard"])
    res = discriminate(_load(path), DiscriminateParams(**{**FAST, "baselines": True}))
    s = res.summary
    assert s["auroc_exact"]["n_pairs"] == 16 and s["auroc_exact"]["lower_bound"] > 0.8
    affected = {g for g, v in truth["affected_genes"].items() if abs(v["log2fc"]) >= 0.5}
    top = res.top["gene"].head(100)
    assert np.mean([g in affected for g in top]) >= 0.8
    assert not s["covariate_baseline"]["separates"]  # technical covariates alone do not explain it


def test_pseudo_replicates_are_never_evaluation_units(sim_planted):
    ps = _load(sim_planted[0])
    assert (ps.obs["replicate"] > 0).any()
    res = discriminate(ps, DiscriminateParams(**FAST))
    pred = res.predictions
    assert not pred.loc[pred["replicate"] > 0, "evaluated"].any()
    assert res.summary["n_evaluated"] == int((ps.obs["replicate"] == 0).sum())


def test_auto_calibration_on_a_depth_matched_null_stays_identity_and_never_helps_the_classifier(sim_null):
    ps = _load(sim_null[0])
    res = calibrate(ps, CalibrateParams(methods=("auto",), n_bootstrap=200))
    s = res.summary
    assert s["auroc_calibrated"] <= s["auroc_raw_ci"][1] + 1e-9, s
    assert s["auto_choices"].get("identity", 0) >= sum(s["auto_choices"].values()) / 2, s["auto_choices"]


@pytest.mark.realdata
def test_cellbench_covariates_alone_separate_and_the_gene_level_bound_is_below_one(cellbench_profiles):
    ps = _load(cellbench_profiles["profiles"])
    assert not any(g.upper().startswith("ERCC-") for g in ps.genes)  # spike-ins out of the gene-level analysis
    res = discriminate(ps, DiscriminateParams(**FAST))
    s = res.summary
    single = s["covariate_baseline"]["single_covariate_auroc"]
    for cov in ("log10_library_size", "pct_spike_in", "pct_mito", "n_genes_detected"):
        assert single[cov] >= 0.95, single  # each alone separates pools from pseudo-bulk
    ex = s["auroc_exact"]
    assert ex["n_pairs"] == 21 and ex["lower_bound"] < 1.0 and ex["lower_bound"] > 0.8
    assert s["depth"]["pseudobulk_median_raw"] > 3 * s["depth"]["bulk_median_raw"]
    assert s["depth"]["pseudobulk_median_matched"] == pytest.approx(s["depth"]["bulk_median_matched"], rel=0.05)
    print(f"CellBench single-covariate AUROCs {single}; depth-matched spike-in-free AUROC {s['auroc']:.3f}, "
          f"exact 95% interval [{ex['ci_low']:.3f}, {ex['ci_high']:.3f}], one-sided bound {ex['lower_bound']:.3f}")


@pytest.mark.realdata
@pytest.mark.parametrize("cellbench_null_profiles", NULL_SEEDS[:2], indirect=True)
def test_cellbench_exchangeable_null(cellbench_null_profiles):
    ps = _load(cellbench_null_profiles["profiles"], cellbench_null_profiles["dataset"])
    d = discriminate(ps, DiscriminateParams(**FAST)).summary
    ex = d["auroc_exact"]
    assert ex["ci_low"] < 0.5 < ex["ci_high"], ex
    c = calibrate(ps, CalibrateParams(methods=("auto",), n_bootstrap=200)).summary
    assert c["auroc_calibrated"] <= c["auroc_raw_ci"][1] + 1e-9, c
    print(f"seed {cellbench_null_profiles['seed']}: exact {ex}; calibration {c['auroc_raw']:.3f} -> "
          f"{c['auroc_calibrated']:.3f} ({c['auto_choices']})")
