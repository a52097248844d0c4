"""Give memory back between the large steps of a stage.

Large steps (the DESeq2 fit, AnnData subsetting) leave their arrays in reference cycles, and glibc keeps freed
heap pages of its per-thread arenas mapped; both raise a stage's peak RSS without being in use. ``release()``
collects the cycles and asks glibc to return free pages (``malloc_trim``); elsewhere it only collects.
Results never depend on it.
"""

from __future__ import annotations

import ctypes
import gc
from functools import cache


@cache
def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl without the symbol)
        return None


def release() -> None:
    """Collect cyclic garbage and return free heap pages to the operating system where the C library can."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
