"""Streamed pseudo-bulk straight from .h5ad equals the in-memory product exactly, for every storage layout,
weight kind and kernel (numba when installed, scipy fallback always); memory stays bounded by the block."""

import importlib.util
import tracemalloc

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pbfidelity.errors import UserError
from pbfidelity.io import singlecell
from pbfidelity.io.singlecell import open_singlecell
from pbfidelity.pseudobulk.aggregate import aggregate, aggregate_source, aggregate_stream
from pbfidelity.pseudobulk.plan import plan_weights
from pbfidelity.pseudobulk.weights import bootstrap_weights, group_weights, proportion_weights

HAS_NUMBA = importlib.util.find_spec("numba") is not None
KERNELS = ["scipy", pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba absent"))]


@pytest.fixture(params=KERNELS)
def kernel(request, monkeypatch):
    monkeypatch.setenv("PBF_NUMBA", "1" if request.param == "numba" else "0")
    return request.param


def _counts(n_cells=300, n_genes=40, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    dense = rng.negative_binomial(1, 0.3, size=(n_cells, n_genes)) * (rng.random((n_cells, n_genes)) < 0.3)
    dense[5] = 0  # an empty cell
    dense[7, :] = rng.integers(1, 9, n_genes)  # a dense cell (larger than small blocks)
    return sp.csr_matrix(dense.astype(dtype))


def _obs(n_cells, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"sample": rng.choice(list("abcde"), n_cells), "cell_type": rng.choice(["T", "B", "NK"], n_cells)},
        index=[f"c{i}" for i in range(n_cells)],
    )


def _write(path, X, where="X", compression=None):
    obs = _obs(X.shape[0])
    var = pd.DataFrame(index=[f"g{j}" for j in range(X.shape[1])])
    junk = sp.csr_matrix(X, dtype=np.float32)
    junk.data = np.log1p(np.abs(np.nan_to_num(junk.data)))  # normalised values where counts are not
    if where == "X":
        a = ad.AnnData(X=X, obs=obs, var=var)
    elif where == "layer":
        a = ad.AnnData(X=junk if sp.isspmatrix_csr(X) else X * 0.5, obs=obs, var=var)
        a.layers["counts"] = X
    else:  # raw
        a = ad.AnnData(X=X, obs=obs, var=var)
        a.raw = a
        a.X = junk
    a.write_h5ad(path, compression=compression)
    return obs


def _weights(obs, kind, rng=None):
    n = len(obs)
    samples = [np.flatnonzero(obs["sample"].to_numpy() == s) for s in "abcde"]
    if kind == "sum":
        return group_weights(samples, n)
    if kind == "sum_and_types":  # how the CLI stacks sample sums and (sample, cell type) sums
        ct = obs["cell_type"].to_numpy()
        sub = [i[ct[i] == t] for i in samples for t in ("T", "B")]  # NK cells: only in the sample sum
        return sp.vstack([group_weights(samples, n), group_weights(sub, n)], format="csr")
    if kind == "mean":
        return group_weights(samples, n, mean=True)
    if kind == "bootstrap":
        return sp.vstack([group_weights(samples, n), bootstrap_weights(samples, 3, n, rng)], format="csr")
    if kind == "proportion":
        ct = obs["cell_type"].to_numpy()
        pools = [{t: i[ct[i] == t] for t in ("T", "B", "NK")} for i in samples]
        return proportion_weights(pools, [{"T": 20, "B": 10, "NK": 5}] * 5, n, rng)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "layout,where,compression",
    [
        ("csr", "X", None),
        ("csc", "X", None),
        ("csr", "layer", "gzip"),
        ("csc", "raw", "gzip"),
        ("dense", "X", None),
    ],
)
@pytest.mark.parametrize("kind", ["sum", "sum_and_types", "bootstrap", "proportion"])
def test_streamed_sums_equal_in_memory_exactly(tmp_path, kernel, layout, where, compression, kind):
    X = _counts()
    stored = {"csr": X, "csc": sp.csc_matrix(X), "dense": X.toarray()}[layout]
    obs = _write(tmp_path / "c.h5ad", stored, where, compression)
    W = _weights(obs, kind, np.random.default_rng(3))
    expected = (sp.csr_matrix(W) @ X).toarray()
    with open_singlecell(tmp_path / "c.h5ad") as src:
        assert src.storage == layout
        got = aggregate_source(src, W, max_nnz=257)  # many blocks, one cell larger than a block
        np.testing.assert_array_equal(got, expected)
        # the CLI's call: aggregate_stream(src.iter_chunks(n)) takes the same streaming path
        np.testing.assert_array_equal(aggregate_stream(src.iter_chunks(64), W, src.n_vars), expected)
    np.testing.assert_array_equal(aggregate(X, W), expected)
    np.testing.assert_array_equal(aggregate(sp.csc_matrix(X), W), expected)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64])
def test_integer_and_double_storage(tmp_path, kernel, dtype):
    X = _counts(dtype=dtype)
    obs = _write(tmp_path / "c.h5ad", X)
    W = _weights(obs, "sum_and_types")
    with open_singlecell(tmp_path / "c.h5ad") as src:
        np.testing.assert_array_equal(aggregate_source(src, W, max_nnz=1000), (W @ X).toarray())


def test_mean_weights_close(tmp_path, kernel):
    X = _counts()
    obs = _write(tmp_path / "c.h5ad", sp.csc_matrix(X))
    W = _weights(obs, "mean")
    with open_singlecell(tmp_path / "c.h5ad") as src:
        np.testing.assert_allclose(aggregate_source(src, W, max_nnz=500), (W @ X).toarray(), rtol=1e-12)


def test_plans():
    obs = _obs(300)
    assert plan_weights(_weights(obs, "sum")).kind == "codes"
    p = plan_weights(_weights(obs, "sum_and_types"))
    assert p.kind == "atoms" and p.n_rows == 15  # 5 samples x (T, B, NK-only)
    assert plan_weights(_weights(obs, "bootstrap", np.random.default_rng(0))).kind == "direct"
    empty = plan_weights(sp.csr_matrix((3, 10)))
    assert empty.kind == "codes" and (empty.codes == -1).all()


def test_generic_chunk_iterables_still_work(kernel):
    X = _counts()
    W = _weights(_obs(300), "sum_and_types")
    chunks = ((s, X[s : s + 33]) for s in range(0, X.shape[0], 33))
    np.testing.assert_array_equal(aggregate_stream(chunks, W, X.shape[1]), (W @ X).toarray())


@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_non_integer_counts_refused_with_the_readers_message(tmp_path, kernel, layout):
    X = _counts()
    X.data[X.data.size // 2] = 2.5
    _write(tmp_path / "n.h5ad", X if layout == "csr" else sp.csc_matrix(X))
    W = _weights(_obs(300), "sum")
    with (
        open_singlecell(tmp_path / "n.h5ad") as src,
        pytest.raises(UserError, match="non-integer values.*2.5"),
    ):
        aggregate_source(src, W, max_nnz=300)
    X.data[X.data.size // 2] = -1
    _write(tmp_path / "neg.h5ad", X)
    with open_singlecell(tmp_path / "neg.h5ad") as src, pytest.raises(UserError, match="negative"):
        aggregate_stream(src.iter_chunks(50), W, src.n_vars)


def test_left_out_cells_are_still_checked(tmp_path, kernel):
    X = _counts().tolil()
    X[5, 3] = np.nan  # the empty cell gets a NaN; it belongs to no profile
    X = X.tocsr()
    _write(tmp_path / "nan.h5ad", X)
    W = group_weights([np.arange(10, 20)], 300)
    with open_singlecell(tmp_path / "nan.h5ad") as src, pytest.raises(UserError, match="NaN or infinite"):
        aggregate_source(src, W)


def test_streaming_does_not_load_the_matrix(tmp_path, monkeypatch):
    """Never reads rows through the slow/whole paths, and traced memory stays near one block + result."""
    rng = np.random.default_rng(0)
    n, g = 20_000, 200
    X = sp.random(n, g, density=0.25, format="csr", random_state=1, dtype=np.float32)
    X.data = rng.integers(1, 5, X.data.size).astype(np.float32)  # 1M non-zeros: 8 MB on disk
    _write(tmp_path / "big.h5ad", X)
    W = group_weights([np.arange(i, n, 7) for i in range(7)], n)
    with open_singlecell(tmp_path / "big.h5ad") as src:
        for name in ("read_rows", "to_memory"):
            monkeypatch.setattr(
                src, name, lambda *a, **k: pytest.fail("streaming used the whole-matrix path")
            )
        monkeypatch.setenv("PBF_NUMBA", "0")
        tracemalloc.start()
        got = aggregate_source(src, W, max_nnz=20_000)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    np.testing.assert_array_equal(got, (W @ X).toarray())
    assert peak < 2_500_000, peak  # the matrix is 8 MB; a block is 160 kB


def test_default_block_is_bounded():
    assert singlecell.DEFAULT_BLOCK_NNZ * 8 <= 64 << 20
