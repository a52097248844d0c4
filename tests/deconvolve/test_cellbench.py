"""CellBench (real 90-cell pools vs their proportion-matched pseudo-bulk): the numbers for the issue, and the
exchangeable null as a negative control (bulk drawn from the same cells: no optimism may be found)."""

import pytest


def _summary(res):
    c = res.consequence.set_index("method")
    return {m: c.loc[m].to_dict() for m in c.index}


@pytest.fixture(scope="module")
def real(cellbench_profiles, deconvolve_sim):
    p = cellbench_profiles
    return deconvolve_sim(
        p["profiles"], "cellbench_cellmix5", p["input"] / "proportions.tsv", n_bootstrap=1000
    )


@pytest.fixture(scope="module")
def exchangeable(cellbench_null_profiles, deconvolve_sim):
    p = cellbench_null_profiles
    return deconvolve_sim(p["profiles"], p["dataset"], p["input"] / "proportions.tsv", n_bootstrap=1000)


@pytest.mark.parametrize("method", ["nnls", "svr"])
def test_real_pools_pseudobulk_benchmark_is_optimistic(real, method):
    c = _summary(real)[method]
    print(
        f"CellBench cellmix5 {method}: RMSE pools {c['rmse_bulk']:.3f}, pseudo-bulk {c['rmse_pseudobulk']:.3f}, "
        f"optimism {c['optimism']:.3f} [{c['optimism_ci_low']:.3f}, {c['optimism_ci_high']:.3f}], "
        f"calibrated {c['rmse_calibrated']:.3f} (reduction [{c['reduction_calibrated_ci_low']:.3f}, "
        f"{c['reduction_calibrated_ci_high']:.3f}], recovered {c['recovered_calibrated']:.2f})"
    )
    assert real.summary["pseudobulk_truth"] == "proportion-matched targets"
    assert c["optimism_ci_low"] > 0
    assert c["rmse_pseudobulk"] < 0.05


@pytest.mark.parametrize("method", ["nnls", "svr"])
def test_exchangeable_null_finds_no_optimism(exchangeable, real, method):
    """The null's "bulk" sums all drawn cells (QC failures included) while the pseudo-bulk uses QC-passing ones,
    so a residual of a few thousandths may remain; it must stay far below the real pools' optimism."""
    c = _summary(exchangeable)[method]
    print(
        f"CellBench exchangeable null {method}: RMSE bulk {c['rmse_bulk']:.3f}, pseudo-bulk "
        f"{c['rmse_pseudobulk']:.3f}, optimism {c['optimism']:.3f} [{c['optimism_ci_low']:.3f}, "
        f"{c['optimism_ci_high']:.3f}], calibrated {c['rmse_calibrated']:.3f}"
    )
    assert abs(c["optimism"]) < 0.01
    assert c["optimism"] < 0.25 * _summary(real)[method]["optimism"]
    assert c["optimism_ci_low"] < 0.005
