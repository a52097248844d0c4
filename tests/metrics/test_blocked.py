"""deseq2-blocked fits the same ~ donor + modality model as pydeseq2's per-gene solvers."""

import numpy as np
import pandas as pd

from pbfidelity.metrics.de import run_deseq2


def _paired(n_donors=8, n_genes=300, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.lognormal(4, 1.2, n_genes)
    donor = rng.normal(0, 0.5, (n_donors, n_genes))
    lfc = np.zeros(n_genes)
    lfc[:30] = rng.choice([-2.5, 2.5], 30)
    rows, obs = [], []
    for d in range(n_donors):
        for mod, eff in (("pseudobulk", 0.0), ("bulk", 1.0)):
            mu = base * np.exp(donor[d] + eff * lfc * np.log(2)) * rng.uniform(0.7, 1.3)
            rows.append(rng.negative_binomial(10, 10 / (10 + mu)))
            obs.append({"donor": f"D{d}", "modality": mod})
    return np.array(rows), pd.Index([f"G{i}" for i in range(n_genes)]), pd.DataFrame(obs)


def test_blocked_matches_full_fit():
    counts, genes, obs = _paired()
    full, design = run_deseq2(counts, genes, obs, method="deseq2-full")
    blocked, design_b = run_deseq2(counts, genes, obs, method="deseq2-blocked")
    assert design == design_b == "~ donor + modality"
    called = (full["direction"] != "ns") | (blocked["direction"] != "ns")
    assert called.sum() >= 20  # the planted genes are found
    assert (full["direction"] == blocked["direction"])[called].mean() >= 0.95
    ok = full["log2FoldChange"].notna()
    assert np.allclose(full["log2FoldChange"][ok], blocked["log2FoldChange"][ok], atol=0.05)
    rel = np.abs(blocked["lfcSE"][ok] / full["lfcSE"][ok] - 1)
    assert rel.median() < 0.02 and (rel < 0.10).mean() >= 0.97  # dispersions agree to optimiser tolerance


def test_blocked_thread_count_does_not_change_results():
    counts, genes, obs = _paired(n_genes=2500)  # > one chunk of genes
    one, _ = run_deseq2(counts, genes, obs, method="deseq2-blocked", n_cpus=1)
    two, _ = run_deseq2(counts, genes, obs, method="deseq2-blocked", n_cpus=2)
    pd.testing.assert_frame_equal(one, two)


def test_blocked_finds_nothing_on_a_null():
    counts, genes, obs = _paired()
    null = counts.copy()
    null[1::2, :30] = counts[0::2, :30]  # remove the planted modality effect: bulk = pseudo-bulk copy
    null[1::2, 30:] = counts[1::2, 30:]
    res, _ = run_deseq2(null[:, 30:], genes[30:], obs, method="deseq2-blocked")
    assert (res["direction"] != "ns").sum() == 0
