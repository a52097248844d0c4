"""Small synthetic inputs for the ssl tests (structured, so self-supervision has something to learn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pbfidelity.ssl.config import get_config
from pbfidelity.ssl.data import SSLData


def structured_counts(n: int, n_genes: int, n_classes: int, seed: int, shift: float = 1.5):
    """Counts with a low-rank latent structure and a class signal in the first 20 genes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    latent = rng.normal(size=(n, 4))
    loadings = rng.normal(scale=0.6, size=(4, n_genes))
    base = rng.uniform(2, 6, size=n_genes)
    logmu = base + latent @ loadings
    for c in range(n_classes):
        logmu[y == c, c * 10 : c * 10 + 10] += shift
    counts = rng.poisson(np.exp(logmu)).astype(np.float32)
    return counts, y


def make_data(n_donors: int = 16, n_genes: int = 120, two_modalities: bool = True, seed: int = 0) -> SSLData:
    """One bulk (and optionally one pseudo-bulk) profile per donor; label = class of the donor."""
    counts, y = structured_counts(n_donors, n_genes, 2, seed)
    rows, values = [], []
    for i in range(n_donors):
        rows.append(
            {
                "sample": f"S{i}",
                "group": f"D{i}",
                "modality": "bulk",
                "label": f"c{y[i]}",
                "primary": True,
                "extra": False,
            }
        )
        values.append(counts[i])
        if two_modalities:
            rng = np.random.default_rng(seed + 100 + i)
            pb = rng.poisson(counts[i] * rng.uniform(0.5, 1.5, n_genes)).astype(np.float32)
            rows.append({**rows[-1], "modality": "pseudobulk"})
            values.append(pb)
    obs = pd.DataFrame(rows, index=[f"{r['sample']}:{r['modality']}" for r in rows])
    return SSLData("toy", "label", np.vstack(values), [f"g{j}" for j in range(n_genes)], obs)


@pytest.fixture
def toy_data() -> SSLData:
    return make_data()


@pytest.fixture
def tiny_config():
    return get_config(
        "ci", n_genes=60, fractions=(0.25, 1.0), repeats=2, folds=2, max_epochs=6, patience=3, steps=15
    )
