"""Apply a learnt calibration (``gene_calibration.tsv``) to new pseudo-bulk: a synthetic-bulk generator.

The calibrate stage writes, per gene, the intercept and slope of every method's model fitted on all matched
pairs of a dataset. Applied to new pseudo-bulk built from the same kind of single-cell data (e.g. random
cell-type mixtures for a deconvolution benchmark), the model turns its log-CPM bulk-like; counts are written
back at each profile's own library size, in the profiles contract. Genes the table lacks are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pbfidelity.calibrate.counts import logcpm_to_counts
from pbfidelity.errors import UserError
from pbfidelity.io.samplesheet import choose_dataset
from pbfidelity.normalize import library_sizes, log1p_cpm


@dataclass
class GeneCalibration:
    """One method's per-gene map log-CPM -> intercept + slope * log-CPM (clipped at 0)."""

    dataset: str
    method: str
    genes: np.ndarray
    intercept: np.ndarray
    slope: np.ndarray


def read_gene_calibration(path, dataset: str | None = None, method: str | None = None) -> GeneCalibration:
    """The model of ``method`` (default ``auto`` when present, else the first in the table) for ``dataset``
    (default: the table's only dataset) from a ``gene_calibration.tsv``."""
    try:
        t = pd.read_csv(path, sep="\t", dtype={"gene": str, "dataset": str})
    except FileNotFoundError:
        raise UserError(f"{path}: calibration table does not exist") from None
    except Exception as exc:  # pandas parser errors
        raise UserError(f"{path}: cannot read calibration table ({exc})") from None
    if "gene" not in t.columns:
        raise UserError(f"{path}: no 'gene' column (expected gene_calibration.tsv of 'pbfidelity calibrate')")
    methods = [c[len("intercept_") :] for c in t.columns if c.startswith("intercept_")]
    if not methods:
        raise UserError(f"{path}: no intercept_<method> columns")
    method = method or ("auto" if "auto" in methods else methods[0])
    if method not in methods or f"slope_{method}" not in t.columns:
        raise UserError(f"{path}: no model for method '{method}'; it has {methods}")
    if "dataset" in t.columns:
        dataset = choose_dataset(list(dict.fromkeys(t["dataset"])), dataset, path, "--apply-dataset")
        t = t[t["dataset"] == dataset]
    vals = t[[f"intercept_{method}", f"slope_{method}"]].apply(pd.to_numeric, errors="coerce")
    bad = vals.isna().any(axis=1).to_numpy()
    if bad.any():
        raise UserError(
            f"{path}: gene '{t['gene'].to_numpy()[bad][0]}': intercept/slope of '{method}' not a number"
        )
    return GeneCalibration(
        str(dataset or ""),
        method,
        t["gene"].to_numpy(),
        vals.iloc[:, 0].to_numpy(),
        vals.iloc[:, 1].to_numpy(),
    )


def apply_gene_calibration(
    counts: np.ndarray, genes: np.ndarray, cal: GeneCalibration
) -> tuple[np.ndarray, int]:
    """Calibrated integer counts of ``counts`` (profiles x ``genes``) and the number of genes the model covered."""
    x = log1p_cpm(np.asarray(counts, dtype=np.float64))
    idx = pd.Index(cal.genes).get_indexer(np.asarray(genes).astype(str))
    hit = idx >= 0
    if not hit.any():
        raise UserError("the calibration table shares no gene with the profiles")
    x[:, hit] = np.maximum(cal.intercept[idx[hit]] + cal.slope[idx[hit]] * x[:, hit], 0.0)
    return logcpm_to_counts(x, library_sizes(np.asarray(counts, dtype=np.float64))), int(hit.sum())


def calibrate_profiles(adata, cal: GeneCalibration, source: str = "gene_calibration.tsv"):
    """A profiles AnnData whose pseudo-bulk rows are passed through ``cal`` (bulk rows unchanged), with
    ``obs['calibration']``, normalised layers and a record in ``uns['pbfidelity']``; returns (AnnData, record)."""
    import anndata as ad
    import scipy.sparse as sp

    from pbfidelity.normalize import add_normalised_layers

    pb = (adata.obs["modality"].astype(str) == "pseudobulk").to_numpy()
    if not pb.any():
        raise UserError("no pseudo-bulk profiles to calibrate")
    x = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    counts = np.asarray(x, dtype=np.int64).copy()
    counts[pb], n_hit = apply_gene_calibration(x[pb], np.asarray(adata.var_names), cal)
    obs = adata.obs.copy()
    obs["n_counts"] = counts.sum(axis=1)
    obs["calibration"] = np.where(pb, cal.method, "none")
    out = ad.AnnData(X=counts, obs=obs, var=adata.var.copy())
    add_normalised_layers(out)
    info = {
        "stage": "calibrate",
        "mode": "apply",
        "table": str(source),
        "dataset": cal.dataset,
        "method": cal.method,
        "n_profiles_calibrated": int(pb.sum()),
        "n_genes": int(adata.n_vars),
        "n_genes_calibrated": n_hit,
        "note": "pseudo-bulk counts passed through a calibration learnt on paired data; bulk rows unchanged",
    }
    out.uns["pbfidelity"] = info
    return out, info
