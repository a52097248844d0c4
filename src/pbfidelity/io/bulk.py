"""Bulk RNA-seq counts: genes x samples TSV/CSV, nf-core/rnaseq ``*.merged.gene_counts.tsv``,
featureCounts tables and HTSeq/STAR count tables (their ``__no_feature``/``N_noFeature`` rows are kept
aside as per-sample unassigned counts for QC).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pbfidelity.errors import UserError

log = logging.getLogger("pbfidelity.io.bulk")

#: annotation columns recognised beside the gene id (nf-core/rnaseq, featureCounts)
ANNOTATION_COLUMNS = {
    "gene_name": "gene_name",
    "Chr": None,
    "Start": None,
    "End": None,
    "Strand": None,
    "Length": "length",
    "length": "length",
    "gene_length": "length",
}
#: summary rows of HTSeq (``__no_feature`` ...) and STAR ReadsPerGene (``N_noFeature`` ...)
QC_ROW_PREFIXES = ("__", "N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
UNASSIGNED_ROWS = ("__no_feature", "N_noFeature")
#: nf-core/rnaseq merged matrices of estimated counts (salmon/RSEM quantification): rounded like
#: nf-core/differentialabundance does, with a note
_NFCORE_ESTIMATED = re.compile(r"(salmon|rsem)\.merged\.gene_counts(_length_scaled|_scaled)?\b", re.I)
_NFCORE_NOT_COUNTS = re.compile(r"\.merged\.(gene|transcript)_tpm\.", re.I)


@dataclass
class BulkCounts:
    """A bulk counts matrix: ``counts`` genes x samples (int64); optional gene names/lengths; QC rows."""

    counts: pd.DataFrame
    gene_names: pd.Series | None
    gene_lengths: pd.Series | None
    qc_rows: pd.DataFrame
    path: Path
    #: "nf-core/rnaseq salmon" (estimated counts, rounded) or "counts table"
    format: str = "counts table"
    #: how many values were rounded to integers (0: none; estimated counts are rounded, see read_bulk_counts)
    n_rounded: int = 0

    @property
    def unassigned(self) -> pd.Series | None:
        """Per-sample unassigned (no-feature) counts, when the file has such a row."""
        rows = [r for r in UNASSIGNED_ROWS if r in self.qc_rows.index]
        return self.qc_rows.loc[rows].sum(axis=0) if rows else None


def _read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower().removesuffix(".gz")
    sep = "," if name.endswith(".csv") else "\t"
    try:
        df = pd.read_csv(path, sep=sep, index_col=0, comment=None, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise UserError(
            f"{path}: cannot parse as a {'CSV' if sep == ',' else 'TSV'} counts matrix ({exc})"
        ) from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: bulk counts file is empty") from None
    if df.shape[1] == 0:
        other = "tab" if sep == "," else "comma"
        raise UserError(
            f"{path}: found a single column; is the file {other}-separated? "
            f"(.csv files must be comma-separated, .tsv/.txt tab-separated)"
        )
    return df


#: the largest count a float64 holds exactly; larger values (or inf) would wrap when cast to int64
MAX_EXACT_COUNT = float(2**53)


def read_bulk_counts(path: str | Path, round_fractional: bool = False) -> BulkCounts:
    """Read a bulk counts matrix (genes x samples). Values must be non-negative integers.

    ``round_fractional=True`` rounds estimated counts (e.g. Salmon's) to integers instead of refusing them.
    Identical gene ids on two rows are refused (they cannot be told apart); use gene-ID harmonisation for
    version-suffix or symbol collapses, which sum and report.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: bulk counts file does not exist")
    if _NFCORE_NOT_COUNTS.search(path.name):
        raise UserError(
            f"{path}: this is an nf-core/rnaseq TPM matrix, not counts; give the matching "
            "*.merged.gene_counts.tsv instead"
        )
    df = _read_table(path)
    df.index = df.index.astype(str)
    if df.index.name in (None, "", "Unnamed: 0"):
        df.index.name = "gene_id"
    names = lengths = None
    annot = [c for c in df.columns if c in ANNOTATION_COLUMNS]
    for col in annot:
        if ANNOTATION_COLUMNS[col] == "gene_name":
            names = df[col].astype(str)
        elif ANNOTATION_COLUMNS[col] == "length":
            lengths = pd.to_numeric(df[col], errors="coerce")
    df = df.drop(columns=annot)
    m = _NFCORE_ESTIMATED.search(path.name)
    fmt = f"nf-core/rnaseq {m.group(1).lower()}" if m else "counts table"
    estimated = m is not None
    n_rounded = 0
    is_qc = df.index.str.startswith(QC_ROW_PREFIXES)
    qc_rows = df.loc[is_qc]
    df = df.loc[~is_qc]
    if df.empty:
        raise UserError(f"{path}: no gene rows")
    if not df.index.is_unique:
        dup = df.index[df.index.duplicated()][0]
        rows = np.flatnonzero(df.index == dup)[:2] + 2
        raise UserError(
            f"{path}: gene '{dup}' appears twice (rows {rows[0]} and {rows[1]}); gene ids must be unique"
        )
    for col in df.columns:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            gene = df.index[bad.to_numpy()][0]
            raise UserError(f"{path}: column '{col}', gene '{gene}': non-numeric value {df.at[gene, col]!r}")
        if values.isna().any():
            gene = df.index[values.isna().to_numpy()][0]
            raise UserError(f"{path}: column '{col}', gene '{gene}': missing value (NaN)")
        if (values < 0).any():
            gene = df.index[(values < 0).to_numpy()][0]
            raise UserError(f"{path}: column '{col}', gene '{gene}': negative count {values[gene]}")
        huge = ~np.isfinite(values) | (values > MAX_EXACT_COUNT)
        if huge.any():
            gene = df.index[huge.to_numpy()][0]
            raise UserError(
                f"{path}: column '{col}', gene '{gene}': count {df.at[gene, col]!r} is infinite or too large "
                f"(above {MAX_EXACT_COUNT:.0f}) to be a read count"
            )
        frac = values != np.round(values)
        if frac.any():
            if not (round_fractional or estimated):
                gene = df.index[frac.to_numpy()][0]
                raise UserError(
                    f"{path}: column '{col}', gene '{gene}': non-integer count {values[gene]} "
                    f"(raw counts needed; use --round-bulk-counts for estimated counts such as Salmon's)"
                )
            n_rounded += int(frac.sum())
            values = np.round(values)
        df[col] = values.astype(np.int64)
    df.columns = df.columns.astype(str)
    if not df.columns.is_unique:
        dup = df.columns[df.columns.duplicated()][0]
        raise UserError(f"{path}: sample column '{dup}' appears twice")
    qc_rows = qc_rows.apply(pd.to_numeric, errors="coerce")
    qc_rows = qc_rows.where(np.isfinite(qc_rows) & (qc_rows.abs() <= MAX_EXACT_COUNT)).fillna(0).astype(np.int64)
    if n_rounded:
        why = f"{fmt} estimated counts" if estimated else "--round-bulk-counts"
        log.warning("%s: %d non-integer counts rounded to integers (%s)", path, n_rounded, why)
    if names is not None:
        names = names.loc[~names.index.duplicated()].reindex(df.index)
    return BulkCounts(
        counts=df,
        gene_names=names,
        gene_lengths=lengths,
        qc_rows=qc_rows,
        path=path,
        format=fmt,
        n_rounded=n_rounded,
    )


def rounding_note(bulk: BulkCounts) -> dict | None:
    """What was rounded in ``bulk`` (for the summary JSON and the report), or None."""
    if not bulk.n_rounded:
        return None
    return {"file": str(bulk.path), "format": bulk.format, "n_values_rounded": int(bulk.n_rounded)}


def select_samples(
    bulk: BulkCounts, columns: list[str], row_of: dict[str, int] | None = None
) -> pd.DataFrame:
    """The counts of ``columns``; a missing column is a user error naming the samplesheet row."""
    missing = [c for c in columns if c not in bulk.counts.columns]
    if missing:
        where = f" (samplesheet row {row_of[missing[0]]})" if row_of and missing[0] in row_of else ""
        raise UserError(
            f"{bulk.path}: column '{missing[0]}'{where} is not in the bulk matrix; "
            f"its columns are {list(bulk.counts.columns)[:10]}"
        )
    return bulk.counts[columns]


def write_bulk_counts(counts: pd.DataFrame, path: str | Path) -> Path:
    """Write genes x samples counts as TSV (the format :func:`read_bulk_counts` reads)."""
    path = Path(path)
    out = counts.copy()
    out.index.name = out.index.name or "gene_id"
    out.to_csv(path, sep="\t" if not path.name.lower().removesuffix(".gz").endswith(".csv") else ",")
    return path


def read_dataset_bulk(rows, round_fractional: bool = False):
    """Yield ``(bulk_file, rows, counts)`` for each bulk file of a dataset's samplesheet rows, read once.

    ``counts`` holds the rows' ``bulk_id`` columns, in row order; a missing column names its row.
    """
    by_file: dict = {}
    shown: dict = {}
    for r in rows:  # one read per file (also under two names); messages show the path as written
        by_file.setdefault(shown.setdefault(r.bulk.resolve(), r.bulk), []).append(r)
    for path, file_rows in by_file.items():
        bulk = read_bulk_counts(path, round_fractional=round_fractional)
        counts = select_samples(bulk, [r.bulk_id for r in file_rows], {r.bulk_id: r.row for r in file_rows})
        yield bulk, file_rows, counts
