"""Benchmark: recovery of planted distortions across graded simulator presets (issue #13).

For every preset x seed it simulates a paired dataset (``pbfidelity simulate --preset``), runs the real stages
in-process (``qc``, ``pseudobulk``, then the Python API of metrics' DESeq2 test, discriminate, calibrate and
enrich) and scores them against the ground truth:

- DE: recall of the genes whose true |log2FC| (bulk vs pseudo-bulk, ``ground_truth.json`` ``affected_genes``)
  is moderate (1-2) or large (> 2), precision (calls whose true |log2FC| >= max(0.25, threshold / 2), i.e.
  truly affected genes, markers shifted by mRNA content/composition included; beside it the precision against
  the planted genes only, the ground truth before #13), and false discoveries as a share of tested genes.
  Negative control: the same thresholded test without the donor term (``~ modality``);
- discriminate: held-out AUROC with its exact paired interval (does it cover 0.5?), the covariate-only
  baseline (library size and other technical covariates) as a second negative control, and the top-k SHAP
  genes' precision against the affected genes;
- calibrate: AUROC change after ``auto`` calibration (calibrated - raw);
- enrich: planted gene sets vs decoy sets significant (ORA of the DE genes per direction or preranked test,
  BH 0.05); decoys are random sets of the same universe, so a decoy holding several affected genes can be hit.

Prints one row per run, a per-preset summary (mean over seeds), and writes both as markdown (``--out``).

    .venv/bin/python benchmarks/bench_recovery.py --out docs/bench_recovery.md [--presets easy hard]
        [--seeds 1 2 3] [--n-donors 8] [--cells-per-sample 150] [--n-genes 1500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

PRESETS = ("easy", "hard", "very-hard", "null", "null-depth")
#: ``default``: no preset, the simulator's built-in (pre-#13) effect sizes
CHOICES = (*PRESETS, "default")
TOP_K = 50


def _recall(called: set[str], lfc: pd.Series, lo: float, hi: float) -> float:
    target = set(lfc.index[(lfc.abs() > lo) & (lfc.abs() <= hi)])
    return len(called & target) / len(target) if target else float("nan")


def _de_scores(de: pd.DataFrame, lfc: pd.Series, planted: set[str] | None = None, threshold: float = 1.0) -> dict:
    tested = de.dropna(subset=["pvalue"])
    t = lfc.reindex(tested["gene"]).fillna(0.0)
    called = set(tested.loc[tested["direction"] != "ns", "gene"])
    affected = set(t.index[t.abs() >= max(0.25, threshold / 2)])  # truly affected: the listed genes at 0
    return {
        "n_called": len(called),
        "recall_moderate": _recall(called, t, 1.0, 2.0),
        "recall_large": _recall(called, t, 2.0, np.inf),
        "recall": _recall(called, t, 1.0, np.inf),
        "precision": len(called & affected) / len(called) if called else float("nan"),
        "false_share": len(called - affected) / max(len(tested), 1),
        # precision against the planted genes only (the ground truth before #13): deflated by shifted markers
        **({"precision_planted_only": len(called & planted) / len(called) if called else float("nan")}
           if planted is not None else {}),
    }


def run_one(preset: str, seed: int, n_donors: int, cells: int, n_genes: int, workdir: Path,
            stages: tuple[str, ...] = ("de", "discriminate", "calibrate", "enrich"),
            lfc_threshold: float = 1.0) -> dict:
    """Simulate one preset/seed, run the stages, score against the ground truth; returns one result row."""
    import anndata as ad

    from pbfidelity.cli import dispatch
    from pbfidelity.discriminate.analysis import DiscriminateParams, discriminate
    from pbfidelity.discriminate.profiles import select_profiles
    from pbfidelity.metrics.de import run_deseq2
    from pbfidelity.metrics.selection import primary_comparison

    t0 = time.perf_counter()
    inp, qc, pb = workdir / "input", workdir / "qc", workdir / "pb"
    chosen = [] if preset == "default" else ["--preset", preset]
    dispatch(["simulate", "--outdir", str(inp), *chosen, "--seed", str(seed), "--n-donors",
              str(n_donors), "--cells-per-sample", str(cells), "--n-genes", str(n_genes), "-q"])
    sheet = str(inp / "samplesheet.csv")
    dispatch(["qc", "--input", sheet, "--outdir", str(qc), "-q"])
    dispatch(["pseudobulk", "--input", sheet, "--cell-qc", str(qc / "cell_qc.tsv.gz"), "--bulk-qc",
              str(qc / "bulk_qc.tsv"), "--n-replicates", "0", "--seed", str(seed), "--outdir", str(pb), "-q"])
    truth = json.loads((inp / "ground_truth.json").read_text())
    lfc = pd.Series({g: v["log2fc"] for g, v in truth["affected_genes"].items()}, dtype=float)
    profiles = ad.read_h5ad(pb / "profiles.h5ad")
    row: dict = {"preset": preset, "seed": seed, "n_affected_lfc_gt1": int((lfc.abs() > 1).sum())}

    de = None
    if "de" in stages or "enrich" in stages:
        comp = primary_comparison(profiles)
        de, _ = run_deseq2(comp.counts, comp.genes, comp.obs, lfc_threshold=lfc_threshold)
        scores = _de_scores(de, lfc, set(truth["distorted_genes"]), lfc_threshold)
        row.update({f"de_{k}": v for k, v in scores.items()})
        unpaired = comp.obs.assign(donor=[f"u{i}" for i in range(len(comp.obs))])  # negative control
        de_nodonor, design = run_deseq2(comp.counts, comp.genes, unpaired, lfc_threshold=lfc_threshold)
        assert design == "~ modality"
        row["de_nodonor_recall"] = _de_scores(de_nodonor, lfc, threshold=lfc_threshold)["recall"]
    if "discriminate" in stages:
        ps = select_profiles(profiles, truth["dataset"])
        res = discriminate(ps, DiscriminateParams(n_permutations=0, learning_curve=(), n_bootstrap=200,
                                                  baselines=False, seed=seed))
        s = res.summary
        ex = s["auroc_exact"]
        top = res.top["gene"].head(TOP_K)
        row.update({
            "auroc": s["auroc"],
            "auroc_exact_low": ex["ci_low"],
            "auroc_exact_high": ex["ci_high"],
            "covers_half": bool(ex["ci_low"] < 0.5 < ex["ci_high"]),
            "covariate_auroc": s["covariate_baseline"]["auroc"],
            "covariate_separates": s["covariate_baseline"]["separates"],
            "shap_topk_precision": float(np.mean([g in lfc.index and abs(lfc[g]) >= 0.5 for g in top])),
        })
    if "calibrate" in stages:
        from pbfidelity.calibrate.analysis import CalibrateParams, calibrate

        ps = select_profiles(profiles, truth["dataset"])
        cal = calibrate(ps, CalibrateParams(methods=("auto",), n_bootstrap=200, seed=seed))
        row["calibration_auroc_change"] = cal.summary["auroc_calibrated"] - cal.summary["auroc_raw"]
    if "enrich" in stages:
        from pbfidelity.enrich.analysis import EnrichParams, run_enrichment
        from pbfidelity.enrich.genesets import read_gmt

        sets = read_gmt(inp / "genesets.gmt")
        er = run_enrichment(de, sets, params=EnrichParams(permutations=200, seed=seed))
        sig = set(er.ora.loc[er.ora["padj"] < 0.05, "term"]) if len(er.ora) else set()
        sig |= set(er.prerank.loc[er.prerank["padj"] < 0.05, "term"])
        planted = [k for k in sets.sets if k.startswith("PLANTED_")]
        decoys = [k for k in sets.sets if k.startswith("DECOY_")]
        row["enrich_planted_sets"] = len(planted)
        row["enrich_planted_hits"] = len(sig & set(planted))
        row["enrich_decoy_sets"] = len(decoys)
        row["enrich_decoy_hits"] = len(sig & set(decoys))
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per preset; coverage of 0.5 and covariate separation as shares of seeds."""
    num = rows.select_dtypes(include=["number", "bool"]).drop(columns=["seed"], errors="ignore")
    out = num.astype(float).groupby(rows["preset"], sort=False).mean()
    out.insert(0, "n_seeds", rows.groupby("preset", sort=False).size())
    return out


def to_markdown(df: pd.DataFrame) -> str:
    def fmt(v):
        if isinstance(v, float | np.floating):
            return "nan" if np.isnan(v) else f"{v:.3g}" if abs(v) >= 100 else f"{v:.2f}"
        return str(v)

    df = df.reset_index() if df.index.name else df
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=CHOICES)
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--n-donors", type=int, default=12)
    ap.add_argument("--cells-per-sample", type=int, default=200)
    ap.add_argument("--n-genes", type=int, default=2000)
    ap.add_argument("--stages", nargs="+", default=["de", "discriminate", "calibrate", "enrich"])
    ap.add_argument("--lfc-threshold", type=float, default=1.0,
                    help="DE: thresholded test |log2FC| > this (0 = point null); recall stays |true log2FC| > 1")
    ap.add_argument("--out", type=Path, default=None, help="markdown file for the tables")
    args = ap.parse_args(argv)
    rows, t0 = [], time.perf_counter()
    for preset in args.presets:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                r = run_one(preset, seed, args.n_donors, args.cells_per_sample, args.n_genes, Path(tmp),
                            tuple(args.stages), args.lfc_threshold)
            rows.append(r)
            print(json.dumps(r, default=float), flush=True)
    table = pd.DataFrame(rows)
    summary = summarise(table)
    total = time.perf_counter() - t0
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(summary.round(3))
    print(f"total {total:.0f} s")
    if args.out:
        cmd = " ".join(["benchmarks/bench_recovery.py", *(argv if argv is not None else __import__("sys").argv[1:])])
        args.out.write_text(
            f"Command: `{cmd}` ({len(rows)} runs, {total:.0f} s)\n\n## Mean over seeds\n\n"
            + to_markdown(summary) + "\n\n## Every run\n\n" + to_markdown(table) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
