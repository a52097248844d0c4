"""Donor sign-flip prerank: valid under gene-gene correlation where gene permutation is not, and still finds a
planted process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pbfidelity.enrich.analysis import EnrichParams, run_enrichment
from pbfidelity.enrich.genesets import GeneSets
from pbfidelity.enrich.paired import donor_flip_enrichment, min_attainable_p, paired_differences
from pbfidelity.enrich.prerank import prerank

N_GENES, SET_SIZE = 1200, 40


def _sets(rng) -> GeneSets:
    genes = np.array([f"G{i:04d}" for i in range(N_GENES)])
    # 10 co-regulated blocks (a programme sharing one donor-level factor) and 10 random sets
    sets = {f"BLOCK_{b}": sorted(genes[b * SET_SIZE : (b + 1) * SET_SIZE]) for b in range(10)}
    for i in range(10):
        sets[f"RANDOM_{i}"] = sorted(rng.choice(genes[400:], SET_SIZE, replace=False))
    return GeneSets(sets, {k: k.lower() for k in sets})


def _correlated_null(n_donors: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Donor-level paired differences with no modality effect (symmetric about 0), genes correlated in blocks;
    ``shift`` adds a true bulk-up effect to BLOCK_0's genes."""
    rng = np.random.default_rng(seed)
    d = rng.normal(0.0, 0.3, size=(n_donors, N_GENES))
    for b in range(10):
        factor = rng.normal(0.0, 0.5, size=(n_donors, 1))  # one factor per donor and programme
        d[:, b * SET_SIZE : (b + 1) * SET_SIZE] += factor
    d[:, :SET_SIZE] += shift
    return d, np.array([f"G{i:04d}" for i in range(N_GENES)])


def test_correlated_null_gene_permutation_fails_donor_flip_holds():
    """Negative control: gseapy's gene permutation calls co-regulated blocks enriched on a null; the donor
    sign-flip test does not (over several seeds)."""
    fp_flip, fp_gene = 0, 0
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        sets = _sets(rng)
        diffs, genes = _correlated_null(12, seed)
        table, t, info = donor_flip_enrichment(diffs, genes, sets, permutations=4096, seed=seed)
        assert info["exact"] and info["permutations"] == 4096
        fp_flip += int((table["padj"] < 0.05).sum())
        gene_perm = prerank(t, sets, seed=seed, permutations=200, method="multilevel")
        fp_gene += int((gene_perm["padj"] < 0.05).sum())
    assert fp_flip == 0
    assert fp_gene >= 4, "the negative control should show gene permutation's false positives"


def test_planted_programme_found_with_direction():
    rng = np.random.default_rng(7)
    sets = _sets(rng)
    diffs, genes = _correlated_null(12, 3, shift=0.8)
    table, _, _ = donor_flip_enrichment(diffs, genes, sets, permutations=4096, seed=1)
    top = table.iloc[0]
    assert top["term"] == "BLOCK_0" and top["padj"] < 0.05 and top["direction"] == "bulk_up"
    assert set(table.loc[table["padj"] < 0.05, "term"]) == {"BLOCK_0"}
    flipped, _, _ = donor_flip_enrichment(-diffs, genes, sets, permutations=4096, seed=1)
    assert flipped.iloc[0]["direction"] == "pseudobulk_up"


def test_exact_minimum_p_and_random_flips_are_seeded():
    assert min_attainable_p(4, 10_000) == pytest.approx(2 / 16)
    assert min_attainable_p(30, 999) == pytest.approx(1 / 1000)
    rng = np.random.default_rng(0)
    sets = _sets(rng)
    diffs, genes = _correlated_null(25, 1, shift=0.5)  # 2**25 flips: random subset
    a, _, ia = donor_flip_enrichment(diffs, genes, sets, permutations=500, seed=3)
    b, _, _ = donor_flip_enrichment(diffs, genes, sets, permutations=500, seed=3)
    assert not ia["exact"] and a["pvalue"].min() >= 1 / 501
    pd.testing.assert_frame_equal(a, b)


def test_paired_differences_average_pairs_of_a_donor():
    bulk = np.array([[2.0, 0.0], [4.0, 0.0], [1.0, 1.0]])
    pb = np.zeros((3, 2))
    d, ids = paired_differences(bulk, pb, np.array(["b", "a", "b"]))
    assert list(ids) == ["a", "b"]
    np.testing.assert_allclose(d, [[4.0, 0.0], [1.5, 0.5]])


def test_run_enrichment_few_donors_is_underpowered(de_table):
    """4 donors: the smallest attainable two-sided p is 2/16 > 0.05, said in the summary, nothing called."""
    genes = de_table["gene"].to_numpy()
    rng = np.random.default_rng(0)
    diffs = rng.normal(size=(4, genes.size))
    diffs[:, :40] += 3.0
    sets = GeneSets(
        {"UP_SET": sorted(genes[:40]), "OTHER": sorted(genes[100:140])}, {"UP_SET": "u", "OTHER": "o"}
    )
    res = run_enrichment(de_table, sets, params=EnrichParams(min_size=5), paired=(diffs, genes))
    s = res.summary
    assert s["prerank_method"] == "donor-flip" and s["prerank_null_safe"]
    assert s["prerank_underpowered"] and s["prerank_min_attainable_p"] == pytest.approx(0.125)
    assert sum(s["prerank_significant"].values()) == 0
    no_profiles = run_enrichment(de_table, sets, params=EnrichParams(min_size=5, permutations=100))
    assert (
        not no_profiles.summary["prerank_null_safe"]
        and "anti-conservative" in no_profiles.summary["prerank_caveat"]
    )


def test_broad_gene_level_effects_do_not_make_random_sets_significant():
    """Every gene has its own true modality effect (broad DE unrelated to the sets): flipping all labels cancels
    every effect, so without restandardisation each random set would differ from the flipped null."""
    rng = np.random.default_rng(11)
    sets = _sets(rng)
    genes = np.array([f"G{i:04d}" for i in range(N_GENES)])
    effect = rng.normal(0.0, 0.6, size=N_GENES)
    diffs = effect[None, :] + rng.normal(0.0, 0.3, size=(12, N_GENES))
    table, t, _ = donor_flip_enrichment(diffs, genes, sets, permutations=4096, seed=2)
    assert np.median(np.abs(t)) > 2  # strong broad differences (moderated t)
    assert not (table["padj"] < 0.05).any(), table.head()
    diffs[:, :SET_SIZE] += 1.0  # ... and a real programme on top of them is still found
    table, _, _ = donor_flip_enrichment(diffs, genes, sets, permutations=4096, seed=2)
    assert table.iloc[0]["term"] == "BLOCK_0" and table.iloc[0]["padj"] < 0.05
