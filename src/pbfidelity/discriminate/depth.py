"""Depth matching: seeded binomial thinning so bulk and pseudo-bulk are compared at the same sequencing depth.

Summed single cells are often several times deeper than their bulk library (CellBench: ~3.4 M vs 0.4-0.8 M
UMIs). Depth alone then separates the modalities: low counts of the shallower library are zeros and small
integers where the deeper one has smooth values, whatever the genes' true proportions. Binomial thinning
(each read kept with probability target / depth) draws what the deeper library would have given at the lower
depth, without changing expected proportions.

Modes: ``paired`` thins, for every sample, the deeper of its bulk and each of its pseudo-bulk profiles to the
shallower one's depth (bulk rows are thinned to their shallowest pseudo-bulk profile when that is lower);
``min`` thins every profile to the shallowest profile of the dataset; ``none`` leaves the counts as they are.
"""

from __future__ import annotations

import numpy as np

from pbfidelity.discriminate.profiles import ProfileSet

MODES = ("paired", "min", "none")
DEPTH_STREAM = 4


def thin(counts: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Binomially thin each row of integer ``counts`` to about ``target`` reads (rows at or below it unchanged)."""
    counts = np.asarray(counts)
    depth = counts.sum(axis=1)
    out = counts.astype(np.int64, copy=True)
    for i in np.flatnonzero(depth > target):
        p = float(target[i]) / float(depth[i])
        out[i] = rng.binomial(out[i], p)
    return out


def depth_targets(ps: ProfileSet, mode: str) -> np.ndarray:
    """The depth every row of ``ps`` is thinned to (its own depth where it stays as it is)."""
    if mode not in MODES:
        raise ValueError(f"unknown depth-match mode {mode!r}; choose from {MODES}")
    depth = ps.counts.sum(axis=1)
    if mode == "none":
        return depth.copy()
    if mode == "min":
        return np.full_like(depth, depth.min())
    target = depth.copy()
    samples = ps.obs["sample"].astype(str).to_numpy()
    is_bulk = ps.y == 1
    for s in np.unique(samples):
        rows = np.flatnonzero(samples == s)
        b, p = rows[is_bulk[rows]], rows[~is_bulk[rows]]
        if b.size == 0 or p.size == 0:
            continue
        bulk_depth = depth[b].min()
        target[p] = np.minimum(depth[p], bulk_depth)
        target[b] = np.minimum(depth[b], depth[p].min())
    return target


def depth_match(ps: ProfileSet, mode: str = "paired", seed: int = 42) -> ProfileSet:
    """``ps`` with counts thinned by ``mode`` (a new ProfileSet; ``obs`` gains ``depth_raw``/``depth_matched``)."""
    target = depth_targets(ps, mode)
    counts = (
        ps.counts if mode == "none" else thin(ps.counts, target, np.random.default_rng([seed, DEPTH_STREAM]))
    )
    obs = ps.obs.copy()
    obs["depth_raw"] = ps.counts.sum(axis=1)
    obs["depth_matched"] = np.asarray(counts).sum(axis=1)
    return ProfileSet(ps.dataset, np.asarray(counts, dtype=np.float64), ps.genes, obs, ps.pb_method)
