"""Crashes found by fuzzing the readers (tests/bad_inputs/test_fuzz_readers.py), pinned: each input must end in
one clear line and exit 2 from the CLI — no traceback, no abort."""

from __future__ import annotations

import gzip
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

HEADER = "dataset,sample,bulk,singlecell\n"


def _sheet(d: Path, sc: str) -> Path:
    (d / "bulk.tsv").write_text("gene_id\tS1\nG1\t5\nG2\t3\n")
    p = d / "samplesheet.csv"
    p.write_text(HEADER + f"ds,S1,bulk.tsv,{sc}\n")
    return p


def _mtx_dir(d: Path, matrix: str) -> str:
    f = d / "mtx"
    f.mkdir()
    (f / "matrix.mtx").write_text(matrix)
    (f / "features.tsv").write_text("G1\tG1\tGene Expression\nG2\tG2\tGene Expression\n")
    (f / "barcodes.tsv").write_text("B1\nB2\n")
    return "mtx"


def _tenx(d: Path, **broken) -> str:
    parts = {
        "barcodes": np.array([b"B1", b"B2"]),
        "data": np.array([1, 2], dtype=np.int32),
        "indices": np.array([0, 1]),
        "indptr": np.array([0, 1, 2]),
        "shape": np.array([2, 2]),
        "features/id": np.array([b"G1", b"G2"]),
    }
    parts.update(broken)
    with h5py.File(d / "sc.h5", "w") as f:
        for k, v in parts.items():
            f.create_dataset(f"matrix/{k}", data=v)
    return "sc.h5"


def _corrupt_h5ad(d: Path) -> str:
    p = d / "sc.h5ad"
    ad.AnnData(
        sp.csr_matrix(np.arange(12, dtype=np.float32).reshape(3, 4)), obs=pd.DataFrame(index=["a", "b", "c"])
    ).write_h5ad(p)
    raw = bytearray(p.read_bytes())
    raw[40] = 0  # one byte of the superblock: h5py raised RuntimeError (addr overflow)
    p.write_bytes(bytes(raw))
    return "sc.h5ad"


def _mtx_empty_features(d: Path) -> str:
    name = _mtx_dir(d, "%%MatrixMarket matrix coordinate integer general\n0 0 0\n")
    (d / "mtx" / "features.tsv").write_text("")  # pandas EmptyDataError escaped the reader
    (d / "mtx" / "barcodes.tsv").write_text("")
    return name


def _tenx_corrupt_metadata(d: Path) -> str:
    name = _tenx(d)
    raw = bytearray((d / name).read_bytes())
    raw[17] = 1  # h5py raised RuntimeError (addr overflow) on `"matrix" in f`, before any read was guarded
    (d / name).write_bytes(bytes(raw))
    return name


def _h5ad_var_as_array(d: Path) -> str:
    p = d / "sc.h5ad"
    ad.AnnData(
        sp.csr_matrix(np.ones((2, 2), dtype=np.float32)), obs=pd.DataFrame(index=["a", "b"])
    ).write_h5ad(p)
    with h5py.File(p, "r+") as f:  # var stored as a plain array: the reader died on `var.index`
        del f["var"]
        f["var"] = np.array([1, 2])
    return "sc.h5ad"


def _h5ad_text_data(d: Path) -> str:
    p = d / "sc.h5ad"
    ad.AnnData(
        sp.csr_matrix(np.ones((2, 2), dtype=np.float32)),
        obs=pd.DataFrame(index=["a", "b"]),
        var=pd.DataFrame(index=["MT-CO1", "G2"]),
    ).write_h5ad(p)
    with h5py.File(p, "r+") as f:  # X/data as bytes: numpy's isfinite raised TypeError in the integer check
        del f["X/data"]
        f["X/data"] = np.array([b"a", b"b", b"c", b"d"])
    return "sc.h5ad"


def _dup_header_csv(d: Path) -> str:
    (d / "cells.csv").write_text("gene_id,gene_id")  # header only, duplicated: object dtype reached scipy
    return "cells.csv"


CASES = {
    # scipy.io.mmread (C++) called std::terminate: the process aborted (exit 134, "core dumped")
    "mtx_without_banner": (lambda d: _mtx_dir(d, "\n3 1\n"), "not a Matrix Market file"),
    "mtx_size_line_short": (
        lambda d: _mtx_dir(d, "%%MatrixMarket matrix coordinate real general\n3\n\n2 1\n"),
        "size line must be 'rows columns entries'",
    ),
    "mtx_index_outside": (
        lambda d: _mtx_dir(d, "%%MatrixMarket matrix coordinate integer general\n2 2 1\n3 1 4\n"),
        "outside the 2 x 2 matrix",
    ),
    "tenx_negative_shape": (lambda d: _tenx(d, shape=np.array([-1, 0], dtype=np.int64)), "10x HDF5"),
    "tenx_bad_indptr": (lambda d: _tenx(d, indptr=np.array([7, 7, 7, 7, 7])), "malformed 10x HDF5"),
    "tenx_undecodable_barcode": (
        lambda d: _tenx(d, barcodes=np.array([b"\xff\xfe", b"B2"])),
        "malformed 10x HDF5",
    ),
    "tenx_numeric_ids": (lambda d: _tenx(d, **{"features/id": np.array([5, 2], dtype=np.int32)}), None),
    "tenx_ids_short": (lambda d: _tenx(d, **{"features/id": np.array([b"G1"])}), "features/id has 1 entries"),
    "h5ad_corrupt_superblock": (_corrupt_h5ad, "sc.h5ad"),
    "csv_duplicated_header_only": (_dup_header_csv, None),
    # found by a 400-example session (PBF_FUZZ_EXAMPLES=400), 2026-12-03
    "mtx_empty_features_and_barcodes": (_mtx_empty_features, "features.tsv: empty file"),
    "tenx_corrupt_metadata": (_tenx_corrupt_metadata, "sc.h5"),
    "h5ad_var_not_a_dataframe": (_h5ad_var_as_array, "var is stored as ndarray"),
    # found by a 1,500-example session, same day
    "h5ad_text_counts": (_h5ad_text_data, "holds non-numeric values"),
    "tenx_text_counts": (lambda d: _tenx(d, data=np.array([b"x", b"y"])), "non-numeric values"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fuzz_crash_is_one_line(cli, tmp_path, case):
    make, fragment = CASES[case]
    sheet = _sheet(tmp_path, make(tmp_path))
    proc = cli("qc", "--input", sheet, "--outdir", tmp_path / "out", check=False)
    lines = proc.stderr.strip().splitlines()
    if fragment is None:  # odd but readable inputs: no crash is all we ask
        assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr, proc.stderr
        return
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_bulk_parser_error_is_one_line(tmp_path):
    """pandas' tokenizer message ends in a newline; a UserError is one line whatever it wraps."""
    from pbfidelity.errors import UserError
    from pbfidelity.io.bulk import read_bulk_counts

    p = tmp_path / "b.tsv"
    p.write_text("gene_id\n0\n__no_feature\t1\t2")
    with pytest.raises(UserError) as exc:
        read_bulk_counts(p)
    assert "\n" not in str(exc.value) and "cannot parse" in str(exc.value)
    gz = tmp_path / "b.tsv.gz"
    gz.write_bytes(gzip.compress(b"gene_id\tS1\nG1\t1\n")[:-4])  # truncated gzip
    with pytest.raises(UserError):
        read_bulk_counts(gz)


@pytest.mark.parametrize("value", ["1E100", "inf", "1e19"])
def test_bulk_count_too_large_is_refused(tmp_path, value):
    """1E100 was cast to int64 as -9223372036854775808: user data silently altered (found by fuzzing)."""
    from pbfidelity.errors import UserError
    from pbfidelity.io.bulk import read_bulk_counts

    p = tmp_path / "b.tsv"
    p.write_text(f"gene_id\tS1\nG1\t{value}\nG2\t3\n")
    with pytest.raises(UserError, match="gene 'G1': count .* infinite or too large"):
        read_bulk_counts(p)
    p.write_text("gene_id\tS1\nG1\t9007199254740992\nG2\t3\n")  # 2**53 is still exact
    assert read_bulk_counts(p).counts.loc["G1", "S1"] == 2**53


def test_h5ad_obs_with_a_matrix_encoding(cli, tmp_path):
    """obs re-labelled as a sparse matrix: anndata raised IORegistryError (found by the long fuzz session)."""
    p = tmp_path / "sc.h5ad"
    ad.AnnData(
        sp.csr_matrix(np.ones((2, 2), dtype=np.float32)), obs=pd.DataFrame(index=["a", "b"])
    ).write_h5ad(p)
    with h5py.File(p, "r+") as f:
        f["obs"].attrs["encoding-type"] = "csc_matrix"
    proc = cli("qc", "--input", _sheet(tmp_path, "sc.h5ad"), "--outdir", tmp_path / "out", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot read .h5ad (IORegistryError" in proc.stderr
