"""CellBench (Tian et al. 2019): CEL-seq2 single cells of three lung adenocarcinoma lines + RNA-mix pools.

Each pool (``cellmixN``) is a real population library of cells lysed together in known numbers per cell line:
the "bulk" side. Its faithful pseudo-bulk sums single cells of the same lines in the same numbers, so the
recipe writes a proportions table (cells per line per pool) for proportion-matched pseudo-bulk. All pools
draw from one shared single-cell suspension (``sc_id = celseq2``); each pool is its own pairing unit
(``donor = pool``), so bootstrap pseudo-replicates of a pool stay in one fold.

``exchangeable_null=True`` writes a negative control in the same layout: each pool's "bulk" is the sum of
cells drawn (seeded) with the pool's cell-line numbers from the same CEL-seq2 cells the pseudo-bulk uses, so
bulk and pseudo-bulk are exchangeable by construction and every analysis should find nothing.

``half_split_null=True`` writes the half-split case: the CEL-seq2 cells are split once (seeded, stratified by
cell line) into halves A and B; each pool's "bulk" is drawn from half A and the single-cell file holds only
half B. No protocol differs, only the cells: a test of whether the verdict can tell "different cells of one
suspension" from a protocol effect (the negative control of the pseudo-bulk stage should sit at the same level).
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import UserError

CELL_LINES = ("H1975", "H2228", "HCC827")
SC_ID = "celseq2"
#: second entropy word of the exchangeable-null draws, so they never coincide with the pseudo-bulk stage's
#: draws made with the same ``--seed`` (numpy ``default_rng(seed)``)
NULL_STREAM = 0x6E756C6C


def null_bulk(
    counts: pd.DataFrame, cell_line: pd.Series, numbers: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, list[str]]:
    """Exchangeable-null "bulk": per pool (row of ``numbers``: cells per line), the sum of that many cells of
    each line drawn from ``counts`` (genes x cells) without replacement when enough exist, else with.

    Returns genes x pools counts and one note per pool/line drawn with replacement.
    """
    rng = np.random.default_rng([seed, NULL_STREAM])
    x = sp.csc_matrix(counts.to_numpy())
    lines = cell_line.to_numpy().astype(str)
    out = np.zeros((counts.shape[0], len(numbers)), dtype=np.int64)
    notes = []
    for j, (pool, row) in enumerate(numbers.iterrows()):
        w = np.zeros(counts.shape[1])
        for line in CELL_LINES:
            n = int(row[line])
            pool_cells = np.flatnonzero(lines == line)
            if n <= 0:
                continue
            if pool_cells.size == 0:
                raise UserError(f"pool {pool}: needs {n} {line} cells but the single-cell data has none")
            replace = n > pool_cells.size
            if replace:
                notes.append(f"pool {pool}: {n} {line} cells drawn with replacement from {pool_cells.size}")
            np.add.at(w, rng.choice(pool_cells, size=n, replace=replace), 1.0)
        out[:, j] = np.rint(x @ w).astype(np.int64)
    return pd.DataFrame(out, index=counts.index, columns=numbers.index), notes


def _read_csv(path: Path, **kw) -> pd.DataFrame:
    if not path.exists():
        raise UserError(f"{path}: CellBench file not found")
    return pd.read_csv(path, index_col=0, **kw)


def prepare_cellbench(
    data_dir: str | Path,
    outdir: str | Path,
    mixes: tuple[str, ...] = ("cellmix5",),
    keep_poor_quality: bool = False,
    exchangeable_null: bool = False,
    seed: int = 42,
    half_split_null: bool = False,
) -> dict[str, Path]:
    """Write samplesheet.csv, bulk_<mix>.tsv, singlecell.h5ad and proportions.tsv for ``mixes``.

    With ``exchangeable_null`` the bulk side is drawn from the single cells (see module docstring); the
    dataset is then named ``cellbench_<mix>_null`` and ``null_notes.txt`` lists draws made with replacement.
    ``half_split_null``: bulk from half A, single cells = half B, dataset ``cellbench_<mix>_halfsplit``.
    """
    if exchangeable_null and half_split_null:
        raise UserError("choose one of --exchangeable-null and --half-split-null")
    data_dir, outdir = Path(data_dir), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    counts = _read_csv(data_dir / "sc_celseq2.count.csv.gz")
    meta = _read_csv(data_dir / "sc_celseq2.metadata.csv.gz")
    meta = meta.reindex(counts.columns)
    if meta["cell_line"].isna().any():
        raise UserError(f"{data_dir}: cells without cell_line in sc_celseq2.metadata.csv.gz")
    bulk_cells, bulk_lines = counts, meta["cell_line"]
    if half_split_null:
        from pbfidelity.pseudobulk.control import split_halves

        rng = np.random.default_rng([seed, NULL_STREAM, 2])
        a, b = split_halves(np.arange(counts.shape[1]), meta["cell_line"].astype(str).to_numpy(), rng)
        bulk_cells, bulk_lines = counts.iloc[:, a], meta["cell_line"].iloc[a]
        counts, meta = counts.iloc[:, b], meta.iloc[b]
    obs = pd.DataFrame(
        {"sample": SC_ID, "cell_type": meta["cell_line"].astype(str)}, index=counts.columns.astype(str)
    )
    cells = ad.AnnData(
        X=sp.csr_matrix(counts.to_numpy().T.astype(np.int32)),
        obs=obs,
        var=pd.DataFrame(index=counts.index.astype(str)),
    )
    cells.strings_to_categoricals()
    paths = {
        "singlecell": outdir / "singlecell.h5ad",
        "samplesheet": outdir / "samplesheet.csv",
        "proportions": outdir / "proportions.tsv",
    }
    cells.write_h5ad(paths["singlecell"])
    lines = ["dataset,sample,bulk,singlecell,bulk_id,sc_id,donor,n_pool_cells"]
    props, notes = [], []
    for mix in mixes:
        pools = _read_csv(data_dir / f"{mix}.count.csv.gz")
        pmeta = _read_csv(data_dir / f"{mix}.metadata.csv.gz")
        if not keep_poor_quality and "poor_quality" in pmeta.columns:
            pmeta = pmeta[pmeta["poor_quality"].astype(str) != "YES"]
        keep = [p for p in pools.columns if p in pmeta.index]
        bulk_path = outdir / f"bulk_{mix}.tsv"
        dataset = f"cellbench_{mix}" + (
            "_null" if exchangeable_null else "_halfsplit" if half_split_null else ""
        )
        if exchangeable_null or half_split_null:
            bulk, drawn = null_bulk(bulk_cells, bulk_lines, pmeta.loc[keep, list(CELL_LINES)], seed)
            notes += [f"{mix} {n}" for n in drawn]
        else:
            bulk = pools[keep]
        bulk.rename_axis("gene_id").to_csv(bulk_path, sep="\t")
        for pool in keep:
            n = pmeta.loc[pool, list(CELL_LINES)].astype(int)
            lines.append(
                f"{dataset},{pool},{bulk_path.name},{paths['singlecell'].name},{pool},{SC_ID},"
                f"{pool},{int(n.sum())}"
            )
            props.append({"dataset": dataset, "sample": pool, **n.to_dict()})
    paths["samplesheet"].write_text("\n".join(lines) + "\n")
    pd.DataFrame(props)[["dataset", "sample", *CELL_LINES]].to_csv(
        paths["proportions"], sep="\t", index=False
    )
    if exchangeable_null or half_split_null:
        kind = (
            f"exchangeable null, seed {seed}: bulk = cells drawn with each pool's cell-line numbers from "
            f"{counts.shape[1]} {SC_ID} cells"
            if exchangeable_null
            else f"half-split null, seed {seed}: bulk = cells drawn with each pool's cell-line numbers from half A "
            f"({bulk_cells.shape[1]} {SC_ID} cells); the single-cell file holds half B ({counts.shape[1]} cells)"
        )
        paths["null_notes"] = outdir / "null_notes.txt"
        paths["null_notes"].write_text(kind + "\n" + "".join(f"{n}\n" for n in notes))
    return paths
