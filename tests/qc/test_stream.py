"""qc reads cells in blocks bounded by non-zeros, so its memory is flat in the number of cells."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pbfidelity.cli import main
from pbfidelity.io import singlecell
from pbfidelity.io.singlecell import SingleCellSource, open_singlecell
from pbfidelity.pseudobulk.build import memory_source
from pbfidelity.qc.cells import cell_metrics, stream_cell_metrics
from pbfidelity.simulate import SimulationParams, simulate, write_simulation


def _counts(n_cells: int, n_genes: int, seed: int, dtype=np.float32) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    x = sp.random(n_cells, n_genes, density=0.15, format="csr", random_state=seed,
                  data_rvs=lambda k: rng.integers(1, 60, k))
    keep = np.ones(n_cells)
    keep[3] = 0  # an empty cell
    x = sp.csr_matrix(sp.diags(keep) @ x)
    x.eliminate_zeros()
    return x.astype(dtype)


@pytest.mark.parametrize("layout", ["csr", "csc", "dense", "memory"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_streamed_metrics_equal_whole_matrix_metrics(tmp_path, layout, dtype):
    """Small blocks (97 non-zeros, 13 cells) give exactly the table of the whole matrix, in every layout."""
    x = _counts(120, 40, 1, dtype)
    mito, ribo = np.zeros(40, bool), np.zeros(40, bool)
    mito[:3], ribo[3:8] = True, True
    adata = ad.AnnData(
        X={"csr": x, "csc": sp.csc_matrix(x), "dense": x.toarray(), "memory": x}[layout],
        obs=pd.DataFrame(index=[f"c{i}" for i in range(120)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(40)]),
    )
    if layout == "memory":
        src = memory_source(adata, layer="X")
    else:
        adata.write_h5ad(tmp_path / "c.h5ad")
        src = open_singlecell(tmp_path / "c.h5ad")
        assert src.storage == {"csr": "csr", "csc": "csc", "dense": "dense"}[layout]
    used = np.random.default_rng(2).random(120) < 0.7
    with src:
        got = stream_cell_metrics(src, used, mito, ribo, max_nnz=97, max_rows=13)
    want = cell_metrics(x[used], mito, ribo).set_index(np.flatnonzero(used))
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_streamed_metrics_refuse_normalised_values(tmp_path):
    x = _counts(50, 20, 3)
    x.data[-1] = 0.5  # a normalised value in the last cell
    for name, m in (("csr", x), ("csc", sp.csc_matrix(x))):
        ad.AnnData(X=m).write_h5ad(tmp_path / f"{name}.h5ad")
        with open_singlecell(tmp_path / f"{name}.h5ad") as src, pytest.raises(Exception, match="non-integer"):
            stream_cell_metrics(src, np.ones(50, bool), np.zeros(20, bool), np.zeros(20, bool), max_nnz=40)


def test_qc_stage_reads_blocks_bounded_by_nonzeros(tmp_path, monkeypatch):
    """The qc stage never reads a chunk of cells whole: every block it gets holds at most the block's
    non-zeros (a cell-count-dependent reader, e.g. 20,000-cell chunks, fails here)."""
    sim = simulate(SimulationParams(n_donors=3, cells_per_sample=150, n_genes=400, seed=5))
    write_simulation(sim, tmp_path / "sim")
    blocks: list[tuple[int, int]] = []
    original = SingleCellSource.iter_blocks

    def spy(self, max_nnz=singlecell.DEFAULT_BLOCK_NNZ, max_rows=None, n_buffers=1):
        for blk in original(self, max_nnz, max_rows, n_buffers):
            blocks.append((blk.stop - blk.start, blk.data.size))
            yield blk

    def whole_chunk(*_a, **_k):
        raise AssertionError("qc read a chunk of cells whole (memory grows with the chunk's cells)")

    limit = 2_000
    monkeypatch.setattr(singlecell, "DEFAULT_BLOCK_NNZ", limit)
    monkeypatch.setattr(SingleCellSource, "iter_blocks", spy)
    monkeypatch.setattr(SingleCellSource, "read_rows", whole_chunk)
    assert main(["qc", "--input", str(tmp_path / "sim" / "samplesheet.csv"), "--outdir", str(tmp_path / "qc"),
                 "-q"]) == 0
    with open_singlecell(tmp_path / "sim" / "singlecell.h5ad") as src:
        n_cells, nnz = src.n_obs, src.nnz
    assert sum(r for r, _ in blocks) == n_cells and sum(n for _, n in blocks) == nnz
    assert all(n <= limit or r == 1 for r, n in blocks), max(blocks, key=lambda b: b[1])
    assert len(blocks) >= nnz // limit > 10
    cells = pd.read_csv(tmp_path / "qc" / "cell_qc.tsv.gz", sep="\t")
    assert len(cells) == n_cells and cells["total_counts"].sum() == int(sim.cells.X.sum())
