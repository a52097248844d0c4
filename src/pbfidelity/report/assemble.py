"""Stage the MultiQC inputs: every stage's custom content (grouped per stage) plus the report's own sections."""

from __future__ import annotations

import base64
import logging
import shutil
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pbfidelity import __version__
from pbfidelity.io.mqc import to_builtin, write_mqc, write_mqc_table
from pbfidelity.report import layout, plots
from pbfidelity.report.collect import Results
from pbfidelity.report.methods import methods_html
from pbfidelity.report.verdict import NOT_RUN, OVERVIEW_COLUMNS, Verdict, dataset_verdict

log = logging.getLogger("pbfidelity.report")

OVERVIEW_ID = "pbf_report_overview"
PARAMS_ID = "pbf_report_params"
METHODS_ID = "pbf_report_methods"
VERSIONS_FILE = "pbfidelity_software_mqc_versions.yml"
#: libyaml's parser when PyYAML was built with it (the pure-Python one spent ~25 s of the report's ~45 CPU s at
#: 100 donors on the large scatter/box/heatmap files)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
GROUPS = (OVERVIEW_ID, PARAMS_ID, METHODS_ID)  # the report's own groups (parent ids)


@dataclass
class Staged:
    """What was staged for MultiQC and what the report expects it to render."""

    folder: Path
    datasets: list[str]
    verdicts: dict[str, Verdict]
    overview: pd.DataFrame
    sections: dict[str, str] = field(default_factory=dict)  # section id -> stage
    plot_ids: list[str] = field(default_factory=list)  # plots expected in multiqc_data.json
    html_sections: list[str] = field(default_factory=list)  # HTML-only sections expected in the report
    dropped: dict[str, str] = field(default_factory=dict)  # file -> why it was left out
    versions: dict[str, dict[str, str]] = field(default_factory=dict)

    def write_order_config(self, path: Path) -> Path:
        order = layout.section_order(self.sections, self.datasets, reserved=GROUPS)
        path.write_text(yaml.safe_dump({"report_section_order": order}, sort_keys=False))
        return path

    def summary(self) -> dict:
        return to_builtin(
            {
                "datasets": self.datasets,
                "verdicts": {
                    d: {"cells": v.cells, "values": v.values, "sentences": v.sentences}
                    for d, v in self.verdicts.items()
                },
                "sections": self.sections,
                "expected_plots": self.plot_ids,
                "expected_html_sections": self.html_sections,
                "invalid_custom_content": self.dropped,
            }
        )


def _expect(staged: Staged, doc: dict, stage: str) -> None:
    sid = str(doc["id"])
    staged.sections[sid] = stage
    if doc.get("plot_type") in ("html", "image"):
        staged.html_sections.append(sid)
    else:
        staged.plot_ids.append(str((doc.get("pconfig") or {}).get("id") or sid))


def _stage_file(staged: Staged, src: Path, stage: str, dataset: str) -> None:
    dest = staged.folder / f"{stage}__{dataset}__{src.name}"
    if src.name.endswith((".yaml", ".yml")):
        try:
            doc = yaml.load(src.read_text(), Loader=_LOADER)
        except yaml.YAMLError as exc:
            staged.dropped[str(src)] = f"not valid YAML: {str(exc).splitlines()[0]}"
            return
        why = layout.check_custom_content(doc)
        if why:
            staged.dropped[str(src)] = why
            return
        doc = layout.with_parent(doc, stage)
        # YAML, not JSON: JSON would turn numeric keys (line-plot x values) into strings
        dest.write_text(yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True))
        _expect(staged, doc, stage)
    elif src.name.endswith(".png"):  # embedded as an HTML section so that it joins its stage's group
        sid = src.name[: -len("_mqc.png")]
        title = sid.removeprefix(f"pbf_{stage}_").replace("_", " ")
        img = base64.b64encode(src.read_bytes()).decode()
        doc = write_mqc(
            staged.folder,
            sid,
            title,
            "",
            "html",
            f'<div class="mqc-custom-content-image"><img src="data:image/png;base64,{img}" '
            f'alt="{escape(title)}" style="max-width:100%"/></div>',
            **_group(stage),
        )
        _expect(staged, yaml.safe_load(doc.read_text()), stage)
    else:  # TSV/CSV/HTML custom content: staged as is (MultiQC names it after the file)
        shutil.copy2(src, staged.folder / src.name)
        staged.sections[src.name.rsplit("_mqc", 1)[0]] = stage


def _group(stage: str) -> dict[str, str]:
    """Custom-content keys placing a report-made plot in ``stage``'s group."""
    return {
        "parent_id": layout.parent_id(stage),
        "parent_name": layout.STAGE_TITLES[stage],
        "parent_description": layout.STAGE_DESCRIPTIONS[stage],
    }


def _qc_params(folder: Path):
    """The qc stage's thresholds (from ``qc_summary.json``), or None when not recorded."""
    import json

    from pbfidelity.qc.cells import CellQCParams

    path = folder / "qc_summary.json"
    try:
        p = json.loads(path.read_text()).get("params") or {}
    except (OSError, ValueError):
        return None
    known = set(CellQCParams.__dataclass_fields__)
    try:
        return CellQCParams(**{k: v for k, v in p.items() if k in known})
    except TypeError:
        return None


def _qc_plots(staged: Staged, folder: Path, ds: str, max_cells: int, seed: int) -> None:
    from pbfidelity.qc.cells import sample_cutoffs

    out = staged.folder
    kw = _group("qc")
    params = _qc_params(folder)
    cell_file = folder / "cell_qc.tsv.gz"
    if cell_file.exists():
        cols = ["sample", "total_counts", *plots.CELL_METRICS]
        cells = pd.read_csv(cell_file, sep="\t", usecols=lambda c: c in cols)
        for metric, boxes in plots.cell_metric_boxes(cells, ds, max_cells, seed).items():
            lines = plots.hard_threshold_lines(metric, params)
            doc = write_mqc(
                out,
                f"pbf_report_{ds}_qc_{metric}",
                f"{plots.CELL_METRICS[metric].capitalize()} ({ds})",
                f"Distribution per sample before filtering (at most {max_cells} cells per sample drawn "
                "at random with a fixed seed)."
                + (" Dashed line: the fixed threshold of the qc stage." if lines else "")
                + " The per-sample MAD cut-offs are in the table 'QC cut-offs per sample'.",
                "box",
                boxes,
                {"xlab": plots.CELL_METRICS[metric], **({"x_lines": lines} if lines else {})},
                **kw,
            )
            _expect(staged, yaml.safe_load(doc.read_text()), "qc")
        if params is not None and {"total_counts", "n_genes", "pct_mito"} <= set(cells.columns):
            cut = sample_cutoffs(cells, cells["sample"].astype(str).to_numpy(), params)
            cut.index = [f"{ds}_{i}" for i in cut.index]
            doc = write_mqc_table(
                out,
                f"pbf_report_{ds}_qc_cutoffs",
                f"QC cut-offs per sample ({ds})",
                f"The thresholds each sample's cells were filtered with: median -/+ {params.nmads_counts:g} "
                f"(counts), {params.nmads_genes:g} (genes) scaled MADs of log values, and median + "
                f"{params.nmads_mito:g} MADs for % mito capped at {params.max_pct_mito:g}%; fixed floors "
                f"min_counts={params.min_counts}, min_genes={params.min_genes}. Empty: no cut (MAD = 0).",
                cut,
                {"id": f"pbf_report_{ds}_qc_cutoffs_plot", "no_violin": True},
                **kw,
            )
            _expect(staged, yaml.safe_load(doc.read_text()), "qc")
    sample_file = folder / "sample_qc.tsv"
    if sample_file.exists():
        per_sample = pd.read_csv(sample_file, sep="\t", index_col=0)
        data, headers = plots.sample_qc_violin(per_sample, ds)
        if data and headers:
            doc = write_mqc(
                out,
                f"pbf_report_{ds}_qc_violin",
                f"QC metrics per sample ({ds})",
                "Each violin shows one metric across samples; hover to find a sample.",
                "violin",
                data,
                {},
                headers=headers,
                **kw,
            )
            _expect(staged, yaml.safe_load(doc.read_text()), "qc")


def _pseudobulk_plots(staged: Staged, folder: Path, ds: str) -> None:
    path = folder / "profiles.h5ad"
    if not path.exists():
        return
    import anndata as ad

    adata = ad.read_h5ad(path, backed="r")
    obs = adata.obs.copy()
    adata.file.close()
    if "dataset" not in obs.columns:
        obs["dataset"] = ds
    kw = _group("pseudobulk")
    sizes = plots.library_sizes(obs)
    if sizes:
        doc = write_mqc(
            staged.folder,
            f"pbf_report_{ds}_library_sizes",
            f"Library size: bulk vs pseudo-bulk ({ds})",
            "Total counts of each sample's bulk library and of its pseudo-bulk (summed cells), side by side.",
            "bargraph",
            sizes,
            {"ylab": "counts", "stacking": "group", "cpswitch": False, "logswitch": True},
            **kw,
        )
        _expect(staged, yaml.safe_load(doc.read_text()), "pseudobulk")
    cells = plots.cells_per_sample(obs)
    if cells:
        doc = write_mqc(
            staged.folder,
            f"pbf_report_{ds}_cells_per_sample",
            f"Cells per pseudo-bulk profile ({ds})",
            "QC-passing cells summed into each sample's pseudo-bulk.",
            "bargraph",
            cells,
            {"ylab": "cells", "cpswitch": False},
            **kw,
        )
        _expect(staged, yaml.safe_load(doc.read_text()), "pseudobulk")
    comp, matched = _composition(folder, ds)
    if comp:
        what = (
            "Cells of each cell type drawn into each sample's proportion-matched pseudo-bulk (the target "
            "numbers from --proportions)."
            if matched
            else "QC-passing cells of each cell type in each sample's single-cell data (cell types with at "
            "least the minimum number of cells for a per-type pseudo-bulk)."
        )
        doc = write_mqc(
            staged.folder,
            f"pbf_report_{ds}_composition",
            f"Cell-type composition per sample ({ds})",
            what + " Switch between counts and percentages.",
            "bargraph",
            comp,
            {"ylab": "cells", "cpswitch_counts_label": "cells", "cpswitch_c_active": False},
            **kw,
        )
        _expect(staged, yaml.safe_load(doc.read_text()), "pseudobulk")


def _composition(folder: Path, ds: str) -> tuple[dict, bool]:
    """Cell-type composition per sample and whether it is the proportion-matched draw: the targets recorded in
    ``pseudobulk_summary.json`` when proportions were matched, else ``celltype_profiles.h5ad``'s n_cells."""
    import json

    try:
        targets = json.loads((folder / "pseudobulk_summary.json").read_text()).get("cells_drawn_per_type")
    except (OSError, ValueError):
        targets = None
    if targets:
        return {f"{ds}_{s}": {ct: float(n) for ct, n in t.items()} for s, t in targets.items()}, True
    path = folder / "celltype_profiles.h5ad"
    if not path.exists():
        return {}, False
    import anndata as ad

    ct = ad.read_h5ad(path, backed="r")
    obs = ct.obs.copy()
    ct.file.close()
    if "dataset" not in obs.columns:
        obs["dataset"] = ds
    return plots.celltype_composition(obs), False


def _ssl_efficiency(folder: Path) -> dict[str, Any]:
    """{method: label fraction} from an ssl table named ``*first*.tsv`` (when its summary lacks it)."""
    for path in sorted(folder.glob("*first*.tsv")):
        try:
            t = pd.read_csv(path, sep="\t")
        except (OSError, ValueError):
            continue
        name = next((c for c in ("method", "model") if c in t.columns), None)
        frac = next(
            (
                c
                for c in ("fraction", "first_fraction", "label_fraction", "first_matching_fraction")
                if c in t.columns
            ),
            None,
        )
        if name and frac:
            return {str(r[name]): (None if pd.isna(r[frac]) else r[frac]) for _, r in t.iterrows()}
    return {}


def _overview(staged: Staged, results: Results) -> None:
    out = staged.folder
    rows = {}
    for ds, v in staged.verdicts.items():
        ran = [s for s in results.stages() if results.get(s, ds)]
        rows[ds] = {**{c: v.cells.get(c, NOT_RUN) for c in OVERVIEW_COLUMNS}, "Stages run": ", ".join(ran)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "dataset"
    staged.overview = table
    headers = {c: {"title": c, "scale": False} for c in table.columns}
    kw = {
        "parent_id": OVERVIEW_ID,
        "parent_name": "Overview: can pseudo-bulk stand in for bulk?",
        "parent_description": "The verdict per dataset, in numbers and in words; the sections below hold "
        "the evidence.",
    }
    write_mqc_table(
        out,
        f"{OVERVIEW_ID}_table",
        "Verdict per dataset",
        "Matched-pair Pearson r (log-CPM), held-out AUROC of the bulk-vs-pseudo-bulk classifier with "
        "its 95% bootstrap CI and permutation p-value, genes differentially expressed between "
        "modalities, the AUROC change after calibration, how much a pseudo-bulk deconvolution benchmark "
        "overstates accuracy (RMSE of proportions, bulk minus pseudo-bulk), and the label fraction at which each "
        'self-supervised method matches the best baseline. "not run": the stage did not run '
        "for this dataset.",
        table,
        {"id": f"{OVERVIEW_ID}_table_plot", "col1_header": "Dataset", "no_violin": True},
        headers=headers,
        **kw,
    )
    staged.sections[f"{OVERVIEW_ID}_table"] = "report"
    staged.plot_ids.append(f"{OVERVIEW_ID}_table_plot")
    items = "".join(
        f"<h4>{escape(ds)}</h4><ul>" + "".join(f"<li>{escape(s)}</li>" for s in v.sentences) + "</ul>"
        for ds, v in staged.verdicts.items()
    )
    write_mqc(
        out,
        f"{OVERVIEW_ID}_text",
        "Verdict in words",
        "",
        "html",
        f'<div class="pbf-verdict">{items}</div>',
        **kw,
    )
    staged.sections[f"{OVERVIEW_ID}_text"] = "report"
    staged.html_sections.append(f"{OVERVIEW_ID}_text")


def _params(staged: Staged, results: Results, params: dict) -> None:
    if params:
        flat = {
            k: (", ".join(map(str, v)) if isinstance(v, list) else v)
            for k, v in sorted(params.items())
            if not isinstance(v, dict) and v not in (None, "", False)
        }
        data = {k: {"value": str(v)} for k, v in flat.items()}
        desc = (
            "Parameters of this run"
            + (f" (from pipeline_info/{results.params_source})" if results.params_source else "")
            + "; unset options are left out."
        )
    else:
        data = {"parameters": {"value": "not recorded (no pipeline_info/params*.json and no --param)"}}
        desc = "Parameters of this run."
    data["pbfidelity version"] = {"value": __version__}
    write_mqc(
        staged.folder,
        f"{PARAMS_ID}_table",
        "Run parameters",
        desc,
        "table",
        data,
        {"id": f"{PARAMS_ID}_plot", "col1_header": "Parameter", "no_violin": True},
        headers={"value": {"title": "Value", "scale": False}},
        parent_id=PARAMS_ID,
        parent_name="Parameters",
    )
    staged.sections[f"{PARAMS_ID}_table"] = "report"
    staged.plot_ids.append(f"{PARAMS_ID}_plot")


def _methods_and_versions(staged: Staged, results: Results, nextflow: bool) -> None:
    from pbfidelity.io.versions import package_versions

    versions: dict[str, dict[str, str]] = {"Workflow": {"pbfidelity": __version__}}
    for o in results.outputs:
        for proc, tools in o.versions.items():
            versions.setdefault(proc, {}).update(tools)
    versions["PBF_REPORT"] = package_versions(["multiqc", "plotly", "kaleido", "pyyaml"])
    staged.versions = versions
    (staged.folder / VERSIONS_FILE).write_text(yaml.safe_dump(versions, sort_keys=False))
    write_mqc(
        staged.folder,
        f"{METHODS_ID}_text",
        "Methods",
        "What was done, in words, with references.",
        "html",
        methods_html(results.stages(), versions, nextflow=nextflow),
        parent_id=METHODS_ID,
        parent_name="Methods and citations",
    )
    staged.sections[f"{METHODS_ID}_text"] = "report"
    staged.html_sections.append(f"{METHODS_ID}_text")


def stage_inputs(
    results: Results,
    folder: Path,
    params: dict | None = None,
    nextflow: bool = False,
    max_cells: int = 1000,
    seed: int = 42,
) -> Staged:
    """Write every MultiQC input of the report into ``folder`` and return what to expect in the report."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    datasets = results.datasets
    verdicts = {
        ds: dataset_verdict(
            ds,
            {
                s: results.summary(s, ds)
                for s in ("metrics", "discriminate", "calibrate", "enrich", "deconvolve", "ssl")
            },
            _ssl_efficiency(results.get("ssl", ds).path) if results.get("ssl", ds) else None,
        )
        for ds in datasets
    }
    for o in results.outputs:
        if o.summary is None and o.stage in ("metrics", "discriminate", "calibrate", "deconvolve", "ssl"):
            log.warning(
                "%s [%s]: no %s_summary.json; its numbers are missing from the overview",
                o.stage,
                o.dataset,
                o.stage,
            )
    staged = Staged(folder=folder, datasets=datasets, verdicts=verdicts, overview=pd.DataFrame())
    _overview(staged, results)
    for o in results.outputs:
        for f in o.mqc_files:
            _stage_file(staged, f, o.stage, o.dataset)
        if o.stage == "qc":
            _qc_plots(staged, o.path, o.dataset, max_cells, seed)
        elif o.stage == "pseudobulk":
            _pseudobulk_plots(staged, o.path, o.dataset)
    _params(staged, results, params or {})
    _methods_and_versions(staged, results, nextflow)
    return staged
