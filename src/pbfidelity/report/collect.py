"""Find what the stages published: ``<results>/<stage>/<dataset>/`` with summaries, MultiQC files, versions."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pbfidelity import STAGES
from pbfidelity.io.atomic import TMP_PREFIX

log = logging.getLogger("pbfidelity.report")

#: Analysis stages whose folders the report reads, in report order (the story: QC → profiles → fidelity →
#: processes → discrimination → calibration → SSL).
REPORT_STAGES: tuple[str, ...] = tuple(s for s in STAGES if s not in ("simulate", "report"))
MQC_SUFFIXES = ("_mqc.yaml", "_mqc.yml", "_mqc.tsv", "_mqc.txt", "_mqc.csv", "_mqc.png", "_mqc.html")


@dataclass
class StageOutput:
    """One stage's published folder for one dataset."""

    stage: str
    dataset: str
    path: Path
    summary: dict | None = None
    mqc_files: list[Path] = field(default_factory=list)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Results:
    """Everything the report needs from a results folder."""

    root: Path
    outputs: list[StageOutput] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    params_source: str | None = None

    @property
    def datasets(self) -> list[str]:
        """Datasets in order of first appearance (stage order, then name)."""
        return list(dict.fromkeys(o.dataset for o in self.outputs))

    def get(self, stage: str, dataset: str) -> StageOutput | None:
        return next((o for o in self.outputs if o.stage == stage and o.dataset == dataset), None)

    def summary(self, stage: str, dataset: str) -> dict | None:
        """The stage's summary; None when the stage did not run, {} when it ran without a readable summary."""
        out = self.get(stage, dataset)
        return None if out is None else (out.summary or {})

    def stages(self) -> list[str]:
        return list(dict.fromkeys(o.stage for o in self.outputs))


def read_summary(folder: Path, stage: str) -> dict | None:
    """``<stage>_summary.json`` (or the only ``*_summary.json``) of a stage folder; None when absent/broken."""
    path = folder / f"{stage}_summary.json"
    if not path.exists():
        candidates = sorted(folder.glob("*_summary.json"))
        if len(candidates) != 1:
            return None
        path = candidates[0]
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("%s: not readable JSON (%s); treated as missing", path, exc)
        return None
    return doc if isinstance(doc, dict) else None


def read_versions(path: Path) -> dict[str, dict[str, str]]:
    """``versions.yml`` as ``{process: {tool: version}}`` (strings); {} when absent or malformed."""
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        log.warning("%s: not valid YAML (%s); ignored", path, exc)
        return {}
    if not isinstance(doc, dict):
        return {}
    return {
        str(proc): {str(k): str(v) for k, v in tools.items()}
        for proc, tools in doc.items()
        if isinstance(tools, dict)
    }


def read_params(info: Path) -> tuple[dict, str | None]:
    """Run parameters from ``pipeline_info/``: the newest ``params*.json`` (Nextflow / embedded runner)."""
    if not info.is_dir():
        return {}, None
    files = sorted(info.glob("params*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    for path in reversed(files):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            return doc, path.name
    return {}, None


def scan_results(root: Path) -> Results:
    """Scan ``root`` for stage folders ``<stage>/<dataset>/`` (temporary and hidden folders are skipped)."""
    root = Path(root)
    results = Results(root=root)
    for stage in REPORT_STAGES:
        stage_dir = root / stage
        if not stage_dir.is_dir():
            continue
        for folder in sorted(p for p in stage_dir.iterdir() if p.is_dir()):
            if folder.name.startswith((".", TMP_PREFIX)):
                continue
            mqc = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(MQC_SUFFIXES))
            results.outputs.append(
                StageOutput(
                    stage=stage,
                    dataset=folder.name,
                    path=folder,
                    summary=read_summary(folder, stage),
                    mqc_files=mqc,
                    versions=read_versions(folder / "versions.yml"),
                )
            )
    results.params, results.params_source = read_params(root / "pipeline_info")
    return results
