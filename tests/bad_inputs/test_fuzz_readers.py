"""Property-based fuzzing of the input readers (#15 item 5): every input either reads or ends in one
:class:`UserError` — never another exception (a traceback for the user) and never a hang (hypothesis'
deadline). Inputs are generated structurally (CSV/TSV text from a hostile alphabet, HDF5 files with missing,
mis-typed or inconsistent datasets, Matrix Market text) and by corrupting valid files byte-wise.

In-suite budget: ``PBF_FUZZ_EXAMPLES`` examples per reader (default 40, ~30 s in all); a longer session:
``PBF_FUZZ_EXAMPLES=2000 pytest tests/bad_inputs/test_fuzz_readers.py -n 0 -p no:cacheprovider``.
Crashes found are pinned as regression cases in ``tests/bad_inputs/test_fuzz_regressions.py``.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbfidelity.errors import UserError
from pbfidelity.io.bulk import read_bulk_counts
from pbfidelity.io.samplesheet import read_samplesheet
from pbfidelity.io.singlecell import open_singlecell

N = int(os.environ.get("PBF_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=N, deadline=5000, suppress_health_check=list(HealthCheck), derandomize=N <= 100)

CELL = st.text(alphabet="0123456789.-eE+naNIfAGTSxyz_ \"'", min_size=0, max_size=8)


def _reads_or_user_error(fn, *args, **kwargs):
    try:
        out = fn(*args, **kwargs)
    except UserError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg.strip(), f"UserError must be one line: {msg!r}"
        return None
    return out


@st.composite
def tables(draw, sep: str):
    n_cols = draw(st.integers(1, 5))
    n_rows = draw(st.integers(0, 6))
    header = draw(
        st.lists(
            st.sampled_from(["gene_id", "gene_name", "S1", "S2", "Length", "", "S1 "]),
            min_size=n_cols,
            max_size=n_cols,
        )
    )
    rows = [draw(st.lists(CELL, min_size=1, max_size=n_cols + 1)) for _ in range(n_rows)]
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["__no_feature\t1\t2", "N_unmapped\t3", "\x00", "ünï\tcode"])))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@FUZZ
@given(
    text=st.one_of(tables("\t"), tables(",")),
    name=st.sampled_from(["b.tsv", "b.csv", "salmon.merged.gene_counts.tsv", "b.txt", "b.tsv.gz"]),
)
def test_bulk_reader(text, name):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        data = text.encode("utf-8", "surrogatepass")
        p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        got = _reads_or_user_error(read_bulk_counts, p)
        if got is not None:
            assert got.counts.dtypes.map(lambda t: t == np.int64).all()
            assert (got.counts.to_numpy() >= 0).all()


@FUZZ
@given(data=st.binary(max_size=200), name=st.sampled_from(["b.tsv.gz", "b.tsv", "b.csv"]))
def test_bulk_reader_random_bytes(data, name):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        _reads_or_user_error(read_bulk_counts, p)


@FUZZ
@given(
    header=st.lists(
        st.sampled_from(
            [
                "dataset",
                "sample",
                "bulk",
                "singlecell",
                "bulk_id",
                "sc_id",
                "donor",
                "phenotype",
                "",
                "sample",
            ]
        ),
        min_size=1,
        max_size=8,
    ),
    rows=st.lists(
        st.lists(
            st.sampled_from(
                ["d", "S1", "S 2", "b.tsv", "c.h5ad", "", "missing.tsv", "../b.tsv", '"q,uoted"', "é"]
            ),
            min_size=0,
            max_size=9,
        ),
        max_size=5,
    ),
    sep=st.sampled_from([",", "\t"]),
)
def test_samplesheet_reader(header, rows, sep):
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "b.tsv").write_text("gene\tS1\nG\t1\n")
        (Path(d) / "c.h5ad").write_text("")
        p = Path(d) / ("s.csv" if sep == "," else "s.tsv")
        p.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n")
        for allow in (True, False):
            got = _reads_or_user_error(read_samplesheet, p, allow_parent_paths=allow)
            if got is not None:
                assert all(r.bulk.exists() and r.singlecell.exists() for r in got)


def _read_all(path: Path, layer: str | None = None):
    with open_singlecell(path, layer) as src:
        x = src.to_memory()
        assert x.shape == (src.n_obs, src.n_vars)
        return x


_VALUES = st.sampled_from(
    [
        np.array([1.0, 2.0, 3.0]),
        np.array([1, 2, 3], dtype=np.int32),
        np.array([0.5, 1, 2]),
        np.array([-1, 2, 3]),
        np.array([np.nan, 1, 2]),
        np.array([], dtype=float),
        np.array([b"a", b"b", b"c"]),
    ]
)


@st.composite
def h5ad_files(draw, path: Path):
    """An .h5ad (written by anndata) whose count matrix, obs/var groups or layers are then broken."""
    n_obs, n_vars = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    x = sp.random(n_obs, n_vars, density=0.5, format="csr", random_state=1) * 10
    x.data = np.round(x.data)
    a = ad.AnnData(
        x,
        obs=pd.DataFrame({"sample": ["S1"] * n_obs}, index=[f"c{i}" for i in range(n_obs)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(n_vars)]),
    )
    if draw(st.booleans()):
        a.layers["counts"] = x.copy()
    if draw(st.booleans()):
        a.raw = a.copy()
    a.write_h5ad(path)
    with h5py.File(path, "r+") as f:
        for _ in range(draw(st.integers(0, 3))):
            target = draw(
                st.sampled_from(
                    [
                        "X",
                        "obs",
                        "var",
                        "layers/counts",
                        "raw/X",
                        "X/data",
                        "X/indptr",
                        "X/indices",
                        "obs/_index",
                        "raw/var",
                    ]
                )
            )
            if target not in f:
                continue
            action = draw(st.sampled_from(["delete", "replace", "attr"]))
            if action == "delete":
                del f[target]
            elif action == "replace":
                del f[target]
                f.create_dataset(target, data=draw(_VALUES))
            else:
                f[target].attrs["encoding-type"] = draw(st.sampled_from(["csc_matrix", "array", "weird", ""]))
    return draw(st.sampled_from([None, None, "X", "raw", "counts", "nope"]))


@FUZZ
@given(data=st.data())
def test_h5ad_reader(data):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "sc.h5ad"
        layer = data.draw(h5ad_files(p))
        _reads_or_user_error(_read_all, p, layer)


@st.composite
def tenx_files(draw, path: Path):
    n_genes, n_cells = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    m = sp.random(n_genes, n_cells, density=0.5, format="csc", random_state=2) * 10
    m.data = np.round(m.data)
    parts = {
        "barcodes": np.array([f"B{i}" for i in range(n_cells)], dtype="S"),
        "data": m.data.astype(np.int32),
        "indices": m.indices.astype(np.int64),
        "indptr": m.indptr.astype(np.int64),
        "shape": np.array([n_genes, n_cells], dtype=np.int32),
        "features/id": np.array([f"ENSG{i:011d}" for i in range(n_genes)], dtype="S"),
        "features/name": np.array([f"MT-{i}" for i in range(n_genes)], dtype="S"),
        "features/feature_type": np.array(["Gene Expression"] * n_genes, dtype="S"),
    }
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(parts)))
        parts[key] = draw(
            st.sampled_from(
                [
                    None,
                    np.array([7, 7, 7, 7, 7]),
                    np.array([b"\xff\xfe"]),
                    np.array([-1, 0], dtype=np.int64),
                    np.array([1.5, 2.5]),
                    np.array([5, 2], dtype=np.int32),
                ]
            )
        )
    with h5py.File(path, "w") as f:
        if draw(st.booleans()) or True:
            g = f.create_group("matrix")
            for key, value in parts.items():
                if value is not None:
                    g.create_dataset(key, data=value)


@FUZZ
@given(data=st.data())
def test_10x_h5_reader(data):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "filtered_feature_bc_matrix.h5"
        data.draw(tenx_files(p))
        _reads_or_user_error(_read_all, p)


@FUZZ
@given(
    header=st.sampled_from(
        [
            "%%MatrixMarket matrix coordinate integer general",
            "%%MatrixMarket matrix coordinate real general",
            "%%MatrixMarket matrix array real general",
            "%%MatrixMarket matrix coordinate pattern general",
            "not a header",
            "",
        ]
    ),
    size=st.lists(st.integers(-1, 4), min_size=0, max_size=3),
    entries=st.lists(
        st.lists(st.sampled_from(["1", "2", "3", "0", "-1", "0.5", "x", "9"]), min_size=0, max_size=4),
        max_size=6,
    ),
    n_features=st.integers(0, 4),
    n_barcodes=st.integers(0, 4),
    feature_cols=st.integers(1, 3),
)
def test_mtx_reader(header, size, entries, n_features, n_barcodes, feature_cols):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "mtx"
        folder.mkdir()
        body = "\n".join([header, " ".join(map(str, size)), *(" ".join(e) for e in entries)]) + "\n"
        (folder / "matrix.mtx").write_text(body)
        cols = ["ENSG1", "MT-A", "Gene Expression"][:feature_cols]
        (folder / "features.tsv").write_text("".join("\t".join(cols) + "\n" for _ in range(n_features)))
        (folder / "barcodes.tsv").write_text("".join(f"B{i}\n" for i in range(n_barcodes)))
        _reads_or_user_error(_read_all, folder)


@FUZZ
@given(
    text=st.one_of(tables(","), tables("\t")),
    name=st.sampled_from(["cells.csv", "cells.tsv", "cells.csv.gz"]),
    obs=st.one_of(st.none(), st.text(alphabet="abc,\n S1_cell", max_size=40)),
)
def test_genes_by_cells_csv_reader(text, name, obs):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        data = text.encode("utf-8", "surrogatepass")
        p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        if obs is not None:
            (Path(d) / "cells.obs.csv").write_text(obs)
        _reads_or_user_error(_read_all, p)


@FUZZ
@given(
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
    kind=st.sampled_from(["h5ad", "h5"]),
)
def test_corrupted_hdf5_bytes(flips, cut, kind):
    """Valid files with bytes overwritten or truncated."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"sc.{kind}"
        if kind == "h5ad":
            x = sp.csr_matrix(np.arange(12, dtype=np.float32).reshape(3, 4))
            ad.AnnData(x, obs=pd.DataFrame(index=["a", "b", "c"])).write_h5ad(p)
        else:
            bio = io.BytesIO()
            with h5py.File(bio, "w") as f:
                g = f.create_group("matrix")
                g["barcodes"] = np.array([b"A", b"B"])
                g["data"] = np.array([1, 2], dtype=np.int32)
                g["indices"] = np.array([0, 1])
                g["indptr"] = np.array([0, 1, 2])
                g["shape"] = np.array([2, 2])
                g["features/id"] = np.array([b"g1", b"g2"])
            p.write_bytes(bio.getvalue())
        raw = bytearray(p.read_bytes())
        for pos, val in flips:
            raw[pos % len(raw)] = val
        if cut is not None:
            raw = raw[: cut % (len(raw) + 1)]
        p.write_bytes(bytes(raw))
        _reads_or_user_error(_read_all, p)
