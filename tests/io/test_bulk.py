import numpy as np
import pandas as pd
import pytest

from pbfidelity.errors import UserError
from pbfidelity.io.bulk import read_bulk_counts, select_samples, write_bulk_counts


def test_round_trip(tmp_path):
    df = pd.DataFrame({"A": [1, 0, 5], "B": [2, 3, 0]}, index=pd.Index(["G1", "G2", "G3"], name="gene_id"))
    for name in ("m.tsv", "m.csv", "m.tsv.gz"):
        got = read_bulk_counts(write_bulk_counts(df, tmp_path / name))
        pd.testing.assert_frame_equal(got.counts, df.astype(np.int64))


def test_nfcore_rnaseq_merged_gene_counts(tmp_path, caplog):
    """nf-core/rnaseq salmon/RSEM matrices hold estimated counts: recognised by name, rounded with a logged note
    and a recorded flag; the same values in a plain table are refused (not silently altered)."""
    text = "gene_id\tgene_name\tS1\tS2\nENSG1.2\tTP53\t10.4\t3\nENSG2.1\tMT-CO1\t7\t1.6\n"
    plain = tmp_path / "counts.tsv"
    plain.write_text(text)
    with pytest.raises(UserError, match=r"column 'S1', gene 'ENSG1.2': non-integer count 10.4"):
        read_bulk_counts(plain)
    assert read_bulk_counts(plain, round_fractional=True).n_rounded == 2
    for name in ("salmon.merged.gene_counts.tsv", "rsem.merged.gene_counts.tsv", "x.salmon.merged.gene_counts.head.tsv"):
        p = tmp_path / name
        p.write_text(text)
        with caplog.at_level("WARNING", logger="pbfidelity"):
            got = read_bulk_counts(p)
        assert "2 non-integer counts rounded" in caplog.text
        assert got.n_rounded == 2 and got.format.startswith("nf-core/rnaseq")
        assert got.counts.loc["ENSG1.2", "S1"] == 10 and got.counts.loc["ENSG2.1", "S2"] == 2
        assert got.gene_names["ENSG2.1"] == "MT-CO1"
        assert list(got.counts.columns) == ["S1", "S2"]
    tpm = tmp_path / "salmon.merged.gene_tpm.tsv"
    tpm.write_text(text)
    with pytest.raises(UserError, match="TPM matrix, not counts"):
        read_bulk_counts(tpm)


def test_htseq_summary_rows_become_unassigned(tmp_path):
    p = tmp_path / "c.tsv"
    p.write_text("gene\tS1\tS2\nG1\t5\t6\n__no_feature\t100\t900\n__ambiguous\t1\t2\n")
    got = read_bulk_counts(p)
    assert list(got.counts.index) == ["G1"]
    assert got.unassigned.to_dict() == {"S1": 100, "S2": 900}


def test_r_style_csv_with_short_header(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text('"S1","S2"\n"G1",1,2\n"G2",3,4\n')
    got = read_bulk_counts(p)
    assert got.counts.loc["G2", "S2"] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gene\tS1\nG1\t-1\n", "gene 'G1': negative count"),
        ("gene\tS1\nG1\t\n", "gene 'G1': missing value (NaN)"),
        ("gene\tS1\nG1\tabc\n", "non-numeric value 'abc'"),
        ("gene\tS1\nG1\t1\nG1\t2\n", "gene 'G1' appears twice"),
        ("gene,S1\nG1,1\n", "found a single column"),
    ],
)
def test_bad_bulk(tmp_path, text, message):
    p = tmp_path / "b.tsv"
    p.write_text(text)
    with pytest.raises(UserError) as err:
        read_bulk_counts(p)
    assert message in str(err.value) and str(p) in str(err.value)


def test_missing_sample_column_names_row(tmp_path):
    p = tmp_path / "b.tsv"
    p.write_text("gene\tS1\nG1\t1\n")
    with pytest.raises(UserError, match=r"column 'S9' \(samplesheet row 4\) is not in the bulk matrix"):
        select_samples(read_bulk_counts(p), ["S9"], {"S9": 4})
