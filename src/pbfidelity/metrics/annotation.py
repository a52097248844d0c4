"""Gene attributes for the bias analysis: type, chromosome, symbol and length from an annotation TSV or a GTF.

TSV: the ``--gene-annotation`` format (ENSEMBL, SYMBOL, GENETYPE, CHR and optionally a ``LENGTH``/``length``
column). GTF (``.gtf``/``.gtf.gz``): ``gene_id``/``gene_name``/``gene_type`` (or ``gene_biotype``),
``seqname``, and length = the union of the gene's exons in base pairs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

ATTRIBUTE_COLUMNS = ["symbol", "gene_type", "chromosome", "length"]
_ATTR_RE = re.compile(r'(\S+) "([^"]*)"')
_RIBO_RE = re.compile(r"^(RPL|RPS)\d+[A-Z]?\d*$|^RPLP[0-2]$|^RPSA$")


def _strip_version(g: str) -> str:
    return g.split(".", 1)[0] if g.startswith("ENS") else g


def read_gtf(path: Path) -> pd.DataFrame:
    """Per gene: symbol, gene_type, chromosome, length (union of exons); the package's one GTF parser."""
    from pbfidelity.io.genes import read_gtf as _read_gtf

    return _read_gtf(path)


def gene_attributes(genes: pd.Index, annotation: Path | None = None) -> pd.DataFrame:
    """Attributes of ``genes`` (index): symbol, gene_type, chromosome, length, is_mito, is_ribo.

    Without an annotation, ids that look like symbols double as symbols (for MT-/RP[SL] detection) and the
    other attributes are missing.
    """
    out = pd.DataFrame(index=pd.Index(genes, name="gene"), columns=ATTRIBUTE_COLUMNS, dtype=object)
    ensembl = np.mean([str(g).startswith("ENS") for g in genes]) > 0.5 if len(genes) else False
    keys = pd.Index([_strip_version(str(g)) for g in genes])
    if annotation is not None:
        name = annotation.name.lower()
        if name.endswith((".gtf", ".gtf.gz")):
            table = read_gtf(annotation)
            if not ensembl:
                table = (
                    table.dropna(subset=["symbol"]).drop_duplicates("symbol").set_index("symbol", drop=False)
                )
        else:
            from pbfidelity.io.genes import GeneAnnotation

            raw = GeneAnnotation.read(annotation).table
            length_col = next((c for c in raw.columns if c.lower() in ("length", "gene_length")), None)
            table = pd.DataFrame(
                {
                    "ENSEMBL": raw["ENSEMBL"],
                    "symbol": raw["SYMBOL"],
                    "gene_type": raw["GENETYPE"] if "GENETYPE" in raw else None,
                    "chromosome": raw["CHR"] if "CHR" in raw else None,
                    "length": pd.to_numeric(raw[length_col], errors="coerce") if length_col else np.nan,
                }
            )
            table = table.drop_duplicates("ENSEMBL" if ensembl else "symbol")
            table = table.set_index("ENSEMBL" if ensembl else "symbol", drop=False)
        hit = table.reindex(keys)
        for col in ATTRIBUTE_COLUMNS:
            if col in hit.columns:
                out[col] = hit[col].to_numpy()
    if not ensembl:
        out["symbol"] = out["symbol"].where(out["symbol"].notna(), pd.Series(keys, index=out.index))
    sym = out["symbol"].fillna("").astype(str).str.upper()
    chrom = out["chromosome"].fillna("").astype(str).str.upper()
    out["is_mito"] = sym.str.startswith("MT-").to_numpy() | chrom.isin(["MT", "M", "CHRM"]).to_numpy()
    out["is_ribo"] = sym.map(lambda s: bool(_RIBO_RE.match(s))).to_numpy()
    out["length"] = pd.to_numeric(out["length"], errors="coerce")
    return out
