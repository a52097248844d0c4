"""Gene sets from a GMT file (plain or gzipped), restricted to a background of tested genes."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from pbfidelity.errors import UserError


@dataclass
class GeneSets:
    """``sets``: id -> sorted unique genes; ``names``: id -> description (the GMT's second column)."""

    sets: dict[str, list[str]]
    names: dict[str, str]

    def restrict(self, background: set[str], min_size: int, max_size: int) -> GeneSets:
        """Only background genes, and only sets with ``min_size <= size <= max_size`` genes after that."""
        out = {}
        for k, genes in self.sets.items():
            kept = [g for g in genes if g in background]
            if min_size <= len(kept) <= max_size:
                out[k] = kept
        return GeneSets(out, {k: self.names[k] for k in out})


def _strip_version(g: str) -> str:
    return g.split(".", 1)[0] if g.startswith("ENS") else g


def read_gmt(path: str | Path) -> GeneSets:
    """Read a GMT: ``id <TAB> description <TAB> gene <TAB> gene ...`` per line; Ensembl versions stripped."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: gene-set file does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    sets: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                f = line.split("\t")
                if len(f) < 3:
                    raise UserError(
                        f"{path}: line {lineno}: expected 'id<TAB>description<TAB>genes...' "
                        f"(GMT), found {len(f)} tab-separated field(s)"
                    )
                key = f[0].strip()
                if not key:
                    raise UserError(f"{path}: line {lineno}: empty gene-set id")
                if key in sets:
                    raise UserError(f"{path}: line {lineno}: gene set '{key}' appears twice")
                sets[key] = sorted({_strip_version(g.strip()) for g in f[2:] if g.strip()})
                names[key] = f[1].strip()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read as GMT ({type(exc).__name__}: {exc})") from None
    if not sets:
        raise UserError(f"{path}: no gene sets found (empty GMT?)")
    return GeneSets(sets, names)
