import gzip

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from pbfidelity.errors import UserError
from pbfidelity.io.singlecell import open_singlecell


@pytest.fixture
def counts():
    rng = np.random.default_rng(0)
    return sp.random(50, 30, density=0.3, format="csr", random_state=1, data_rvs=lambda n: rng.integers(1, 20, n)).astype(np.float32)


def _adata(X, **layers):
    a = ad.AnnData(X=X, obs=pd.DataFrame({"sample": ["a"] * 25 + ["b"] * 25}, index=[f"c{i}" for i in range(50)]),
                   var=pd.DataFrame(index=[f"g{j}" for j in range(30)]))
    for k, v in layers.items():
        a.layers[k] = v
    return a


def test_h5ad_prefers_counts_layer_then_raw_then_x(tmp_path, counts):
    logx = sp.csr_matrix(np.log1p(counts.toarray()))
    a = _adata(logx, counts=counts)
    a.write_h5ad(tmp_path / "l.h5ad")
    with open_singlecell(tmp_path / "l.h5ad") as src:
        assert src.matrix_name == "layers['counts']"
        assert (src.to_memory() != counts).nnz == 0
    b = _adata(counts.copy())
    b.raw = b
    b.X = logx
    b.write_h5ad(tmp_path / "r.h5ad")
    with open_singlecell(tmp_path / "r.h5ad") as src:
        assert src.matrix_name == ".raw.X"
        assert (src.to_memory() != counts).nnz == 0
    _adata(counts.toarray()).write_h5ad(tmp_path / "dense.h5ad")
    with open_singlecell(tmp_path / "dense.h5ad") as src:
        assert src.matrix_name == "X" and (src.to_memory() != counts).nnz == 0


def test_h5ad_chunks_cover_all_cells(tmp_path, counts):
    _adata(counts).write_h5ad(tmp_path / "x.h5ad")
    with open_singlecell(tmp_path / "x.h5ad") as src:
        blocks = list(src.iter_chunks(chunk_size=7))
        assert [s for s, _ in blocks] == list(range(0, 50, 7))
        assert (sp.vstack([b for _, b in blocks]) != counts).nnz == 0
        assert list(src.obs["sample"].unique()) == ["a", "b"]


def test_log_normalised_h5ad_refused(tmp_path, counts):
    _adata(sp.csr_matrix(np.log1p(counts.toarray()))).write_h5ad(tmp_path / "log.h5ad")
    with open_singlecell(tmp_path / "log.h5ad") as src, pytest.raises(UserError, match="non-integer values.*normalised"):
        src.to_memory()


def test_corrupt_h5ad_refused(tmp_path):
    p = tmp_path / "bad.h5ad"
    p.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(UserError, match="cannot open as HDF5"):
        open_singlecell(p)


def _write_10x_h5(path, X: sp.csr_matrix, layout="v3"):
    csc = X.T.tocsc()  # genes x cells, stored column-compressed (one column per cell)
    with h5py.File(path, "w") as f:
        g = f.create_group("matrix" if layout == "v3" else "GRCh38")
        g["data"], g["indices"], g["indptr"] = csc.data.astype(np.int32), csc.indices, csc.indptr
        g["shape"] = np.array(csc.shape)
        g["barcodes"] = np.array([f"BC{i}".encode() for i in range(X.shape[0])])
        if layout == "v3":
            feats = g.create_group("features")
            feats["id"] = np.array([f"ENSG{j:011d}".encode() for j in range(X.shape[1])])
            feats["name"] = np.array([f"g{j}".encode() for j in range(X.shape[1])])
            feats["feature_type"] = np.array([b"Gene Expression"] * (X.shape[1] - 1) + [b"Antibody Capture"])


def test_10x_h5_round_trip_and_v2_refused(tmp_path, counts):
    _write_10x_h5(tmp_path / "m.h5", counts)
    with open_singlecell(tmp_path / "m.h5") as src:
        assert src.n_vars == 29  # the antibody feature is dropped
        assert (src.to_memory() != counts[:, :29]).nnz == 0
        assert src.obs.index[3] == "BC3"
    _write_10x_h5(tmp_path / "old.h5", counts, layout="v2")
    with pytest.raises(UserError, match="CellRanger v2 layout"):
        open_singlecell(tmp_path / "old.h5")


def test_mtx_folder_round_trip(tmp_path, counts):
    d = tmp_path / "filtered_feature_bc_matrix"
    d.mkdir()
    with gzip.open(d / "matrix.mtx.gz", "wb") as fh:
        scipy.io.mmwrite(fh, sp.coo_matrix(counts.T.astype(np.int64)))
    with gzip.open(d / "features.tsv.gz", "wt") as fh:
        fh.writelines(f"ENSG{j}\tg{j}\tGene Expression\n" for j in range(30))
    with gzip.open(d / "barcodes.tsv.gz", "wt") as fh:
        fh.writelines(f"BC{i}\n" for i in range(50))
    with open_singlecell(d) as src:
        assert (src.to_memory() != counts).nnz == 0
        assert src.var_names[2] == "ENSG2"


def test_csv_genes_by_cells_round_trip(tmp_path, counts):
    df = pd.DataFrame(counts.toarray().T.astype(int), index=[f"g{j}" for j in range(30)],
                      columns=[f"c{i}" for i in range(50)])
    df.to_csv(tmp_path / "m.csv.gz")
    with open_singlecell(tmp_path / "m.csv.gz") as src:
        assert (src.to_memory() != counts).nnz == 0 and list(src.obs.index[:2]) == ["c0", "c1"]


def test_duplicate_barcodes_and_unknown_format(tmp_path, counts):
    a = _adata(counts)
    a.obs_names = ["same"] * 50
    a.write_h5ad(tmp_path / "dup.h5ad")
    with pytest.raises(UserError, match="duplicate cell barcode 'same'"):
        open_singlecell(tmp_path / "dup.h5ad")
    (tmp_path / "x.loom").write_text("")
    with pytest.raises(UserError, match="unknown single-cell format"):
        open_singlecell(tmp_path / "x.loom")
