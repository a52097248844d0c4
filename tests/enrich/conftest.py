"""A synthetic DE table (metrics' de_results.tsv format) with planted processes, and its GMT."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, norm


def make_de(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    genes = [f"G{i:05d}" for i in range(n)]
    stat = rng.normal(size=n)
    stat[:40] += 6  # process UP_SET: higher in bulk
    stat[40:80] -= 6  # process DOWN_SET: higher in pseudo-bulk
    lfc = stat / 2
    p = 2 * norm.sf(np.abs(stat))
    padj = false_discovery_control(p)
    direction = np.where(
        (padj < 0.05) & (lfc > 1), "bulk_up", np.where((padj < 0.05) & (lfc < -1), "pseudobulk_up", "ns")
    )
    de = pd.DataFrame(
        {
            "gene": genes,
            "baseMean": 100.0,
            "log2FoldChange": lfc,
            "lfcSE": 0.5,
            "stat": stat,
            "pvalue": p,
            "padj": padj,
            "direction": direction,
        }
    )
    de.loc[n - 5 :, ["stat", "pvalue", "padj"]] = np.nan  # untested genes (e.g. independent filtering)
    return de


def make_gmt(path, de: pd.DataFrame, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    genes = de["gene"].tolist()
    lines = [
        "UP_SET\tbulk process\t" + "\t".join(genes[:40]),
        "DOWN_SET\tpseudo-bulk process\t" + "\t".join(genes[40:80]),
    ]
    lines += [
        f"RANDOM_{i}\trandom\t" + "\t".join(rng.choice(genes[80:], 25, replace=False)) for i in range(30)
    ]
    lines.append("TINY\ttoo small\t" + "\t".join(genes[100:103]))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def de_table() -> pd.DataFrame:
    return make_de()


@pytest.fixture
def de_files(tmp_path, de_table):
    de_path = tmp_path / "metrics" / "de_results.tsv"
    de_path.parent.mkdir()
    de_table.to_csv(de_path, sep="\t", index=False)
    gmt = tmp_path / "sets.gmt"
    make_gmt(gmt, de_table)
    return de_path, gmt
