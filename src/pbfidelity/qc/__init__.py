"""Quality control of both modalities: per-cell metrics and MAD outliers, bulk library metrics and the
replicate-outlier rule, and the detection-based gene filter applied to profiles."""

from pbfidelity.qc.bulk import bulk_metrics, replicate_outliers
from pbfidelity.qc.cells import CellQCParams, cell_metrics, flag_cells, mad_outliers
from pbfidelity.qc.genes import detection_filter, mito_ribo_masks

__all__ = [
    "CellQCParams",
    "bulk_metrics",
    "cell_metrics",
    "detection_filter",
    "flag_cells",
    "mad_outliers",
    "mito_ribo_masks",
    "replicate_outliers",
]
