"""Accumulation kernels for streamed pseudo-bulk: add one block of a sparse counts matrix into a dense
(groups x genes) result, checking on the way that every value is a non-negative integer.

A block is given by its raw CSR (rows = cells) or CSC (columns = genes) arrays, exactly as read from the
``.h5ad`` file, so no scipy matrix is built per block. Two variants of each:

* ``codes``: every cell adds into at most one row of the result (``codes[cell]``, ``-1`` = left out);
* ``weighted``: cell ``c`` adds ``w * counts`` into every row listed for it in a CSC weight matrix
  (``wptr``/``wrow``/``wval``), for proportion-matched and bootstrap profiles.

The numba implementations (used when numba is installed and the input is large enough to repay the
one-off compilation, cached on disk) make one pass over the block; rows are visited grouped by code so
the destination row stays in cache. numba is optional (``pip install numba``, or the ``bench`` extra). The numpy/scipy fallbacks give identical sums on integer data.
The value check is a separate vectorised pass (:func:`has_suspect_values`); a block with suspect values
is re-checked exactly by the reader, which raises its :class:`~pbfidelity.errors.UserError`.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

#: below this many non-zeros the scipy fallback is used (numba compilation/cache loading would dominate)
NUMBA_MIN_NNZ = 2_000_000

_NUMBA: dict | None = None


def _compile() -> dict:
    """JIT-compile the kernels (once per process; machine code is cached next to this module)."""
    import numba

    jit = numba.njit(nogil=True, cache=True)

    @jit
    def suspects(data):
        # vectorisable: counts values that are not surely non-negative integers (<= 2**50); NaN, inf,
        # negative and fractional values are all counted. The caller re-checks a block with suspects.
        n = 0
        for k in range(data.size):
            v = np.float64(data[k])
            ok = v >= 0.0 and v <= 1.0e15
            t = v if ok else 0.0
            n += not (ok and np.float64(np.int64(t)) == t)
        return n

    @jit
    def rows_codes(out, data, indices, indptr, codes, order):
        # rows in ``order`` (grouped by code, so the destination row stays in cache)
        for t in range(order.size):
            r = order[t]
            c = codes[r]
            if c < 0:
                continue
            dest = out[c]
            for k in range(indptr[r], indptr[r + 1]):
                dest[indices[k]] += data[k]

    @jit
    def rows_weighted(out, data, indices, indptr, wptr, wrow, wval, first_cell):
        for r in range(indptr.size - 1):
            c = first_cell + r
            for q in range(wptr[c], wptr[c + 1]):
                dest = out[wrow[q]]
                w = wval[q]
                for k in range(indptr[r], indptr[r + 1]):
                    dest[indices[k]] += w * data[k]

    @jit
    def cols_codes(out_t, data, indices, indptr, codes):
        # out_t: (block genes x groups); indices are cell numbers
        for j in range(indptr.size - 1):
            dest = out_t[j]
            for k in range(indptr[j], indptr[j + 1]):
                c = codes[indices[k]]
                if c >= 0:
                    dest[c] += data[k]

    @jit
    def cols_weighted(out_t, data, indices, indptr, wptr, wrow, wval):
        for j in range(indptr.size - 1):
            dest = out_t[j]
            for k in range(indptr[j], indptr[j + 1]):
                v = np.float64(data[k])
                c = indices[k]
                for q in range(wptr[c], wptr[c + 1]):
                    dest[wrow[q]] += wval[q] * v

    return {
        "suspects": suspects,
        "rows_codes": rows_codes,
        "rows_weighted": rows_weighted,
        "cols_codes": cols_codes,
        "cols_weighted": cols_weighted,
    }


def numba_available() -> bool:
    """Whether the compiled kernels can be used (``PBF_NUMBA=0`` turns them off)."""
    if os.environ.get("PBF_NUMBA", "").strip() == "0":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def use_numba(nnz: int | None) -> bool:
    """Use numba for an input of ``nnz`` non-zeros? (``PBF_NUMBA=1`` forces it, ``0`` forbids it.)"""
    if not numba_available():
        return False
    if os.environ.get("PBF_NUMBA", "").strip() == "1":
        return True
    return nnz is None or nnz >= NUMBA_MIN_NNZ


def _kernels() -> dict:
    global _NUMBA
    if _NUMBA is None:
        _NUMBA = _compile()
    return _NUMBA


# ------------------------------------------------------------------------------------------- dispatchers
def first_bad_numpy(data: np.ndarray) -> int:
    """Position of the first negative, non-integer, NaN or infinite value, or -1."""
    if data.size == 0:
        return -1
    if np.issubdtype(data.dtype, np.integer):
        bad = data < 0
    else:
        with np.errstate(invalid="ignore"):
            bad = ~((data >= 0) & (data - np.floor(data) == 0))
    return int(np.argmax(bad)) if bad.any() else -1


def has_suspect_values(data: np.ndarray, fast: bool) -> bool:
    """True if some value may not be a non-negative integer (then check the block exactly)."""
    if data.size == 0:
        return False
    if fast:
        return bool(_kernels()["suspects"](data))
    low = data.min()  # NaN propagates and fails the test below
    if not low >= 0:
        return True
    if np.issubdtype(data.dtype, np.integer):
        return False
    frac = np.floor(data)
    np.subtract(data, frac, out=frac)  # inf - inf is NaN: counted as non-zero
    return bool(np.count_nonzero(frac))


#: a product whose touched rows hold at most this many entries is added densely
_DENSE_ADD = 4_000_000


def _add_product(out: np.ndarray, rows: np.ndarray, left: sp.csr_matrix, x: sp.spmatrix) -> None:
    """``out[rows] += left @ x`` (``rows``: distinct destination rows, one per row of ``left``)."""
    res = left @ x
    if rows.size * out.shape[1] <= _DENSE_ADD:
        out[rows] += res.toarray()
        return
    res = sp.csr_matrix(res)  # scipy's sparse product holds each (row, column) once: no duplicates
    r = np.repeat(rows, np.diff(res.indptr))
    out[r, res.indices] += res.data


def _block_csr(data, indices, indptr, n_cols) -> sp.csr_matrix:
    return sp.csr_matrix((data, indices, indptr), shape=(indptr.size - 1, n_cols), copy=False)


def add_rows_codes(out, data, indices, indptr, codes, fast: bool) -> None:
    """``out[codes[r]] += row r`` for each row of a CSR block (``codes`` local to the block, -1 = skip)."""
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    if fast:
        order = np.argsort(codes, kind="stable")
        _kernels()["rows_codes"](out, data, indices, indptr, codes, order)
        return
    keep = np.flatnonzero(codes >= 0)
    if keep.size:
        rows, local = np.unique(codes[keep], return_inverse=True)  # only the groups present in the block
        e = sp.csr_matrix((np.ones(keep.size), (local.ravel(), keep)), shape=(rows.size, codes.size))
        _add_product(out, rows, e, _block_csr(data, indices, indptr, out.shape[1]))


def add_rows_weighted(out, data, indices, indptr, wcsc: sp.csc_matrix, first_cell: int, fast: bool) -> None:
    """``out += W[:, first_cell : first_cell + rows] @ block`` for a CSR block (``wcsc``: canonical CSC)."""
    if fast:
        _kernels()["rows_weighted"](
            out, data, indices, indptr, wcsc.indptr, wcsc.indices, wcsc.data, first_cell
        )
        return
    part = sp.csr_matrix(wcsc[:, first_cell : first_cell + indptr.size - 1])
    rows = np.flatnonzero(np.diff(part.indptr))
    if rows.size:
        _add_product(out, rows, part[rows], _block_csr(data, indices, indptr, out.shape[1]))


def add_cols_codes(out_t, data, indices, indptr, codes, fast: bool) -> None:
    """``out_t[j, codes[cell]] += value`` for each entry of a CSC block (``out_t``: block genes x groups)."""
    if fast:
        _kernels()["cols_codes"](out_t, data, indices, indptr, codes)
        return
    col = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    c = codes[indices]
    keep = c >= 0
    np.add.at(out_t, (col[keep], c[keep]), data[keep].astype(np.float64))


def add_cols_weighted(out_t, data, indices, indptr, wcsc: sp.csc_matrix, fast: bool) -> None:
    """``out_t += (W @ block).T`` for a CSC block whose row indices are cell numbers."""
    if fast:
        _kernels()["cols_weighted"](out_t, data, indices, indptr, wcsc.indptr, wcsc.indices, wcsc.data)
        return
    x = sp.csc_matrix((data, indices, indptr), shape=(wcsc.shape[1], indptr.size - 1), copy=False)
    out_t += (sp.csr_matrix(wcsc) @ x).T.toarray()
