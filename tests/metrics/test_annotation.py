import gzip

import pandas as pd
import pytest

from pbfidelity.errors import UserError
from pbfidelity.metrics.annotation import gene_attributes, read_gtf

GTF = """#!genome-build test
1\thavana\tgene\t100\t500\t.\t+\t.\tgene_id "ENSG01.3"; gene_name "ABC"; gene_type "protein_coding";
1\thavana\texon\t100\t200\t.\t+\t.\tgene_id "ENSG01.3"; transcript_id "T1"; gene_name "ABC";
1\thavana\texon\t150\t250\t.\t+\t.\tgene_id "ENSG01.3"; transcript_id "T2"; gene_name "ABC";
1\thavana\texon\t400\t500\t.\t+\t.\tgene_id "ENSG01.3"; transcript_id "T2"; gene_name "ABC";
MT\tensembl\texon\t1\t50\t.\t+\t.\tgene_id "ENSG02"; gene_name "MT-ND1"; gene_biotype "Mt_protein_coding";
"""


def test_gtf_exon_union_length(tmp_path):
    p = tmp_path / "a.gtf.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(GTF)
    t = read_gtf(p)
    assert t.loc["ENSG01", "length"] == 151 + 101  # [100,250] merged + [400,500]
    assert t.loc["ENSG02", "gene_type"] == "Mt_protein_coding"
    attrs = gene_attributes(pd.Index(["ENSG01", "ENSG02", "ENSG03"]), p)
    assert attrs.loc["ENSG02", "is_mito"] and not attrs.loc["ENSG01", "is_mito"]
    assert pd.isna(attrs.loc["ENSG03", "length"])
    bad = tmp_path / "bad.gtf"
    bad.write_text("1\tx\texon\n")
    with pytest.raises(UserError, match="line 1: expected 9"):
        read_gtf(bad)


def test_tsv_annotation_and_symbol_fallback(tmp_path):
    p = tmp_path / "ann.tsv"
    p.write_text(
        "ENTREZID\tENSEMBL\tSYMBOL\tGENETYPE\tCHR\tLENGTH\n1\tENSG1\tRPL5\tprotein-coding\t1\t900\n"
        "2\tENSG2\tMT-CO1\tprotein-coding\tMT\t1500\n"
    )
    a = gene_attributes(pd.Index(["ENSG1", "ENSG2"]), p)
    assert a.loc["ENSG1", "is_ribo"] and a.loc["ENSG2", "is_mito"] and a.loc["ENSG2", "length"] == 1500
    s = gene_attributes(pd.Index(["RPS3", "MT-ND2", "GENE1"]))  # no annotation: symbols are read as such
    assert s["is_ribo"].tolist() == [True, False, False] and s["is_mito"].tolist() == [False, True, False]
