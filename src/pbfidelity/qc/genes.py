"""Gene-level QC: technical gene classes (spike-ins, mitochondrial, ribosomal) and the detection filter.

Classes are recognised from gene symbols, whatever the ids are: an Ensembl id is looked up in the symbols
the input carries (the bulk file's ``gene_name`` column, 10x ``features/name``, an ``.h5ad`` symbol column)
or in ``--gene-annotation`` (``SYMBOL``; ``CHR == MT``). Mitochondrial = every gene of the MT genome
(protein-coding ``MT-ND1``..., tRNA ``MT-TA``..., rRNA ``MT-RNR1/2``; mouse ``mt-``), ribosomal = cytosolic
ribosomal proteins (``RPS``/``RPL``/``RPLP``/``RPSA``), spike-ins = ``ERCC-`` plus the user's
``--exclude-genes`` patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from pbfidelity.errors import UserError

_MITO = re.compile(r"^MT-", re.IGNORECASE)
_RIBO = re.compile(r"^RP[SL]\d+[A-Z]?\d*$|^RP[SL]P\d|^RPSA$", re.IGNORECASE)
_SPIKE = re.compile(r"^ERCC-\d+", re.IGNORECASE)
#: classes that can be excluded on request (spike-ins are always excluded)
EXCLUDABLE_CLASSES = ("mito", "ribo")
GENE_CLASSES = ("spike_in", "mito", "ribo")
_MITO_CHROMOSOMES = {"MT", "M", "CHRM", "CHRMT"}


def parse_exclude_genes(spec: str | Iterable[str] | None) -> list[re.Pattern]:
    """``--exclude-genes``: comma-separated gene ids/symbols or regular expressions (matched whole,
    case-insensitive), e.g. ``'ERCC-.*,PhiX,^GFP$'``."""
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else [s for x in spec for s in str(x).split(",")]
    out = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            out.append(re.compile(item.removeprefix("^").removesuffix("$"), re.IGNORECASE))
        except re.error as exc:
            raise UserError(f"--exclude-genes: {item!r} is not a valid regular expression ({exc})") from None
    return out


def parse_gene_classes(spec: str | Iterable[str] | None) -> list[str]:
    """``--exclude-gene-classes``: a comma-separated subset of ``mito,ribo`` (``none`` or empty: none)."""
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else [s for x in spec for s in str(x).split(",")]
    out = [i.strip().lower() for i in items if i.strip() and i.strip().lower() != "none"]
    bad = [i for i in out if i not in EXCLUDABLE_CLASSES]
    if bad:
        raise UserError(
            f"--exclude-gene-classes: unknown class(es) {bad}; choose from {list(EXCLUDABLE_CLASSES)}"
        )
    return sorted(set(out), key=out.index)


def gene_symbols(
    var_names: pd.Index, symbols: pd.Series | Mapping | None = None, annotation=None
) -> pd.Series:
    """A symbol per gene: from ``symbols`` (id -> name), else the annotation, else the id itself."""
    names = pd.Index(var_names).astype(str)
    out = pd.Series(names, index=names, dtype=object)
    if annotation is not None:
        from pbfidelity.io.genes import namespace

        if namespace(names) == "ensembl":
            ann = annotation.by_gene(names)
            hit = ann["SYMBOL"].to_numpy(dtype=object) if "SYMBOL" in ann else np.full(len(names), None)
            mask = pd.notna(hit)
            out[mask] = hit[mask]
    if symbols is not None:
        s = pd.Series(symbols, dtype=object) if not isinstance(symbols, pd.Series) else symbols
        s = s[~s.index.duplicated()]
        hit = s.reindex(names).to_numpy(dtype=object)
        mask = pd.notna(hit) & (pd.Series(hit).astype(str).str.strip() != "").to_numpy()
        out[mask] = hit[mask]
    return out


def gene_classes(
    var_names: pd.Index,
    *,
    symbols: pd.Series | Mapping | None = None,
    annotation=None,
    exclude_genes: list[re.Pattern] | str | None = None,
) -> pd.DataFrame:
    """Boolean table (rows = ``var_names``) with columns ``spike_in``, ``mito``, ``ribo`` and ``symbol``.

    A gene matches by its id or by its symbol; mitochondrial genes also by ``CHR`` in the annotation.
    """
    names = pd.Index(var_names).astype(str)
    sym = gene_symbols(names, symbols, annotation)
    sym_s = pd.Series(sym.to_numpy(dtype=object), index=names).astype(str)
    ids_s = pd.Series(names, index=names)

    def match(rx: re.Pattern) -> np.ndarray:
        return (ids_s.str.match(rx) | sym_s.str.match(rx)).to_numpy(bool)

    mito = match(_MITO)
    if annotation is not None and "CHR" in annotation.table.columns:
        ann = annotation.by_gene(names)
        chrom = ann["CHR"].fillna("").astype(str).str.upper().to_numpy()
        mito |= np.isin(chrom, list(_MITO_CHROMOSOMES))
    spike = match(_SPIKE)
    patterns = parse_exclude_genes(exclude_genes) if isinstance(exclude_genes, str) else exclude_genes or []
    for rx in patterns:
        spike |= (ids_s.str.fullmatch(rx) | sym_s.str.fullmatch(rx)).to_numpy(bool)
    ribo = match(_RIBO) & ~mito  # MT-RNR* are rRNA genes of the MT genome, counted as mito
    return pd.DataFrame(
        {"spike_in": spike, "mito": mito, "ribo": ribo, "symbol": sym_s.to_numpy()}, index=names
    )


def mito_ribo_masks(var_names: pd.Index, annotation=None, symbols=None) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of mitochondrial and ribosomal-protein genes (see :func:`gene_classes`)."""
    c = gene_classes(var_names, symbols=symbols, annotation=annotation)
    return c["mito"].to_numpy(), c["ribo"].to_numpy()


def class_covariates(counts, classes: pd.DataFrame) -> pd.DataFrame:
    """Per profile (rows of ``counts``, genes = ``classes.index``): ``pct_spike_in``, ``pct_mito``,
    ``pct_ribo`` (percent of the profile's counts) and ``n_genes_detected`` (genes with a count > 0)."""
    x = np.asarray(counts, dtype=np.float64)
    total = x.sum(axis=1)
    denom = np.where(total > 0, total, 1.0)
    out = {f"pct_{c}": 100.0 * x[:, classes[c].to_numpy(bool)].sum(axis=1) / denom for c in GENE_CLASSES}
    out["n_genes_detected"] = (x > 0).sum(axis=1).astype(np.int64)
    return pd.DataFrame(out)


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
