"""Apply pseudo-bulk weight matrices to cell counts: in memory, or streamed block by block from disk.

Streaming (:func:`aggregate_source`, or :func:`aggregate_stream` given ``source.iter_chunks()``) reads a
sparse ``.h5ad`` with h5py in blocks of contiguous ``data``/``indices`` slices, into two reused buffers,
and adds each block into the (profiles x genes) result with the kernels of
:mod:`pbfidelity.pseudobulk.kernels`; the integer check runs on the same buffer while it is hot. Memory is
the result plus one block, whatever the number of cells. Values are not checked by :func:`aggregate` and
:func:`aggregate_stream`'s generic path (the reader checks them).

* CSR (cells are rows): blocks are ranges of cells, each added into the rows of its group(s).
* CSC (cells are columns of the gene-major layout): blocks are ranges of genes; for a block of genes
  every cell's value is added into column ``gene`` of its group, so each block fills its own slice of
  columns of the result completely. One pass over the file, no transposition in memory.

Cells are mapped to profiles by a :class:`~pbfidelity.pseudobulk.plan.WeightPlan` (group codes, shared
"atoms", or general weights). On integer counts every path gives exactly the sums of ``weights @ X``.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator

import numpy as np
import scipy.sparse as sp

from pbfidelity.pseudobulk import kernels
from pbfidelity.pseudobulk.plan import WeightPlan, plan_weights

DEFAULT_BLOCK_NNZ = 1_000_000
_END = object()


def _read_ahead(make_blocks) -> Iterator:
    """Yield the blocks of ``make_blocks(n_buffers)`` while a thread reads the next one.

    With 3 buffers the reader can fill one while the caller works on another and a third waits in the
    queue; a block's buffer is only reused after the caller has asked for the block after it. The
    compiled kernels release the GIL, so reading and adding can overlap on two free cores. Off by default
    (``PBF_READ_AHEAD=1`` turns it on): on a machine whose cores are busy it was slower than one thread
    (docs/benchmarks.md).
    """
    q: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for blk in make_blocks(3):
                while not stop.is_set():
                    try:
                        q.put(blk, timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # handed to the caller
            q.put(exc)

    t = threading.Thread(target=produce, name="pbf-read-ahead", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        t.join()


def _blocks(make_blocks, threaded: bool) -> Iterator:
    return _read_ahead(make_blocks) if threaded else make_blocks(1)


def aggregate(X, weights: sp.spmatrix) -> np.ndarray:
    """``weights @ X`` as a dense (profiles x genes) array; ``X`` is cells x genes (sparse or dense)."""
    if sp.issparse(X) and X.format in ("csr", "csc") and kernels.use_numba(X.nnz):
        plan = plan_weights(weights)
        acc = np.zeros((plan.n_rows, X.shape[1]))
        add = _add_row_block if X.format == "csr" else _add_col_block
        add(acc, plan, X.data, X.indices, np.asarray(X.indptr, np.int64), 0, True)
        return plan.finish(acc)
    out = sp.csr_matrix(weights) @ X
    return np.asarray(out.toarray() if sp.issparse(out) else out)


def _add_row_block(acc, plan: WeightPlan, data, indices, indptr, start: int, fast: bool) -> None:
    """Add CSR rows (cells) ``start:start + len(indptr) - 1``."""
    stop = start + indptr.size - 1
    if plan.kind == "direct":
        kernels.add_rows_weighted(acc, data, indices, indptr, plan.weights, start, fast)
    else:
        kernels.add_rows_codes(acc, data, indices, indptr, plan.codes[start:stop], fast)


def _add_col_block(acc, plan: WeightPlan, data, indices, indptr, start: int, fast: bool) -> None:
    """Add CSC columns (genes) ``start:start + len(indptr) - 1`` into ``acc[:, start:...]``."""
    stop = start + indptr.size - 1
    acc_t = np.zeros((stop - start, plan.n_rows))
    if plan.kind == "direct":
        kernels.add_cols_weighted(acc_t, data, indices, indptr, plan.weights, fast)
    else:
        kernels.add_cols_codes(acc_t, data, indices, indptr, plan.codes, fast)
    acc[:, start:stop] += acc_t.T


def aggregate_source(
    source,
    weights: sp.spmatrix,
    *,
    chunk_size: int | None = None,
    max_nnz: int = DEFAULT_BLOCK_NNZ,
    dtype=np.float64,
) -> np.ndarray:
    """``weights @ counts`` of a :class:`~pbfidelity.io.singlecell.SingleCellSource`, streamed.

    Reads blocks of at most ``max_nnz`` non-zeros (and ``chunk_size`` cells for row blocks); raises the
    source's :class:`~pbfidelity.errors.UserError` if a count is negative or not an integer.
    """
    plan = plan_weights(weights)
    if plan.n_cells != source.n_obs:
        raise ValueError(f"weights cover {plan.n_cells} cells, the source has {source.n_obs}")
    fast = kernels.use_numba(source.nnz)
    threaded = fast and os.environ.get("PBF_READ_AHEAD", "0") == "1"  # opt-in, see _read_ahead
    acc = np.zeros((plan.n_rows, source.n_vars))
    if source.storage == "csc":
        for blk in _blocks(lambda n: source.iter_column_blocks(max_nnz, n_buffers=n), threaded):
            if kernels.has_suspect_values(blk.data, fast):
                pos = max(kernels.first_bad_numpy(blk.data), 0)
                source.check_values(blk.data, int(blk.indices[pos]) if blk.indices.size else 0)
            _add_col_block(acc, plan, blk.data, blk.indices, blk.indptr, blk.start, fast)
    else:
        for blk in _blocks(lambda n: source.iter_blocks(max_nnz, chunk_size, n_buffers=n), threaded):
            if kernels.has_suspect_values(blk.data, fast):
                source.check_values(blk.data, blk.start)  # exact check; raises the reader's UserError
            _add_row_block(acc, plan, blk.data, blk.indices, blk.indptr, blk.start, fast)
    return plan.finish(acc).astype(dtype, copy=False)


def aggregate_stream(
    chunks: Iterable[tuple[int, sp.csr_matrix]], weights: sp.spmatrix, n_genes: int, dtype=np.float64
) -> np.ndarray:
    """Accumulate ``weights[:, rows] @ chunk`` over ``(start_row, chunk)`` pairs.

    Memory is the result plus one chunk, whatever the number of cells. Given ``source.iter_chunks(n)``
    of a :class:`~pbfidelity.io.singlecell.SingleCellSource` (not yet iterated), the source is read by
    :func:`aggregate_source` instead, which is faster and also handles CSC files by gene blocks.
    """
    src = getattr(chunks, "source", None)
    if src is not None and not getattr(chunks, "started", True) and src.n_vars == n_genes:
        return aggregate_source(src, weights, chunk_size=getattr(chunks, "chunk_size", None), dtype=dtype)
    plan = plan_weights(weights)
    acc = np.zeros((plan.n_rows, n_genes))
    for start, block in chunks:
        block = sp.csr_matrix(block)
        indptr = np.asarray(block.indptr, dtype=np.int64)
        _add_row_block(acc, plan, block.data, block.indices, indptr, start, kernels.use_numba(block.nnz))
    return plan.finish(acc).astype(dtype, copy=False)
