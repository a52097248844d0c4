"""pbfidelity: can pseudo-bulk stand in for bulk RNA-seq?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pbfidelity")
except PackageNotFoundError:  # running from a checkout without installation (bin/pbfidelity)
    __version__ = "0.1.0"

STAGES: tuple[str, ...] = (
    "simulate",
    "qc",
    "pseudobulk",
    "metrics",
    "enrich",
    "discriminate",
    "calibrate",
    "deconvolve",
    "ssl",
    "report",
)
"""Every stage, in the order of ``workflows/pbfidelity.nf``."""


def __getattr__(name: str):
    """``pbf.pp`` / ``pbf.tl`` (the Python API, scanpy style), imported on first use so that the CLI stays light."""
    if name in ("pp", "tl"):
        import importlib

        return importlib.import_module(f"pbfidelity.{name}")
    raise AttributeError(f"module 'pbfidelity' has no attribute {name!r}")
