import filecmp
from pathlib import Path

import pytest

from pbfidelity.errors import UserError
from pbfidelity.io.samplesheet import datasets, load_schema, read_samplesheet

ROOT = Path(__file__).resolve().parents[2]


def _sheet(tmp_path: Path, text: str, name: str = "ss.csv") -> Path:
    (tmp_path / "bulk.tsv").write_text("gene_id\tB1\nG1\t1\n")
    (tmp_path / "cells.h5ad").write_text("")
    p = tmp_path / name
    p.write_text(text)
    return p


def test_package_schema_is_the_pipeline_schema():
    packaged = ROOT / "src" / "pbfidelity" / "assets" / "schema_input.json"
    assert filecmp.cmp(packaged, ROOT / "assets" / "schema_input.json", shallow=False)
    assert load_schema()["$schema"].endswith("2020-12/schema")


def test_valid_rows_defaults_and_extras(tmp_path):
    p = _sheet(tmp_path, "dataset,sample,bulk,singlecell,bulk_id,phenotype\nd1,S1,bulk.tsv,cells.h5ad,B1,case\n"
                         "d2,S1,bulk.tsv,cells.h5ad,,control\n")
    rows = read_samplesheet(p)
    assert [r.bulk_id for r in rows] == ["B1", "S1"]
    assert rows[0].sc_id == "S1" and rows[0].donor == "S1"
    assert rows[0].extra == {"phenotype": "case"}
    assert rows[0].bulk == tmp_path / "bulk.tsv"
    assert list(datasets(rows)) == ["d1", "d2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dataset,sample,bulk\nd,S1,bulk.tsv\n", "required column(s) singlecell missing"),
        ("dataset,sample,bulk,singlecell\nd,S1,bulk.tsv,cells.h5ad\nd,S1,bulk.tsv,cells.h5ad\n",
         "row 3, column 'sample': duplicate sample 'S1'"),
        ("dataset,sample,bulk,singlecell\nd,S 1,bulk.tsv,cells.h5ad\n", "row 2, column 'sample'"),
        ("dataset,sample,bulk,singlecell\nd,S1,missing.tsv,cells.h5ad\n", "row 2, column 'bulk': file 'missing.tsv' does not exist"),
        ("dataset,sample,bulk,singlecell\nd,S1,bulk.bam,cells.h5ad\n", "row 2, column 'bulk'"),
        ("dataset,sample,bulk,singlecell\nd,,bulk.tsv,cells.h5ad\n", "row 2: required column 'sample' is missing or empty"),
        ("dataset;sample;bulk;singlecell\nd;S1;bulk.tsv;cells.h5ad\n", "header has a single column"),
        ("", "samplesheet is empty"),
        ("dataset,sample,bulk,singlecell\n", "no rows"),
        ("dataset,sample,bulk,singlecell\nd,S1,bulk.tsv\n", "row 2 has 3 fields"),
    ],
)
def test_bad_samplesheets_name_row_and_column(tmp_path, text, message):
    with pytest.raises(UserError, match=None) as err:
        read_samplesheet(_sheet(tmp_path, text))
    assert message in str(err.value)
    assert str(tmp_path / "ss.csv") in str(err.value)


def test_parent_paths_refused_on_request(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    _sheet(tmp_path, "")
    p = sub / "ss.csv"
    p.write_text("dataset,sample,bulk,singlecell\nd,S1,../bulk.tsv,../cells.h5ad\n")
    assert read_samplesheet(p)[0].bulk.name == "bulk.tsv"
    with pytest.raises(UserError, match="leaves the samplesheet's folder"):
        read_samplesheet(p, allow_parent_paths=False)


def test_missing_samplesheet(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_samplesheet(tmp_path / "nope.csv")


def test_choose_dataset_names_the_source_and_the_choices():
    from pbfidelity.io.samplesheet import choose_dataset

    assert choose_dataset(["a"], None, "x.tsv") == "a"
    assert choose_dataset(["a", "b"], "b", "x.tsv") == "b"
    with pytest.raises(UserError, match=r"x.tsv: holds datasets \['a', 'b'\]; choose one with --apply-dataset"):
        choose_dataset(["a", "b"], None, "x.tsv", "--apply-dataset")
    with pytest.raises(UserError, match=r"x.tsv: no dataset 'c' \(datasets: \['a', 'b'\]\)"):
        choose_dataset(["a", "b"], "c", "x.tsv")
