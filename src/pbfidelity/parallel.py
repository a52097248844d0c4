"""Threads: the one ``--threads`` option of every stage and the map that spends them.

Every stage takes ``--threads N`` (Nextflow passes ``task.cpus``; ``pbfidelity run`` passes its own
``--threads``). Work items run concurrently, each seeded by its own arguments and single-threaded inside
(XGBoost ``nthread = 1``, scikit-learn ``n_jobs = 1``), so a stage's outputs never depend on ``N``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_threads_argument(p: argparse.ArgumentParser, what: str, default: int = 1, *aliases: str) -> None:
    """``--threads N`` (>= 1): ``what`` says what runs concurrently in this stage."""
    p.add_argument(
        "--threads",
        *aliases,
        dest="threads",
        type=positive_int,
        default=default,
        metavar="N",
        help=f"threads: {what}; results are identical for any value (Nextflow passes task.cpus)",
    )


def parallel_map(fn: Callable[[T], R], items: Iterable[T], threads: int = 1) -> list[R]:
    """``[fn(i) for i in items]`` on ``threads`` threads (joblib), results in input order.

    Every task must be seeded by its own arguments and single-threaded inside; then the results do not depend
    on ``threads`` or on scheduling. XGBoost and NumPy release the GIL, so threads use the cores without
    copying the data into worker processes.
    """
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    from joblib import Parallel, delayed

    return list(Parallel(n_jobs=min(threads, len(items)), prefer="threads")(delayed(fn)(i) for i in items))
