"""Atomic stage outputs: write everything under a hidden temporary folder, publish by rename at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".pbf-tmp-"


@contextmanager
def atomic_outdir(outdir: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder inside ``outdir``; on success move its entries into ``outdir``.

    On any exception (including KeyboardInterrupt) the temporary folder is removed, so no file that looks
    complete is ever published by a failed stage. Each entry is published with ``os.replace`` (atomic on
    one file system); the temporary folder lives inside ``outdir`` so the rename never crosses devices.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=outdir))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for entry in sorted(tmp.iterdir()):
        dest = outdir / entry.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(entry, dest)
    tmp.rmdir()
