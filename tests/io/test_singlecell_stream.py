"""Raw block readers of SingleCellSource: cover every non-zero once, respect the block bound, reuse
buffers, and agree with the CSR chunks that anndata would give."""

import gzip

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from pbfidelity.io.singlecell import ChunkIterator, open_singlecell


@pytest.fixture
def counts():
    rng = np.random.default_rng(0)
    X = sp.random(120, 30, density=0.2, format="csr", random_state=2, dtype=np.float32)
    X.data = rng.integers(1, 30, X.data.size).astype(np.float32)
    X = X.tolil()
    X[3, :] = 0  # empty cell
    X[4, :] = np.arange(1, 31)  # a cell with 30 non-zeros
    return X.tocsr()


def _write(path, X, **kw):
    obs = pd.DataFrame({"sample": ["a"] * X.shape[0]}, index=[f"c{i}" for i in range(X.shape[0])])
    ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(X.shape[1])])).write_h5ad(
        path, **kw
    )


def _rebuild_rows(blocks, shape):
    parts = [
        sp.csr_matrix((b.data.copy(), b.indices.copy(), b.indptr.copy()), shape=(b.stop - b.start, shape[1]))
        for b in blocks
    ]
    return sp.vstack(parts, format="csr")


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_csr_blocks_cover_all_cells_within_bound(tmp_path, counts, compression):
    _write(tmp_path / "x.h5ad", counts, compression=compression)
    with open_singlecell(tmp_path / "x.h5ad") as src:
        assert src.storage == "csr" and src.nnz == counts.nnz
        blocks, kept = [], []
        for b in src.iter_blocks(max_nnz=25, max_rows=10):
            assert b.stop - b.start <= 10
            assert b.data.size <= 25 or b.stop - b.start == 1  # a single larger cell is its own block
            assert b.indptr[0] == 0 and b.indptr[-1] == b.data.size
            kept.append(b.data)  # not copied: buffers are reused
            blocks.append(b._replace(data=b.data.copy(), indices=b.indices.copy()))
        assert [b.start for b in blocks][0] == 0 and blocks[-1].stop == 120
        assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:], strict=False))
        assert (_rebuild_rows(blocks, counts.shape) != counts).nnz == 0
        assert len({k.__array_interface__["data"][0] for k in kept}) == 1  # one buffer, reused


def test_csc_column_blocks_and_refusals(tmp_path, counts):
    _write(tmp_path / "c.h5ad", sp.csc_matrix(counts))
    with open_singlecell(tmp_path / "c.h5ad") as src:
        assert src.storage == "csc"
        parts = []
        for b in src.iter_column_blocks(max_nnz=40, max_cols=7):
            assert b.stop - b.start <= 7
            parts.append(
                sp.csc_matrix(
                    (b.data.copy(), b.indices.copy(), b.indptr.copy()), shape=(120, b.stop - b.start)
                )
            )
        assert (sp.hstack(parts).tocsr() != counts).nnz == 0
        with pytest.raises(ValueError, match="iter_column_blocks"):
            next(src.iter_blocks())
        # row chunks of a CSC file still work (slowly) for other callers
        assert (src.to_memory() != counts).nnz == 0
    _write(tmp_path / "r.h5ad", counts)
    with open_singlecell(tmp_path / "r.h5ad") as src, pytest.raises(ValueError, match="CSC"):
        next(src.iter_column_blocks())


def test_direct_row_reads_match_anndata(tmp_path, counts):
    _write(tmp_path / "x.h5ad", counts)
    backed = ad.read_h5ad(tmp_path / "x.h5ad", backed="r")
    with open_singlecell(tmp_path / "x.h5ad") as src:
        for s, e in [(0, 1), (2, 5), (3, 4), (100, 120)]:
            assert (src.read_rows(s, e) != sp.csr_matrix(backed.X[s:e])).nnz == 0
        it = src.iter_chunks(50)
        assert isinstance(it, ChunkIterator) and it.source is src and not it.started
        assert [s for s, _ in it] == [0, 50, 100] and it.started
    backed.file.close()


def test_dense_and_in_memory_sources_give_blocks(tmp_path, counts):
    _write(tmp_path / "d.h5ad", counts.toarray())
    d = tmp_path / "mtx"
    d.mkdir()
    with gzip.open(d / "matrix.mtx.gz", "wb") as fh:
        scipy.io.mmwrite(fh, sp.coo_matrix(counts.T.astype(np.int64)))
    (d / "features.tsv").write_text("".join(f"G{j}\tg{j}\tGene Expression\n" for j in range(30)))
    (d / "barcodes.tsv").write_text("".join(f"B{i}\n" for i in range(120)))
    for path, storage in [(tmp_path / "d.h5ad", "dense"), (d, "memory")]:
        with open_singlecell(path) as src:
            assert src.storage == storage
            blocks = list(src.iter_blocks(max_nnz=60))
            assert (_rebuild_rows(blocks, counts.shape) != counts).nnz == 0


def test_large_blocks_are_checked_in_slices(tmp_path):
    X = sp.csr_matrix(np.full((3, 4), 2.0, dtype=np.float32))
    X[2, 3] = 0.5
    _write(tmp_path / "f.h5ad", X)
    with open_singlecell(tmp_path / "f.h5ad") as src, pytest.raises(Exception, match="non-integer.*0.5"):
        src.to_memory()
