"""Single-cell counts: ``.h5ad`` (streamed from disk), 10x ``.h5`` (CellRanger >= 3), 10x mtx folders and
genes x cells CSV/TSV (optionally gzipped).

Every reader returns a :class:`SingleCellSource`: cell metadata, gene ids and a chunk iterator over rows
(cells) as CSR matrices, so callers can keep memory flat in the number of cells. For ``.h5ad`` the counts
are taken from ``layers['counts']``, then ``.raw``, then ``X``; non-integer values are refused.

Sparse ``.h5ad`` matrices are read with h5py directly: contiguous slices of ``data``/``indices`` for a range
of rows (CSR) or of columns (CSC), optionally into reused buffers (:meth:`SingleCellSource.iter_blocks`,
:meth:`SingleCellSource.iter_column_blocks`), so that streaming costs no more than reading the file.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import UserError

DEFAULT_CHUNK = 20_000
#: non-zeros per block for the raw block readers (data + indices buffers of ~8 bytes each)
DEFAULT_BLOCK_NNZ = 4_000_000


class RawBlock(NamedTuple):
    """One block of a sparse matrix as raw compressed arrays (``indptr`` rebased to 0).

    For row blocks (:meth:`SingleCellSource.iter_blocks`) ``start:stop`` are cells and ``indices`` genes; for
    column blocks (:meth:`SingleCellSource.iter_column_blocks`) ``start:stop`` are genes and ``indices`` cells.
    """

    start: int
    stop: int
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray


def _check_integer(path: Path, where: str, data: np.ndarray, first_row: int) -> None:
    step = 1 << 22  # slices bound the temporaries on large blocks
    for a in range(0, data.size, step):
        _check_integer_slice(path, where, data[a : a + step], first_row)


def _check_integer_slice(path: Path, where: str, data: np.ndarray, first_row: int) -> None:
    if data.size == 0:
        return
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
        raise UserError(f"{path}: {where} holds non-numeric values (dtype {data.dtype}); raw counts are needed")
    if np.issubdtype(data.dtype, np.complexfloating):
        raise UserError(f"{path}: {where} holds complex numbers; raw counts are needed")
    if np.issubdtype(data.dtype, np.integer):
        if (data < 0).any():
            raise UserError(f"{path}: {where} holds negative values; raw counts are needed")
        return
    if not np.all(np.isfinite(data)):
        raise UserError(f"{path}: {where} holds NaN or infinite values; raw counts are needed")
    frac = data != np.floor(data)
    if frac.any():
        example = float(data[np.argmax(frac)])
        hint = (
            "scanpy keeps log-normalised data in .raw after normalisation; store the raw counts in "
            "layers['counts'] (or name their layer with --layer)"
            if where.startswith(".raw")
            else "store the raw counts in layers['counts'] or name the layer holding them with --layer"
        )
        raise UserError(
            f"{path}: {where} holds non-integer values (e.g. {example:.4g} near cell {first_row}); it looks "
            f"normalised. pbfidelity needs raw counts: {hint}"
        )
    if (data < 0).any():
        raise UserError(f"{path}: {where} holds negative values; raw counts are needed")


class _H5Sparse:
    """A CSR or CSC matrix inside an HDF5 group, read by contiguous slices of its major axis."""

    def __init__(self, group: h5py.Group, fmt: str, shape: tuple[int, int]):
        self.fmt = fmt  # "csr" (major axis = cells) or "csc" (major axis = genes)
        self.shape = shape
        self.data = group["data"]
        self.indices = group["indices"]
        self._indptr_ds = group["indptr"]
        self._indptr: np.ndarray | None = None

    @property
    def indptr(self) -> np.ndarray:
        if self._indptr is None:
            self._indptr = np.asarray(self._indptr_ds[()], dtype=np.int64)
        return self._indptr

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def major_slice(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fresh ``(data, indices, indptr)`` arrays for major positions ``start:stop``."""
        ptr = self.indptr[start : stop + 1]
        a, b = int(ptr[0]), int(ptr[-1])
        return self.data[a:b], self.indices[a:b], ptr - a

    def plan(self, max_nnz: int, max_major: int) -> list[tuple[int, int]]:
        """Major ranges of at most ``max_major`` positions and ``max_nnz`` non-zeros (at least one each)."""
        n = self.indptr.size - 1
        out, s = [], 0
        while s < n:
            e = int(np.searchsorted(self.indptr, self.indptr[s] + max_nnz, side="right")) - 1
            e = min(max(e, s + 1), s + max_major, n)
            out.append((s, e))
            s = e
        return out

    def iter_major(self, max_nnz: int, max_major: int, n_buffers: int = 1) -> Iterator[RawBlock]:
        """Blocks read into ``n_buffers`` reused (data, indices) buffers, in turn: a block's arrays are
        overwritten ``n_buffers`` blocks later."""
        ranges = self.plan(max_nnz, max_major)
        if not ranges:
            return
        cap = max(int(self.indptr[e] - self.indptr[s]) for s, e in ranges)
        bufs = [
            (np.empty(cap, dtype=self.data.dtype), np.empty(cap, dtype=self.indices.dtype))
            for _ in range(max(1, n_buffers))
        ]
        for k, (s, e) in enumerate(ranges):
            bd, bi = bufs[k % len(bufs)]
            a, b = int(self.indptr[s]), int(self.indptr[e])
            if b > a:
                self.data.read_direct(bd, np.s_[a:b], np.s_[0 : b - a])
                self.indices.read_direct(bi, np.s_[a:b], np.s_[0 : b - a])
            yield RawBlock(s, e, bd[: b - a], bi[: b - a], self.indptr[s : e + 1] - a)


class ChunkIterator:
    """Iterable of ``(start_row, csr_block)`` over a source's cells (see :meth:`SingleCellSource.iter_chunks`).

    It remembers its source and chunk size so that consumers such as
    :func:`pbfidelity.pseudobulk.aggregate.aggregate_stream` can read the file in a faster way instead.
    """

    def __init__(self, source: SingleCellSource, chunk_size: int):
        self.source = source
        self.chunk_size = chunk_size
        self.started = False

    def __iter__(self) -> Iterator[tuple[int, sp.csr_matrix]]:
        self.started = True
        src, n = self.source, self.source.n_obs
        for start in range(0, n, self.chunk_size):
            yield start, src.read_rows(start, min(start + self.chunk_size, n))


@dataclass
class SingleCellSource:
    """Cells of one file: ``obs`` (index = barcodes), ``var_names`` and a chunked CSR reader."""

    path: Path
    obs: pd.DataFrame
    var_names: pd.Index
    matrix_name: str
    _matrix: object = field(repr=False, default=None)  # in-memory CSR, or a callable(start, stop) -> CSR
    _close: object = field(repr=False, default=None)
    _h5: _H5Sparse | None = field(repr=False, default=None)  # sparse .h5ad matrix read with h5py
    #: gene id -> symbol when the file carries names beside ids (10x features/name, an .h5ad var column)
    gene_symbols: pd.Series | None = field(repr=False, default=None)

    @property
    def storage(self) -> str:
        """``"csr"``/``"csc"`` (sparse .h5ad on disk), ``"dense"`` (dense .h5ad) or ``"memory"``."""
        if self._h5 is not None:
            return self._h5.fmt
        return "memory" if sp.issparse(self._matrix) else "dense"

    @property
    def nnz(self) -> int | None:
        """Stored non-zeros, when known without reading the matrix."""
        if self._h5 is not None:
            return self._h5.nnz
        return int(self._matrix.nnz) if sp.issparse(self._matrix) else None

    def check_values(self, data: np.ndarray, first_row: int) -> None:
        """Raise :class:`UserError` unless ``data`` holds non-negative integers (finite)."""
        _check_integer(self.path, self.matrix_name, data, first_row)

    @property
    def n_obs(self) -> int:
        return len(self.obs)

    @property
    def n_vars(self) -> int:
        return len(self.var_names)

    def _read_rows_unchecked(self, start: int, stop: int) -> sp.csr_matrix:
        if self._h5 is not None and self._h5.fmt == "csr":
            data, indices, indptr = self._h5.major_slice(start, stop)
            return sp.csr_matrix((data, indices, indptr), shape=(stop - start, self.n_vars))
        block = self._matrix[start:stop] if sp.issparse(self._matrix) else self._matrix(start, stop)
        return sp.csr_matrix(block)

    def read_rows(self, start: int, stop: int) -> sp.csr_matrix:
        """Rows ``start:stop`` as CSR (checked to be non-negative integers)."""
        try:
            block = self._read_rows_unchecked(start, stop)
        except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise UserError(
                f"{self.path}: cannot read cells {start}-{stop} of {self.matrix_name} ({type(exc).__name__}: {exc}); "
                "the file is truncated or corrupt"
            ) from None
        _check_integer(self.path, self.matrix_name, block.data, start)
        return block

    def iter_chunks(self, chunk_size: int = DEFAULT_CHUNK) -> ChunkIterator:
        """Iterate ``(start_row, csr_block)`` over all cells, ``chunk_size`` cells at a time."""
        return ChunkIterator(self, chunk_size)

    def iter_blocks(
        self, max_nnz: int = DEFAULT_BLOCK_NNZ, max_rows: int | None = None, n_buffers: int = 1
    ) -> Iterator[RawBlock]:
        """Row blocks as raw CSR arrays, values NOT checked (see :meth:`check_values`).

        Blocks hold at most ``max_nnz`` non-zeros (and ``max_rows`` cells; a single larger cell is one
        block). For sparse .h5ad files the arrays are ``n_buffers`` buffers used in turn: a block's
        arrays are overwritten ``n_buffers`` blocks later, so copy what must outlive that. CSC files are
        refused (read them with :meth:`iter_column_blocks`).
        """
        max_rows = max_rows or self.n_obs or 1
        if self._h5 is not None:
            if self._h5.fmt != "csr":
                raise ValueError("iter_blocks needs a CSR matrix; use iter_column_blocks for CSC")
            yield from self._h5.iter_major(max_nnz, max_rows, n_buffers)
            return
        if sp.issparse(self._matrix):
            m = sp.csr_matrix(self._matrix)
            ptr = np.asarray(m.indptr, dtype=np.int64)
            start = 0
            while start < self.n_obs:
                e = int(np.searchsorted(ptr, ptr[start] + max_nnz, side="right")) - 1
                stop = min(max(e, start + 1), start + max_rows, self.n_obs)
                a, b = int(ptr[start]), int(ptr[stop])
                yield RawBlock(start, stop, m.data[a:b], m.indices[a:b], ptr[start : stop + 1] - a)
                start = stop
            return
        n_genes = max(self.n_vars, 1)
        step = max(1, min(max_rows, max_nnz // n_genes))  # dense rows: bound the dense slab
        for start in range(0, self.n_obs, step):
            stop = min(start + step, self.n_obs)
            b = self._read_rows_unchecked(start, stop)
            yield RawBlock(start, stop, b.data, b.indices, np.asarray(b.indptr, dtype=np.int64))

    def iter_column_blocks(
        self, max_nnz: int = DEFAULT_BLOCK_NNZ, max_cols: int = 4096, n_buffers: int = 1
    ) -> Iterator[RawBlock]:
        """Gene blocks of a CSC .h5ad matrix as raw CSC arrays (``indices`` = cells), values NOT checked.

        Arrays are ``n_buffers`` buffers used in turn (as in :meth:`iter_blocks`).
        """
        if self._h5 is None or self._h5.fmt != "csc":
            raise ValueError("iter_column_blocks needs a CSC .h5ad matrix")
        yield from self._h5.iter_major(max_nnz, max_cols, n_buffers)

    def to_memory(self) -> sp.csr_matrix:
        """All cells as one CSR matrix (checked; memory grows with the number of cells)."""
        if self._h5 is not None and self._h5.fmt == "csr":
            return self.read_rows(0, self.n_obs)
        blocks = [b for _, b in self.iter_chunks()]
        return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, self.n_vars))

    def close(self) -> None:
        if callable(self._close):
            self._close()

    def __enter__(self) -> SingleCellSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: .h5ad var columns that hold gene symbols when var_names are ids (scanpy, CellxGene, Seurat conversions)
SYMBOL_COLUMNS = (
    "gene_symbols",
    "gene_symbol",
    "feature_name",
    "gene_name",
    "gene_names",
    "symbol",
    "SYMBOL",
)


def _symbols_from_var(var: pd.DataFrame) -> pd.Series | None:
    for col in SYMBOL_COLUMNS:
        if col in var.columns:
            return pd.Series(var[col].astype(str).to_numpy(), index=var.index.astype(str))
    return None


def h5ad_layers(path: Path) -> list[str]:
    """Count matrices an ``.h5ad`` offers to ``--layer``: ``X``, ``raw`` (when present) and its layers."""
    with h5py.File(path, "r") as f:
        out = ["X"] if "X" in f else []
        if "raw" in f and "X" in f["raw"]:
            out.append("raw")
        if "layers" in f:
            out += list(f["layers"].keys())
    return out


def _h5ad_source(path: Path, layer: str | None = None) -> SingleCellSource:
    import anndata as ad

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"{path}: cannot open as HDF5/.h5ad (truncated or corrupt? {exc})") from None
    try:
        if "obs" not in f or "var" not in f:
            raise UserError(f"{path}: not an AnnData .h5ad file (no 'obs'/'var' groups)")
        obs = ad.io.read_elem(f["obs"])
        if layer is not None:
            layers = list(f["layers"].keys()) if "layers" in f else []
            if layer == "X" and "X" in f:
                elem, name, var = f["X"], "X", ad.io.read_elem(f["var"])
            elif layer == "raw" and "raw" in f and "X" in f["raw"]:
                elem, name, var = f["raw"]["X"], ".raw.X", ad.io.read_elem(f["raw"]["var"])
            elif layer in layers:
                elem, name, var = f["layers"][layer], f"layers['{layer}']", ad.io.read_elem(f["var"])
            else:
                offered = (["X"] if "X" in f else []) + (["raw"] if "raw" in f else []) + layers
                raise UserError(f"{path}: --layer {layer!r} is not in the file; it offers {offered}")
        elif "layers" in f and "counts" in f["layers"]:
            elem, name, var = f["layers"]["counts"], "layers['counts']", ad.io.read_elem(f["var"])
        elif "raw" in f and "X" in f["raw"]:
            elem, name, var = f["raw"]["X"], ".raw.X", ad.io.read_elem(f["raw"]["var"])
        elif "X" in f:
            elem, name, var = f["X"], "X", ad.io.read_elem(f["var"])
        else:
            raise UserError(f"{path}: .h5ad has no X, .raw or layers['counts']")
        h5 = None
        if isinstance(elem, h5py.Group):
            fmt = elem.attrs.get("encoding-type", "")
            mat = ad.io.sparse_dataset(elem)
            if fmt == "csc_matrix":  # row slices of CSC are slow but correct; issue a note via name
                name += " (CSC)"
            if fmt in ("csr_matrix", "csc_matrix"):
                h5 = _H5Sparse(elem, fmt[:3], (len(obs), len(var)))

            def reader(start: int, stop: int, _m=mat):
                return _m[start:stop]
        else:

            def reader(start: int, stop: int, _d=elem):
                return sp.csr_matrix(_d[start:stop])

        shape = (len(obs), len(var))
        if isinstance(elem, h5py.Group):
            shape_attr = tuple(elem.attrs.get("shape", shape))
        else:
            shape_attr = elem.shape
        if tuple(shape_attr) != shape:
            raise UserError(f"{path}: {name} has shape {tuple(shape_attr)} but obs x var is {shape}")
        for what, frame in (("obs", obs), ("var", var)):
            if not isinstance(frame, pd.DataFrame):
                raise UserError(
                    f"{path}: {what} is stored as {type(frame).__name__}, not a dataframe (not a valid .h5ad)"
                )
    except UserError:
        f.close()
        raise
    except Exception as exc:  # h5py and anndata's IO registry raise many types for corrupt or odd files
        f.close()
        raise UserError(f"{path}: cannot read .h5ad ({type(exc).__name__}: {exc})") from None
    obs.index = obs.index.astype(str)
    return SingleCellSource(
        path, obs, pd.Index(var.index.astype(str)), name, reader, f.close, h5, _symbols_from_var(var)
    )


def _tenx_h5_source(path: Path) -> SingleCellSource:
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"{path}: cannot open as a 10x HDF5 file ({exc})") from None
    with f:
        try:
            has_matrix = "matrix" in f
        except (RuntimeError, OSError, KeyError, ValueError) as exc:  # corrupt HDF5 metadata
            raise UserError(f"{path}: malformed 10x HDF5 file ({type(exc).__name__}: {exc})") from None
        if not has_matrix:
            groups = list(f.keys())
            raise UserError(
                f"{path}: 10x HDF5 in the CellRanger v2 layout (genome group(s) {groups}); "
                "only the CellRanger >= 3 layout (group 'matrix') is supported"
            )
        g = f["matrix"]

        def text(ds) -> list[str]:
            return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(ds[()]).ravel()]

        try:
            n_genes, n_cells = (int(x) for x in np.asarray(g["shape"][()]).ravel())
            feats = g["features"]
            ids = text(feats["id"])
            names = text(feats["name"]) if "name" in feats else None
            ftype = text(feats["feature_type"]) if "feature_type" in feats else None
            barcodes = text(g["barcodes"])
            for what, values in (
                ("features/id", ids),
                ("features/name", names),
                ("features/feature_type", ftype),
            ):
                if values is not None and len(values) != n_genes:
                    raise UserError(
                        f"{path}: 10x HDF5 {what} has {len(values)} entries but shape says {n_genes} genes"
                    )
            if len(barcodes) != n_cells:
                raise UserError(
                    f"{path}: 10x HDF5 has {len(barcodes)} barcodes but shape says {n_cells} cells"
                )
            mat = sp.csc_matrix((g["data"][()], g["indices"][()], g["indptr"][()]), shape=(n_genes, n_cells))
            mat.check_format(full_check=True)
            if not np.issubdtype(mat.dtype, np.number) or np.issubdtype(mat.dtype, np.complexfloating):
                raise UserError(f"{path}: 10x HDF5 matrix/data holds non-numeric values (dtype {mat.dtype})")
            X = mat.T.tocsr()
        except UserError:
            raise
        except KeyError as exc:
            raise UserError(f"{path}: 10x HDF5 lacks dataset {exc}") from None
        except (
            ValueError,
            TypeError,
            AttributeError,
            UnicodeDecodeError,
            OSError,
            RuntimeError,
            IndexError,
        ) as exc:
            raise UserError(f"{path}: malformed 10x HDF5 matrix ({type(exc).__name__}: {exc})") from None
    keep = np.array([t == "Gene Expression" for t in ftype]) if ftype else np.ones(len(ids), bool)
    X = X[:, np.flatnonzero(keep)]
    var = pd.Index(np.asarray(ids)[keep])
    symbols = pd.Series(np.asarray(names)[keep], index=var) if names is not None else None
    obs = pd.DataFrame(index=pd.Index(barcodes, name="barcode"))
    return SingleCellSource(path, obs, var, "matrix", X, gene_symbols=symbols)


def _open_text(p: Path):
    return gzip.open(p, "rt") if p.name.endswith(".gz") else open(p)


def _find(folder: Path, names: tuple[str, ...]) -> Path:
    for n in names:
        for cand in (folder / n, folder / f"{n}.gz"):
            if cand.exists():
                return cand
    raise UserError(f"{folder}: 10x mtx folder lacks {' or '.join(names)} (optionally .gz)")


def read_mtx(mtx: Path) -> sp.coo_matrix:
    """A Matrix Market ``coordinate`` file (plain or gzipped; integer/real/pattern, general) as COO.

    Parsed with pandas rather than ``scipy.io.mmread``: scipy's C++ reader aborted the whole process on
    malformed input (std::terminate on a stream without the banner; a sporadic SIGFPE), found by fuzzing.
    """
    try:
        with gzip.open(mtx, "rt") if mtx.name.endswith(".gz") else open(mtx) as fh:
            banner = fh.readline()
            if not banner.lower().startswith("%%matrixmarket"):
                raise UserError(
                    f"{mtx}: not a Matrix Market file (first line must start with %%MatrixMarket)"
                )
            words = banner.lower().split()
            if len(words) < 5 or words[1] != "matrix" or words[2] != "coordinate":
                raise UserError(
                    f"{mtx}: only 'matrix coordinate' Matrix Market files are supported (got {banner.strip()!r})"
                )
            field, symmetry = words[3], words[4]
            if field not in ("integer", "real", "pattern") or symmetry != "general":
                raise UserError(f"{mtx}: unsupported Matrix Market field/symmetry {field!r}/{symmetry!r}")
            lineno, line = 1, ""
            for line in fh:
                lineno += 1
                if line.strip() and not line.startswith("%"):
                    break
            else:
                raise UserError(f"{mtx}: no size line after the Matrix Market header")
            size = line.split()
            if len(size) != 3 or not all(x.isdigit() for x in size):
                raise UserError(
                    f"{mtx}: line {lineno}: size line must be 'rows columns entries', got {line.strip()!r}"
                )
            n_rows, n_cols, nnz = (int(x) for x in size)
            ncol = 2 if field == "pattern" else 3
            try:
                t = pd.read_csv(fh, sep=r"\s+", header=None, comment="%", engine="c", dtype=str)
            except pd.errors.EmptyDataError:
                t = pd.DataFrame(columns=range(ncol))
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{mtx}: cannot read Matrix Market file ({exc})") from None
    if t.shape[0] != nnz or (t.shape[0] and t.shape[1] != ncol):
        raise UserError(
            f"{mtx}: the size line announces {nnz} entries of {ncol} fields; found {t.shape[0]} rows of "
            f"{t.shape[1]} fields"
        )
    ij = t.iloc[:, :2].apply(pd.to_numeric, errors="coerce") if nnz else pd.DataFrame(np.zeros((0, 2)))
    if ij.isna().to_numpy().any() or ((ij % 1) != 0).to_numpy().any():
        raise UserError(f"{mtx}: row/column indices must be integers")
    i, j = ij.iloc[:, 0].to_numpy(np.int64) - 1, ij.iloc[:, 1].to_numpy(np.int64) - 1
    if nnz and (i.min() < 0 or j.min() < 0 or i.max() >= n_rows or j.max() >= n_cols):
        raise UserError(f"{mtx}: an entry's index lies outside the {n_rows} x {n_cols} matrix")
    if field == "pattern":
        v = np.ones(nnz)
    else:
        v = pd.to_numeric(t.iloc[:, 2], errors="coerce").to_numpy(np.float64) if nnz else np.zeros(0)
        if np.isnan(v).any():
            raise UserError(f"{mtx}: non-numeric value in the entries")
    return sp.coo_matrix((v, (i, j)), shape=(n_rows, n_cols))


def _read_mtx_table(path: Path) -> pd.DataFrame:
    """features.tsv / barcodes.tsv of a 10x mtx folder (no header); UserError when empty or unreadable."""
    try:
        return pd.read_csv(path, sep="\t", header=None, dtype=str)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty file (one line per feature or barcode expected)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise UserError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None


def _mtx_source(folder: Path) -> SingleCellSource:
    mtx = _find(folder, ("matrix.mtx",))
    feats = _find(folder, ("features.tsv", "genes.tsv"))
    bcs = _find(folder, ("barcodes.tsv",))
    m = read_mtx(mtx)
    features = _read_mtx_table(feats)
    barcodes = _read_mtx_table(bcs)[0]
    if m.shape != (len(features), len(barcodes)):
        raise UserError(
            f"{mtx}: matrix shape {m.shape} does not match {len(features)} features x "
            f"{len(barcodes)} barcodes"
        )
    X = sp.csr_matrix(m.T)
    if features.shape[1] >= 3:
        keep = (features[2] == "Gene Expression").to_numpy()
        X, features = X[:, np.flatnonzero(keep)], features[keep]
    obs = pd.DataFrame(index=pd.Index(barcodes.to_numpy(), name="barcode"))
    var = pd.Index(features[0].to_numpy())
    symbols = pd.Series(features[1].to_numpy(), index=var) if features.shape[1] >= 2 else None
    return SingleCellSource(folder, obs, var, "matrix.mtx", X, gene_symbols=symbols)


def obs_table_for(path: Path) -> Path | None:
    """The cell table paired with a genes x cells CSV/TSV: ``<name>.obs.csv`` or ``<name>.obs.tsv`` beside it
    (``counts.csv.gz`` -> ``counts.obs.csv``); first column = the cell names of the matrix header, then
    columns such as ``sample`` and ``cell_type``. None when absent (the file is then one sample)."""
    name = path.name
    for suffix in (".csv.gz", ".tsv.gz", ".txt.gz", ".csv", ".tsv", ".txt"):
        if name.lower().endswith(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        return None
    for ext in (".obs.csv", ".obs.tsv"):
        cand = path.with_name(stem + ext)
        if cand.is_file() and cand != path:
            return cand
    return None


def _read_obs_table(side: Path, cells: pd.Index, matrix: Path) -> pd.DataFrame:
    sep = "\t" if side.name.endswith(".tsv") else ","
    try:
        obs = pd.read_csv(side, sep=sep, index_col=0, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise UserError(f"{side}: cannot parse the cell table of {matrix.name} ({exc})") from None
    obs.index = obs.index.astype(str)
    if obs.index.has_duplicates:
        raise UserError(f"{side}: cell '{obs.index[obs.index.duplicated()][0]}' appears twice")
    missing = cells.difference(obs.index)
    if len(missing):
        raise UserError(
            f"{side}: no row for cell '{missing[0]}' of {matrix.name} ({len(missing)} cells missing); the "
            "first column must hold the cell names of the matrix header"
        )
    return obs.reindex(cells)


def _csv_source(path: Path) -> SingleCellSource:
    name = path.name.lower().removesuffix(".gz")
    sep = "\t" if name.endswith((".tsv", ".txt")) else ","
    try:
        df = pd.read_csv(path, sep=sep, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise UserError(f"{path}: cannot parse genes x cells table ({exc})") from None
    if df.shape[1] == 0:
        raise UserError(f"{path}: found a single column; check the delimiter (CSV: comma, TSV: tab)")
    values = df.apply(pd.to_numeric, errors="coerce")
    if values.isna().to_numpy().any():
        r, c = np.argwhere(values.isna().to_numpy())[0]
        raise UserError(f"{path}: gene '{df.index[r]}', cell '{df.columns[c]}': missing or non-numeric value")
    X = sp.csr_matrix(values.to_numpy(dtype=np.float64).T)
    cells = pd.Index(df.columns.astype(str), name="barcode")
    side = obs_table_for(path)
    obs = _read_obs_table(side, cells, path) if side is not None else pd.DataFrame(index=cells)
    obs.index.name = "barcode"
    return SingleCellSource(path, obs, pd.Index(df.index.astype(str)), "matrix", X)


def open_singlecell(path: str | Path, layer: str | None = None) -> SingleCellSource:
    """Open a single-cell counts file by its format (see module docstring).

    ``layer`` (``.h5ad`` only): ``'X'``, ``'raw'`` or a name in ``layers``; default ``layers['counts']``,
    then ``.raw``, then ``X``.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: single-cell file does not exist")
    name = path.name.lower()
    if path.is_dir():
        src = _mtx_source(path)
    elif name.endswith(".h5ad"):
        src = _h5ad_source(path, layer)
    elif name.endswith(".h5"):
        src = _tenx_h5_source(path)
    elif name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")):
        src = _csv_source(path)
    else:
        raise UserError(f"{path}: unknown single-cell format (expected .h5ad, 10x .h5, mtx folder, CSV/TSV)")
    # a transient hash table: Index.is_unique would keep one alive (~40 B per cell) for the file's lifetime
    dups = pd.Series(src.obs.index.to_numpy(), copy=False).duplicated().to_numpy()
    if dups.any():
        dup = src.obs.index[dups][0]
        src.close()
        raise UserError(f"{path}: duplicate cell barcode '{dup}'; barcodes must be unique within a file")
    return src
