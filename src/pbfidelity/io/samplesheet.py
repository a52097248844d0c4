"""Samplesheet parsing and validation against ``assets/schema_input.json`` (the schema nf-schema uses).

``dataset,sample,bulk,singlecell[,bulk_id][,sc_id][,donor][,<extra columns>]`` — one row per paired sample.
Relative paths are resolved against the samplesheet's folder. Errors name the file, row and column.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jsonschema

from pbfidelity.errors import UserError

CORE_COLUMNS = ("dataset", "sample", "bulk", "singlecell", "bulk_id", "sc_id", "donor")


@dataclass(frozen=True)
class SampleRow:
    """One validated samplesheet row; ``extra`` holds user columns (e.g. phenotype), carried to ``obs``."""

    row: int
    dataset: str
    sample: str
    bulk: Path
    singlecell: Path
    bulk_id: str
    sc_id: str
    donor: str
    extra: dict[str, str] = field(default_factory=dict)


def load_schema() -> dict:
    """The samplesheet JSON schema shipped with the package (identical to ``assets/schema_input.json``)."""
    text = resources.files("pbfidelity").joinpath("assets/schema_input.json").read_text()
    return json.loads(text)


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.exists():
        raise UserError(f"{path}: samplesheet does not exist")
    if path.is_dir():
        raise UserError(f"{path}: samplesheet is a directory, expected a .csv or .tsv file")
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise UserError(f"{path}: samplesheet is empty")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    lines = text.splitlines()
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    if len(header) == 1:
        other = "," if delimiter == "\t" else "\t' or ';"
        raise UserError(
            f"{path}: header has a single column {header[0]!r}; expected "
            f"{'comma' if delimiter == ',' else 'tab'}-separated columns (found '{other}' instead?)"
        )
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise UserError(f"{path}: column '{dup}' appears twice in the header")
    rows = []
    for lineno, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise UserError(f"{path}: row {lineno} has {len(values)} fields, the header has {len(header)}")
        rows.append({h: v.strip() for h, v in zip(header, values, strict=True) if v.strip() != ""})
        rows[-1]["__line__"] = str(lineno)
    if not rows:
        raise UserError(f"{path}: samplesheet has a header but no rows")
    return header, rows


def _schema_error(path: Path, line: str, err: jsonschema.ValidationError, schema: dict) -> UserError:
    if err.validator == "required":
        missing = err.message.split("'")[1]
        return UserError(f"{path}: row {line}: required column '{missing}' is missing or empty")
    column = str(err.path[-1]) if err.path else "?"
    prop = schema["items"]["properties"].get(column, {})
    message = prop.get("errorMessage", err.message)
    return UserError(f"{path}: row {line}, column '{column}': {message} (got {err.instance!r})")


def read_samplesheet(path: str | Path, allow_parent_paths: bool = True) -> list[SampleRow]:
    """Parse and validate a samplesheet; return one :class:`SampleRow` per row.

    ``allow_parent_paths=False`` refuses paths that escape the samplesheet's folder (``..`` or absolute).
    """
    path = Path(path)
    header, rows = _read_rows(path)
    missing = [c for c in ("dataset", "sample", "bulk", "singlecell") if c not in header]
    if missing:
        raise UserError(f"{path}: required column(s) {', '.join(missing)} missing from the header {header}")
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema["items"])
    base = path.parent
    seen: dict[tuple[str, str], str] = {}
    out = []
    for raw in rows:
        line = raw.pop("__line__")
        errors = sorted(validator.iter_errors(raw), key=lambda e: (list(e.path), e.validator))
        if errors:
            raise _schema_error(path, line, errors[0], schema)
        key = (raw["dataset"], raw["sample"])
        if key in seen:
            raise UserError(
                f"{path}: row {line}, column 'sample': duplicate sample '{raw['sample']}' in dataset "
                f"'{raw['dataset']}' (first on row {seen[key]})"
            )
        seen[key] = line
        resolved = {}
        for col in ("bulk", "singlecell"):
            p = Path(raw[col])
            if not allow_parent_paths and (p.is_absolute() or ".." in p.parts):
                raise UserError(
                    f"{path}: row {line}, column '{col}': path {raw[col]!r} leaves the samplesheet's folder"
                )
            p = p if p.is_absolute() else base / p
            if not p.exists():
                raise UserError(f"{path}: row {line}, column '{col}': file {raw[col]!r} does not exist")
            resolved[col] = p
        extra = {k: v for k, v in raw.items() if k not in CORE_COLUMNS}
        out.append(
            SampleRow(
                row=int(line),
                dataset=raw["dataset"],
                sample=raw["sample"],
                bulk=resolved["bulk"],
                singlecell=resolved["singlecell"],
                bulk_id=raw.get("bulk_id", raw["sample"]),
                sc_id=raw.get("sc_id", raw["sample"]),
                donor=raw.get("donor", raw["sample"]),
                extra=extra,
            )
        )
    return out


def choose_dataset(names: list[str], dataset: str | None, source: object, flag: str = "--dataset") -> str:
    """``dataset`` when ``names`` has it, else the only name; one UserError naming ``source`` otherwise."""
    if dataset is None:
        if len(names) != 1:
            raise UserError(f"{source}: holds datasets {names}; choose one with {flag}")
        return names[0]
    if dataset not in names:
        raise UserError(f"{source}: no dataset '{dataset}' (datasets: {names})")
    return dataset


def datasets(rows: list[SampleRow]) -> dict[str, list[SampleRow]]:
    """Rows grouped by dataset, in order of first appearance."""
    grouped: dict[str, list[SampleRow]] = {}
    for r in rows:
        grouped.setdefault(r.dataset, []).append(r)
    return grouped
