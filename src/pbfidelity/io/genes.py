"""Gene-ID harmonisation between bulk and single-cell data.

Ensembl version suffixes are stripped (``ENSG00000141510.17`` -> ``ENSG00000141510``), symbols are mapped
to Ensembl ids with an annotation table when the two modalities use different namespaces, and ids that
collapse onto one are summed. Unmapped ids are kept as they are (never dropped silently); the report
says how many ids were mapped, collapsed and left unmapped, and how many counts the intersection loses.
"""

from __future__ import annotations

import gzip
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


_GTF_ATTR = re.compile(r'(\S+) "([^"]*)"')


def read_gtf(path: str | Path) -> pd.DataFrame:
    """Genes of a GTF (plain or ``.gz``): symbol, gene_type, chromosome, length (union of exons).

    Indexed by version-less ``gene_id``; ``gene_name`` gives the symbol, ``gene_type``/``gene_biotype`` the
    type, the sequence name (``chr`` dropped) the chromosome. The one GTF parser of the package.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: GTF file does not exist")
    gzipped = path.name.lower().endswith(".gz")
    genes: dict[str, dict] = {}
    exons: dict[str, list[tuple[int, int]]] = {}
    try:
        with gzip.open(path, "rt") if gzipped else open(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.startswith("#") or not line.strip():
                    continue
                f = line.rstrip("\n").split("\t")
                if len(f) != 9:
                    raise UserError(
                        f"{path}: line {lineno}: expected 9 tab-separated GTF fields, got {len(f)}"
                    )
                attrs = dict(_GTF_ATTR.findall(f[8]))
                gid = attrs.get("gene_id")
                if gid is None:
                    continue
                gid = strip_version(gid)
                if gid.startswith("ENS") and "." in gid:  # short or unusual Ensembl-style ids
                    gid = gid.split(".", 1)[0]
                if gid not in genes:
                    genes[gid] = {
                        "symbol": attrs.get("gene_name"),
                        "gene_type": attrs.get("gene_type", attrs.get("gene_biotype")),
                        "chromosome": f[0].removeprefix("chr"),
                    }
                if f[2] == "exon":
                    try:
                        exons.setdefault(gid, []).append((int(f[3]), int(f[4])))
                    except ValueError:
                        raise UserError(f"{path}: line {lineno}: start/end are not integers") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read GTF ({exc})") from None
    for gid, iv in exons.items():
        total, end = 0, -1
        for s, e in sorted(iv):
            if e > end:
                total += e - max(s, end + 1) + 1
                end = e
        genes[gid]["length"] = total
    if not genes:
        raise UserError(f"{path}: no gene_id attributes found; is this a GTF file?")
    return pd.DataFrame.from_dict(genes, orient="index")


def is_gtf(path: str | Path) -> bool:
    return Path(path).name.lower().endswith((".gtf", ".gtf.gz", ".gff2", ".gff2.gz"))


@dataclass
class GeneAnnotation:
    """Annotation table (``ENSEMBL``, ``SYMBOL`` and optionally ``GENETYPE``, ``CHR``, ``LENGTH``)."""

    table: pd.DataFrame

    @classmethod
    def read(cls, path: str | Path) -> GeneAnnotation:
        """An annotation TSV (``ENSEMBL``, ``SYMBOL``, ...; optionally gzipped) or a GTF (plain or gzipped)."""
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: gene annotation file does not exist")
        if is_gtf(path):
            g = read_gtf(path)
            df = pd.DataFrame(
                {
                    "ENSEMBL": g.index.astype(str),
                    "SYMBOL": g["symbol"].to_numpy(),
                    "GENETYPE": g["gene_type"].to_numpy(),
                    "CHR": g["chromosome"].to_numpy(),
                    "LENGTH": g["length"].to_numpy() if "length" in g else np.nan,
                }
            )
        else:
            try:
                df = pd.read_csv(path, sep="\t", dtype=str)
            except (
                pd.errors.ParserError,
                pd.errors.EmptyDataError,
                OSError,
                EOFError,
                UnicodeDecodeError,
            ) as exc:
                raise UserError(f"{path}: cannot read gene annotation TSV ({exc})") from None
            missing = [c for c in ANNOTATION_COLUMNS if c not in df.columns]
            if missing:
                raise UserError(
                    f"{path}: gene annotation lacks column(s) {missing}; has {list(df.columns)} "
                    "(give a TSV with ENSEMBL and SYMBOL columns, or a GTF ending in .gtf/.gtf.gz)"
                )
        df = df.dropna(subset=["ENSEMBL", "SYMBOL"]).copy()
        df["ENSEMBL"] = df["ENSEMBL"].astype(str).map(strip_version)
        return cls(df.sort_values(["SYMBOL", "ENSEMBL"]).reset_index(drop=True))

    @classmethod
    def from_pairs(cls, pairs: pd.Series) -> GeneAnnotation | None:
        """From an id -> symbol series whose ids are Ensembl (a bulk ``gene_name`` column, 10x
        ``features/name``); None when it holds no Ensembl id with a symbol."""
        if pairs is None or len(pairs) == 0:
            return None
        ids = pd.Index(pairs.index.astype(str)).map(strip_version)
        df = pd.DataFrame({"ENSEMBL": ids, "SYMBOL": pairs.to_numpy(dtype=object)})
        df = df[df["ENSEMBL"].str.match(_ENSEMBL) & df["SYMBOL"].notna()]
        df = df[df["SYMBOL"].astype(str).str.strip() != ""]
        if df.empty:
            return None
        df["SYMBOL"] = df["SYMBOL"].astype(str)
        return cls(df.sort_values(["SYMBOL", "ENSEMBL"]).reset_index(drop=True))

    def merged(self, other: GeneAnnotation | None) -> GeneAnnotation:
        """This table, completed by ``other`` for ids it lacks (this one wins)."""
        if other is None:
            return self
        extra = other.table[~other.table["ENSEMBL"].isin(self.table["ENSEMBL"])]
        t = pd.concat([self.table, extra], ignore_index=True)
        return GeneAnnotation(t.sort_values(["SYMBOL", "ENSEMBL"]).reset_index(drop=True))

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
            f"bulk gene ids are {a} but single-cell gene ids are {b}, and neither input carries gene names "
            "(a bulk 'gene_name' column, 10x features/name): pass --gene-annotation (a TSV with ENSEMBL and "
            "SYMBOL columns, or a GTF) to map them"
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
