"""One MultiQC report of a results folder: verdict per dataset, every stage's plots, params, methods, versions.

Scans ``<results>/<stage>/<dataset>/`` for summaries (``*_summary.json``), MultiQC custom content
(``*_mqc.*``) and ``versions.yml``; stages that did not run are reported as "not run". The staged MultiQC
inputs and the generated section-order config are kept in ``--outdir`` so MultiQC can be re-run by hand
(or by the Nextflow ``MULTIQC`` process with ``--no-multiqc``).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger("pbfidelity.report")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results", required=True, type=Path, help="results folder (<results>/<stage>/<dataset>/)"
    )
    p.add_argument("--outdir", required=True, type=Path, help="output folder for the report's own files")
    p.add_argument("--multiqc-outdir", type=Path, help="MultiQC output folder (default: <outdir>/multiqc)")
    p.add_argument(
        "--multiqc-config",
        type=Path,
        action="append",
        default=[],
        help="extra MultiQC config (repeatable), applied after the packaged assets/multiqc_config.yml",
    )
    p.add_argument("--title", help="report title (default: from the MultiQC config)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="run parameter shown in the params summary (repeatable; overrides pipeline_info/params*.json)",
    )
    p.add_argument(
        "--nextflow", action="store_true", help="the results come from the Nextflow pipeline (methods text)"
    )
    p.add_argument(
        "--no-multiqc",
        action="store_true",
        help="only write the staged MultiQC inputs and config (e.g. for the Nextflow MULTIQC process)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail when MultiQC drops a staged section (default: warn and record it)",
    )
    p.add_argument(
        "--export-plots",
        action="store_true",
        help="also write static PNG copies of every plot to <multiqc-outdir>/multiqc_plots/ (slow: ~1 s per plot)",
    )
    p.add_argument(
        "--screenshot",
        action="store_true",
        help="render the report in headless Chromium and save multiqc_report.png (needs chromium)",
    )
    p.add_argument(
        "--max-cells-per-sample",
        type=int,
        default=1000,
        help="cells per sample drawn (seeded) for the per-cell QC box plots",
    )
    p.add_argument("--seed", type=int, default=42, help="seed for the per-cell subsample of the QC box plots")


def _parse_params(pairs: list[str]) -> dict[str, str]:
    from pbfidelity.errors import UserError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from pbfidelity.errors import UserError
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.io.versions import write_versions
    from pbfidelity.report.assemble import stage_inputs
    from pbfidelity.report.collect import scan_results

    results_dir = Path(args.results)
    if not results_dir.is_dir():
        raise UserError(f"{results_dir}: results folder does not exist")
    results = scan_results(results_dir)
    if not results.outputs:
        raise UserError(
            f"{results_dir}: no stage outputs found (expected <stage>/<dataset>/ folders such as qc/)"
        )
    params = {**{str(k): v for k, v in results.params.items()}, **_parse_params(args.param)}
    mqc_outdir = Path(args.multiqc_outdir or Path(args.outdir) / "multiqc")

    with atomic_outdir(args.outdir) as tmp:
        staged = stage_inputs(
            results,
            tmp / "multiqc_inputs",
            params=params,
            nextflow=args.nextflow,
            max_cells=args.max_cells_per_sample,
            seed=args.seed,
        )
        order_cfg = tmp / "multiqc_section_order.yml"
        staged.write_order_config(order_cfg)
        staged.overview.to_csv(tmp / "overview.tsv", sep="\t")
        summary = staged.summary()
        summary["multiqc_outdir"] = str(mqc_outdir)
        if not args.no_multiqc:
            summary.update(_run_multiqc(args, tmp, order_cfg, staged, mqc_outdir))
        (tmp / "report_summary.json").write_text(json.dumps(summary, indent=2))
        write_versions(tmp, "report", ["pyyaml", "multiqc", "plotly", "kaleido"])

    for ds, verdict in staged.verdicts.items():
        log.info("report %s: %s", ds, " ".join(verdict.sentences))
    missing = summary.get("missing_in_report", [])
    if missing:
        msg = f"MultiQC dropped {len(missing)} staged section(s): {', '.join(missing)}"
        if args.strict:
            raise UserError(f"{args.results}: {msg}")
        log.warning(msg)
    if staged.dropped:
        log.warning(
            "invalid custom content left out: %s", "; ".join(f"{k}: {v}" for k, v in staged.dropped.items())
        )
    if not args.no_multiqc:
        log.info("report: %s", (mqc_outdir / "multiqc_report.html").resolve())
    return 0


def _run_multiqc(args, tmp: Path, order_cfg: Path, staged, mqc_outdir: Path) -> dict:
    """Run MultiQC into ``mqc_outdir`` (atomically) and check that every staged section was rendered."""
    from pbfidelity.io.atomic import atomic_outdir
    from pbfidelity.report.multiqc_run import html_section_ids, packaged_config, rendered_plots, run_multiqc

    configs = [packaged_config(), order_cfg, *args.multiqc_config]
    shutil.copy2(packaged_config(), tmp / "multiqc_config.yml")
    info: dict = {}
    with atomic_outdir(mqc_outdir) as mtmp:
        run_multiqc(tmp / "multiqc_inputs", mtmp, configs, title=args.title, export_plots=args.export_plots)
        plots = rendered_plots(mtmp / "multiqc_data" / "multiqc_data.json")
        html = html_section_ids(mtmp / "multiqc_report.html", staged.html_sections)
        missing = [p for p in staged.plot_ids if plots.get(p, {}).get("n", 0) == 0]
        missing += [s for s, ok in html.items() if not ok]
        info["rendered_plots"] = {p: v["n"] for p, v in plots.items()}
        info["missing_in_report"] = missing
        exported = (
            sorted(str(p.relative_to(mtmp)) for p in (mtmp / "multiqc_plots").rglob("*") if p.is_file())
            if (mtmp / "multiqc_plots").is_dir()
            else []
        )
        info["exported_plots"] = len(exported)
        if args.screenshot:
            info["screenshot"] = _screenshot(mtmp / "multiqc_report.html", mtmp / "multiqc_report.png")
    if "screenshot" in info and info["screenshot"].get("path"):
        info["screenshot"]["path"] = str(mqc_outdir / "multiqc_report.png")
    return info


def _screenshot(html: Path, png: Path) -> dict:
    from pbfidelity.report.browser import find_chromium, render

    if find_chromium() is None:
        log.warning("--screenshot: no chromium found (install Debian 'chromium'); no screenshot taken")
        return {"path": None, "reason": "chromium not found"}
    res = render(html, png)
    for err in res.errors:
        log.warning("report JavaScript error: %s", err)
    if res.remote_requests:
        log.warning("report is not self-contained: it requested %s", ", ".join(res.remote_requests))
    return {
        "path": str(png),
        "js_errors": res.errors,
        "remote_requests": res.remote_requests,
        "seconds": res.seconds,
    }
