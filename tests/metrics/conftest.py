"""Small hand-made profiles and metrics results on the shared simulations (``sim_planted``/``sim_null`` in
the root conftest)."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest


def toy_profiles(n_pairs: int = 8, n_genes: int = 300, shifted: int = 20, seed: int = 0) -> ad.AnnData:
    """Paired NB profiles; the first ``shifted`` genes are 4x higher in bulk. Adds a bootstrap and a per-type row."""
    rng = np.random.default_rng(seed)
    base = rng.lognormal(3.0, 1.0, size=n_genes)
    rows, obs = [], []
    for i in range(n_pairs):
        donor = base * rng.lognormal(0, 0.2, size=n_genes)
        for modality in ("bulk", "pseudobulk"):
            mu = donor.copy()
            if modality == "bulk":
                mu[:shifted] *= 4
            rows.append(rng.negative_binomial(10, 10 / (10 + mu * 20)))
            obs.append(
                {
                    "dataset": "toy",
                    "sample": f"S{i}",
                    "donor": f"D{i}",
                    "modality": modality,
                    "pb_method": "bulk" if modality == "bulk" else "sum",
                    "replicate": 0,
                    "cell_type": "",
                }
            )
    rows += [rows[1] + 1, rows[3] * 2]
    obs += [{**obs[1], "pb_method": "bootstrap", "replicate": 1}, {**obs[3], "cell_type": "ct1"}]
    o = pd.DataFrame(obs)
    o["n_cells"], o["n_counts"] = 100, np.asarray(rows).sum(axis=1)
    o.index = [f"p{i}" for i in range(len(o))]
    return ad.AnnData(
        X=np.asarray(rows, dtype=np.float32),
        obs=o,
        var=pd.DataFrame(index=[f"G{i:04d}" for i in range(n_genes)]),
    )


@pytest.fixture
def toy() -> ad.AnnData:
    return toy_profiles()


def _metrics(path: Path):
    from pbfidelity.metrics.analysis import MetricsParams, compute_metrics
    from pbfidelity.metrics.selection import primary_comparison

    return compute_metrics(primary_comparison(ad.read_h5ad(path)), MetricsParams(n_permutations=199))


@pytest.fixture(scope="session")
def planted_result(sim_planted):
    """compute_metrics on the default-size planted simulation (computed once per session)."""
    return _metrics(sim_planted[0]), sim_planted[1]


@pytest.fixture(scope="session")
def hard_result(sim_hard):
    """compute_metrics on the ``hard`` preset simulation (computed once per session)."""
    return _metrics(sim_hard[0]), sim_hard[1]


@pytest.fixture(scope="session")
def null_result(sim_null):
    return _metrics(sim_null[0]), sim_null[1]
