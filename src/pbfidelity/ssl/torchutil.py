"""Deterministic torch set-up and seed derivation shared by pre-training and the downstream protocol."""

from __future__ import annotations

import os

import numpy as np


def sub_seed(seed: int, *keys: int | str) -> int:
    """A 31-bit seed derived from ``seed`` and ``keys`` (strings hashed stably, not with ``hash()``)."""
    ints = [int(seed)]
    for k in keys:
        ints.append(
            int(k)
            if isinstance(k, (int, np.integer))
            else int.from_bytes(str(k).encode()[:8].ljust(8, b"\0"), "little")
        )
    return int(np.random.SeedSequence(ints).generate_state(1)[0] & 0x7FFFFFFF)


def configure_torch(threads: int = 1) -> None:
    """One thread, deterministic kernels (CUDA needs the cuBLAS workspace setting too)."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def generator(seed: int, device: str = "cpu"):
    import torch

    return torch.Generator(device=device).manual_seed(int(seed))
