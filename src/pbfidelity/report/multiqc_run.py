"""Run MultiQC off-line on the staged inputs, and read back what it actually rendered.

MultiQC exits 0 even when it drops custom content it cannot parse, so the report checks
``multiqc_data/multiqc_data.json`` for every section it staged (:func:`rendered_plots`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from pbfidelity.errors import UserError

log = logging.getLogger("pbfidelity.report")


def packaged_config() -> Path:
    """``assets/multiqc_config.yml`` as installed with the package."""
    return Path(str(files("pbfidelity") / "assets" / "multiqc_config.yml"))


def offline_env() -> dict[str, str]:
    """Environment for a MultiQC run that never calls home and never colours its log."""
    env = dict(os.environ)
    env.update(
        {
            "MULTIQC_NO_VERSION_CHECK": "1",
            "MULTIQC_NO_AI": "1",
            "MULTIQC_NO_ANSI": "1",
            "NO_COLOR": "1",
            "COLUMNS": "120",
        }
    )
    return env


def run_multiqc(
    inputs: Path,
    outdir: Path,
    configs: Sequence[Path],
    title: str | None = None,
    timeout_s: float = 1800,
    export_plots: bool = False,
) -> subprocess.CompletedProcess:
    """``python -m multiqc`` on ``inputs`` into ``outdir`` (a subprocess: MultiQC keeps global state);
    ``export_plots`` also writes static PNG copies to ``multiqc_plots/``."""
    cmd = [
        sys.executable,
        "-m",
        "multiqc",
        str(inputs),
        "--outdir",
        str(outdir),
        "--force",
        "--no-version-check",
        "--no-ansi",
        "--quiet",
        "--interactive",
    ]
    for cfg in configs:
        cmd += ["--config", str(cfg)]
    if title:
        cmd += ["--title", title]
    if export_plots:
        cmd.append("--export")
    log.info("running MultiQC: %s", " ".join(cmd[1:]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env(), timeout=timeout_s)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise UserError(f"{inputs}: MultiQC failed with exit code {proc.returncode}:\n{tail}")
    return proc


def _dataset_has_data(plot_type: str, ds: Mapping[str, Any]) -> int:
    """Number of samples/series/rows a plot dataset holds in ``multiqc_data.json`` (0 = empty)."""
    for key in ("samples", "all_samples", "lines", "points", "rows", "data"):
        value = ds.get(key)
        if isinstance(value, (list, dict)) and len(value):
            return len(value)
    return 0


def rendered_plots(data_json: Path) -> dict[str, dict[str, Any]]:
    """``{plot id: {"plot_type", "section", "module", "n"}}`` for every plot MultiQC kept (n = data items)."""
    doc = json.loads(Path(data_json).read_text())
    out = {}
    for pid, plot in (doc.get("report_plot_data") or {}).items():
        datasets = plot.get("datasets") or []
        n = sum(_dataset_has_data(plot.get("plot_type", ""), d) for d in datasets if isinstance(d, Mapping))
        out[pid] = {
            "plot_type": plot.get("plot_type"),
            "section": plot.get("section_anchor"),
            "module": plot.get("module_anchor"),
            "n": n,
        }
    return out


def html_section_ids(report_html: Path, ids: Sequence[str]) -> dict[str, bool]:
    """Whether each id (an HTML-only section) is present as an element id in the report."""
    text = Path(report_html).read_text(errors="replace")
    return {i: (f'id="{i}"' in text) for i in ids}
