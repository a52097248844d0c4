import numpy as np
import pandas as pd

from pbfidelity.qc.genes import detection_filter, mito_ribo_masks


def test_mito_ribo_by_symbol():
    mito, ribo = mito_ribo_masks(pd.Index(["MT-CO1", "mt-Nd1", "RPL13A", "RPS6", "GAPDH", "RPLP0"]))
    assert mito.tolist() == [True, True, False, False, False, False]
    assert ribo.tolist() == [False, False, True, True, False, True]


def test_detection_filter_needs_each_modality():
    x = np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    keep, table = detection_filter(x, np.array(["bulk", "bulk", "pseudobulk", "pseudobulk"]), 0.5)
    assert keep.tolist() == [True, False, False]
    assert table["detected_fraction_bulk"].tolist() == [1.0, 0.0, 0.5]


def test_gene_classes_recognise_mt_trna_rrna_spike_ins_and_user_patterns():
    from pbfidelity.qc.genes import gene_classes

    ids = pd.Index(["MT-TA", "MT-RNR2", "MT-ND1", "ERCC-00002", "GFP", "RPL13A", "RPSA", "GAPDH", "PhiX174"])
    c = gene_classes(ids, exclude_genes="gfp,PhiX.*")
    assert c["mito"].tolist() == [True, True, True, False, False, False, False, False, False]
    assert c["spike_in"].tolist() == [False, False, False, True, True, False, False, False, True]
    assert c["ribo"].tolist() == [False, False, False, False, False, True, True, False, False]
    # a pattern matches whole names only: 'GFP' does not catch 'GFPT1'
    assert not gene_classes(pd.Index(["GFPT1"]), exclude_genes="GFP")["spike_in"].any()


def test_gene_classes_by_symbol_when_ids_are_ensembl(tmp_path):
    """Ensembl ids: MT genes found through the names the input carries, or the annotation (SYMBOL / CHR MT)."""
    from pbfidelity.io.genes import GeneAnnotation
    from pbfidelity.qc.genes import gene_classes

    ids = pd.Index(["ENSG00000198888", "ENSG00000210049", "ENSG00000111640", "ENSG00000142541"])
    names = pd.Series(["MT-ND1", "MT-TF", "GAPDH", "RPL13A"], index=ids)
    assert not gene_classes(ids)["mito"].any()  # nothing to go on: honest zero
    c = gene_classes(ids, symbols=names)
    assert c["mito"].tolist() == [True, True, False, False] and c["ribo"].tolist() == [False, False, False, True]
    ann = tmp_path / "a.tsv"
    ann.write_text("ENSEMBL\tSYMBOL\tCHR\nENSG00000198888\tND1x\tMT\nENSG00000210049\tMT-TF\tMT\n"
                   "ENSG00000111640\tGAPDH\t12\n")
    c = gene_classes(ids, annotation=GeneAnnotation.read(ann))
    assert c["mito"].tolist() == [True, True, False, False]


def test_exclusion_options_are_validated():
    import pytest

    from pbfidelity.errors import UserError
    from pbfidelity.qc.genes import parse_exclude_genes, parse_gene_classes

    assert parse_gene_classes("mito, ribo") == ["mito", "ribo"] and parse_gene_classes("none") == []
    with pytest.raises(UserError, match="unknown class"):
        parse_gene_classes("mito,histone")
    with pytest.raises(UserError, match="not a valid regular expression"):
        parse_exclude_genes("ERCC-(")


def test_class_covariates():
    from pbfidelity.qc.genes import class_covariates

    classes = pd.DataFrame({"spike_in": [True, False, False], "mito": [False, True, False],
                            "ribo": [False, False, False]})
    cov = class_covariates(np.array([[1, 3, 6], [0, 0, 5]]), classes)
    assert cov["pct_spike_in"].tolist() == [10.0, 0.0] and cov["pct_mito"].tolist() == [30.0, 0.0]
    assert cov["n_genes_detected"].tolist() == [3, 1]
