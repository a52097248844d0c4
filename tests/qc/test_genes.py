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
