"""Gene-level QC: mitochondrial/ribosomal masks and the detection filter for profiles."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_MITO = re.compile(r"^MT-", re.IGNORECASE)
_RIBO = re.compile(r"^RP[SL]\d+[A-Z]?\d*$|^RP[SL]P\d", re.IGNORECASE)


def mito_ribo_masks(var_names: pd.Index, annotation=None) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of mitochondrial and ribosomal-protein genes.

    Symbols are matched directly (``MT-``, ``RPS``/``RPL``); Ensembl ids are looked up in the annotation
    (``CHR == 'MT'`` and ribosomal symbols). Without an annotation, Ensembl ids give empty masks.
    """
    names = pd.Index(var_names).astype(str)
    if annotation is not None:
        ann = annotation.by_gene(names)
        symbols = ann["SYMBOL"].fillna("") if "SYMBOL" in ann else pd.Series("", index=names)
        if "SYMBOL" not in ann:  # ids were symbols already
            symbols = pd.Series(names, index=names)
        chrom = ann["CHR"].fillna("") if "CHR" in ann else pd.Series("", index=names)
        mito = chrom.to_numpy() == "MT"
        mito |= symbols.str.match(_MITO).to_numpy()
        ribo = symbols.str.match(_RIBO).to_numpy()
        mito |= names.str.match(_MITO)
        ribo |= names.str.match(_RIBO)
        return np.asarray(mito, bool), np.asarray(ribo, bool)
    return np.asarray(names.str.match(_MITO), bool), np.asarray(names.str.match(_RIBO), bool)


def detection_filter(
    counts, modality: np.ndarray, min_fraction: float = 0.2
) -> tuple[np.ndarray, pd.DataFrame]:
    """Genes non-zero in >= ``min_fraction`` of the profiles of EACH modality (then the intersection).

    Returns the keep mask and a per-gene table of detection fractions per modality.
    """
    modality = np.asarray(modality)
    x = counts
    fractions = {}
    keep = np.ones(x.shape[1], dtype=bool)
    for m in sorted(set(modality)):
        rows = np.flatnonzero(modality == m)
        detected = np.asarray((x[rows] > 0).sum(axis=0)).ravel() / max(rows.size, 1)
        fractions[f"detected_fraction_{m}"] = detected
        keep &= detected >= min_fraction
    table = pd.DataFrame(fractions)
    table["kept"] = keep
    return keep, table
