"""Gene-ID harmonisation between bulk and single-cell data.

Ensembl version suffixes are stripped (``ENSG00000141510.17`` -> ``ENSG00000141510``), symbols are mapped
to Ensembl ids with an annotation table when the two modalities use different namespaces, and ids that
collapse onto one are summed. Unmapped ids are kept as they are (never dropped silently); the report
says how many ids were mapped, collapsed and left unmapped, and how many counts the intersection loses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pbfidelity.errors import UserError

_ENSEMBL = re.compile(r"^(ENS[A-Z]*G\d{6,})(\.\d+)?(_PAR_Y)?$")
ANNOTATION_COLUMNS = ("ENSEMBL", "SYMBOL")


def strip_version(gene_id: str) -> str:
    """``ENSG00000141510.17`` -> ``ENSG00000141510``; other ids unchanged (``_PAR_Y`` kept)."""
    m = _ENSEMBL.match(gene_id)
    return gene_id if m is None else m.group(1) + (m.group(3) or "")


def namespace(ids: pd.Index | list[str]) -> str:
    """``'ensembl'`` when most ids are Ensembl gene ids, else ``'symbol'``."""
    ids = list(ids)
    if not ids:
        return "symbol"
    hits = sum(1 for g in ids if _ENSEMBL.match(g))
    return "ensembl" if hits >= 0.5 * len(ids) else "symbol"


@dataclass
class GeneAnnotation:
    """Annotation table (``ENSEMBL``, ``SYMBOL`` and optionally ``GENETYPE``, ``CHR``, ``LENGTH``)."""

    table: pd.DataFrame

    @classmethod
    def read(cls, path: str | Path) -> GeneAnnotation:
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: gene annotation file does not exist")
        try:
            df = pd.read_csv(path, sep="\t", dtype=str)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError) as exc:
            raise UserError(f"{path}: cannot read gene annotation TSV ({exc})") from None
        missing = [c for c in ANNOTATION_COLUMNS if c not in df.columns]
        if missing:
            raise UserError(f"{path}: gene annotation lacks column(s) {missing}; has {list(df.columns)}")
        df = df.dropna(subset=["ENSEMBL", "SYMBOL"]).copy()
        df["ENSEMBL"] = df["ENSEMBL"].map(strip_version)
        return cls(df.sort_values(["SYMBOL", "ENSEMBL"]).reset_index(drop=True))

    def symbol_to_ensembl(self) -> dict[str, str]:
        """Symbol -> Ensembl id; a symbol with several ids maps to the first in sorted order."""
        return dict(self.table.drop_duplicates("SYMBOL")[["SYMBOL", "ENSEMBL"]].itertuples(index=False))

    def by_gene(self, ids: pd.Index) -> pd.DataFrame:
        """Annotation rows for ``ids`` (Ensembl or symbol), indexed by ``ids`` (NaN where unknown)."""
        key = "ENSEMBL" if namespace(ids) == "ensembl" else "SYMBOL"
        return self.table.drop_duplicates(key).set_index(key).reindex(ids)


@dataclass
class Harmonised:
    """The result of :func:`harmonise_ids`: new ids and a (old x new) 0/1 collapse matrix."""

    ids: pd.Index
    collapse: sp.csr_matrix
    report: dict

    def apply(self, matrix):
        """Collapse columns of a (profiles/cells x old genes) matrix by summation."""
        return matrix @ self.collapse


def harmonise_ids(
    ids: pd.Index | list[str], target: str | None = None, annotation: GeneAnnotation | None = None
) -> Harmonised:
    """Harmonise gene ids to ``target`` namespace (``'ensembl'``/``'symbol'``/None = keep).

    Version suffixes are stripped; symbols are mapped to Ensembl when ``target == 'ensembl'`` (needs
    ``annotation``). Ids that collapse onto one are summed by :meth:`Harmonised.apply`. Idempotent.
    """
    old = [str(g) for g in ids]
    new = [strip_version(g) for g in old]
    n_versions = sum(a != b for a, b in zip(old, new, strict=True))
    mapped = unmapped = 0
    source = namespace(new)
    if target is not None and target != source:
        if annotation is None:
            raise UserError(f"gene ids are {source} but must be {target}: pass --gene-annotation to map them")
        if target == "ensembl":
            table = annotation.symbol_to_ensembl()
        else:
            table = dict(
                annotation.table.drop_duplicates("ENSEMBL")[["ENSEMBL", "SYMBOL"]].itertuples(index=False)
            )
        out = []
        for g in new:
            if g in table:
                out.append(table[g])
                mapped += 1
            else:
                out.append(g)
                unmapped += 1
        new = out
    uniq, inverse = np.unique(np.asarray(new, dtype=object), return_inverse=True)
    # keep first-appearance order for readability
    first = np.full(uniq.size, len(new))
    np.minimum.at(first, inverse, np.arange(len(new)))
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    cols = rank[inverse]
    collapse = sp.csr_matrix((np.ones(len(new)), (np.arange(len(new)), cols)), shape=(len(new), uniq.size))
    report = {
        "n_input": len(old),
        "n_output": int(uniq.size),
        "n_version_stripped": int(n_versions),
        "n_mapped": int(mapped),
        "n_unmapped_kept": int(unmapped),
        "n_collapsed": int(len(new) - uniq.size),
        "namespace_in": source,
        "namespace_out": target or source,
    }
    return Harmonised(pd.Index(uniq[order].astype(str)), collapse, report)


def choose_target(bulk_ids: pd.Index, sc_ids: pd.Index, annotation: GeneAnnotation | None) -> str | None:
    """The common namespace: unchanged when both agree, Ensembl when they differ (needs an annotation)."""
    a, b = namespace([strip_version(g) for g in bulk_ids]), namespace([strip_version(g) for g in sc_ids])
    if a == b:
        return None
    if annotation is None:
        raise UserError(
            f"bulk gene ids are {a} but single-cell gene ids are {b}: pass --gene-annotation "
            "(a TSV with ENSEMBL and SYMBOL columns) to map them"
        )
    return "ensembl"


def intersection_report(
    bulk_ids: pd.Index, sc_ids: pd.Index, bulk_totals: np.ndarray, sc_totals: np.ndarray
) -> dict:
    """Sizes of the gene intersection and the fraction of counts each side loses by it."""
    shared = bulk_ids.intersection(sc_ids)
    b_in = np.asarray(bulk_ids.isin(shared))
    s_in = np.asarray(sc_ids.isin(shared))
    return {
        "n_bulk_genes": int(len(bulk_ids)),
        "n_singlecell_genes": int(len(sc_ids)),
        "n_shared": int(len(shared)),
        "n_bulk_only": int((~b_in).sum()),
        "n_singlecell_only": int((~s_in).sum()),
        "bulk_counts_outside_shared": float(bulk_totals[~b_in].sum() / max(bulk_totals.sum(), 1)),
        "singlecell_counts_outside_shared": float(sc_totals[~s_in].sum() / max(sc_totals.sum(), 1)),
    }
