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
    "ssl",
    "report",
)
"""Every stage, in the order of ``workflows/pbfidelity.nf``."""
