"""Atomic stage outputs: write everything under a hidden temporary folder, publish by rename at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".pbf-tmp-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(outdir: Path) -> list[Path]:
    """Remove temporary folders left by killed runs (their process no longer exists)."""
    removed = []
    for tmp in outdir.glob(f"{TMP_PREFIX}*"):
        try:
            pid = int(tmp.name[len(TMP_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


@contextmanager
def atomic_outdir(outdir: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder inside ``outdir``; on success move its entries into ``outdir``.

    On any exception (including KeyboardInterrupt) the temporary folder is removed, so a failed stage never
    publishes a file. A killed process leaves only a hidden ``.pbf-tmp-<pid>-*`` folder, removed by the next
    run. Each entry is published with ``os.replace`` (atomic on one file system; the temporary folder lives
    inside ``outdir`` so the rename never crosses devices), so every published file is complete.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(outdir)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=outdir))
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
