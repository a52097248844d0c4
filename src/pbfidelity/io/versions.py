"""``versions.yml`` in the nf-core layout: ``PROCESS: {tool: version}``."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml

from pbfidelity import __version__


def package_versions(packages: list[str]) -> dict[str, str]:
    """Installed versions of ``packages`` (missing ones are left out)."""
    out = {"pbfidelity": __version__, "python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def write_versions(directory: Path, stage: str, packages: list[str]) -> Path:
    """Write ``versions.yml`` for the Nextflow process ``PBF_<STAGE>`` into ``directory``."""
    path = Path(directory) / "versions.yml"
    doc = {f"PBF_{stage.upper()}": package_versions(packages)}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
