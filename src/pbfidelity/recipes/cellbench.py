"""CellBench (Tian et al. 2019): CEL-seq2 single cells of three lung adenocarcinoma lines + RNA-mix pools.

Each pool (``cellmixN``) is a real population library of cells lysed together in known numbers per cell line:
the "bulk" side. Its faithful pseudo-bulk sums single cells of the same lines in the same numbers, so the
recipe writes a proportions table (cells per line per pool) for proportion-matched pseudo-bulk. All pools
draw from one shared single-cell suspension (``sc_id = celseq2``); each pool is its own pairing unit
(``donor = pool``), so bootstrap pseudo-replicates of a pool stay in one fold.
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


def _read_csv(path: Path, **kw) -> pd.DataFrame:
    if not path.exists():
        raise UserError(f"{path}: CellBench file not found")
    return pd.read_csv(path, index_col=0, **kw)


def prepare_cellbench(
    data_dir: str | Path,
    outdir: str | Path,
    mixes: tuple[str, ...] = ("cellmix5",),
    keep_poor_quality: bool = False,
) -> dict[str, Path]:
    """Write samplesheet.csv, bulk_<mix>.tsv, singlecell.h5ad and proportions.tsv for ``mixes``."""
    data_dir, outdir = Path(data_dir), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    counts = _read_csv(data_dir / "sc_celseq2.count.csv.gz")
    meta = _read_csv(data_dir / "sc_celseq2.metadata.csv.gz")
    meta = meta.reindex(counts.columns)
    if meta["cell_line"].isna().any():
        raise UserError(f"{data_dir}: cells without cell_line in sc_celseq2.metadata.csv.gz")
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
    props = []
    for mix in mixes:
        pools = _read_csv(data_dir / f"{mix}.count.csv.gz")
        pmeta = _read_csv(data_dir / f"{mix}.metadata.csv.gz")
        if not keep_poor_quality and "poor_quality" in pmeta.columns:
            pmeta = pmeta[pmeta["poor_quality"].astype(str) != "YES"]
        keep = [p for p in pools.columns if p in pmeta.index]
        bulk_path = outdir / f"bulk_{mix}.tsv"
        pools[keep].rename_axis("gene_id").to_csv(bulk_path, sep="\t")
        for pool in keep:
            n = pmeta.loc[pool, list(CELL_LINES)].astype(int)
            lines.append(
                f"cellbench_{mix},{pool},{bulk_path.name},{paths['singlecell'].name},{pool},{SC_ID},"
                f"{pool},{int(n.sum())}"
            )
            props.append({"dataset": f"cellbench_{mix}", "sample": pool, **n.to_dict()})
    paths["samplesheet"].write_text("\n".join(lines) + "\n")
    pd.DataFrame(props)[["dataset", "sample", *CELL_LINES]].to_csv(
        paths["proportions"], sep="\t", index=False
    )
    return paths
