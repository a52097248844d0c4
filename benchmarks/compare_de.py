"""Agreement and time of DE methods (deseq2-full vs deseq2-blocked) on one profiles .h5ad.

Usage: python benchmarks/compare_de.py PROFILES.h5ad [--donors N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pbfidelity.io.profiles import read_profiles
from pbfidelity.metrics.de import run_deseq2
from pbfidelity.metrics.selection import primary_comparison


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profiles")
    ap.add_argument("--donors", type=int, default=0, help="keep the first N donors (0 = all)")
    ap.add_argument("--methods", default="deseq2-full,deseq2-blocked")
    a = ap.parse_args()
    comp = primary_comparison(read_profiles(a.profiles), None, None, a.profiles)
    obs, counts = comp.obs, comp.counts
    if a.donors:
        keep = obs["donor"].isin(sorted(obs["donor"].unique())[: a.donors]).to_numpy()
        obs, counts = obs[keep], counts[keep]
    res = {}
    for m in a.methods.split(","):
        t0 = time.perf_counter()
        res[m], design = run_deseq2(counts, comp.genes, obs, method=m)
        print(f"{m}: {time.perf_counter() - t0:.1f} s, design {design}, "
              f"{(res[m]['direction'] != 'ns').sum()} discordant genes")
    if len(res) == 2:
        x, y = (res[m] for m in res)
        dx, dy = x["direction"].to_numpy(), y["direction"].to_numpy()
        called = (dx != "ns") | (dy != "ns")
        print(f"calls agree on {np.mean(dx == dy):.4%} of genes; on {np.mean(dx[called] == dy[called]):.2%} of "
              f"the {called.sum()} genes called discordant by either")
        for col in ["log2FoldChange", "lfcSE", "padj"]:
            ok = x[col].notna() & y[col].notna()
            print(f"{col}: max |diff| {np.max(np.abs(x[col][ok] - y[col][ok])):.3g}, "
                  f"corr {np.corrcoef(x[col][ok], y[col][ok])[0, 1]:.6f}")


if __name__ == "__main__":
    main()
