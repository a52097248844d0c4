"""End to end: ``pbfidelity report`` on a results folder; MultiQC's own data file proves what was rendered."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pbfidelity.errors import UserError
from pbfidelity.report.multiqc_run import rendered_plots

#: plots the report must hold for every dataset (qc/pseudobulk stages + the report's own QC/pseudo-bulk plots)
PER_DATASET = (
    "pbf_qc_{ds}_samples_plot",
    "pbf_qc_{ds}_cells_plot",
    "pbf_qc_{ds}_counts_box_plot",
    "pbf_report_{ds}_qc_n_genes_plot",
    "pbf_report_{ds}_qc_pct_mito_plot",
    "pbf_report_{ds}_qc_violin_plot",
    "pbf_pseudobulk_{ds}_profiles_plot",
    "pbf_report_{ds}_library_sizes_plot",
    "pbf_report_{ds}_cells_per_sample_plot",
    "pbf_report_{ds}_qc_cutoffs_plot",
    "pbf_report_{ds}_composition_plot",
)


DATASETS = ("simA", "simB")  # as in conftest.py


def _data_json(results):
    return json.loads((results / "multiqc" / "multiqc_data" / "multiqc_data.json").read_text())


def test_every_expected_plot_has_data_per_dataset(report_run):
    results, expected = report_run
    plots = rendered_plots(results / "multiqc" / "multiqc_data" / "multiqc_data.json")
    for ds in DATASETS:
        wanted = [p.format(ds=ds) for p in PER_DATASET] + [p for ids in expected[ds].values() for p in ids]
        for pid in wanted:
            assert pid in plots, f"{pid} missing from multiqc_data.json"
            assert plots[pid]["n"] > 0, f"{pid} has no data"
    for pid in ("pbf_report_overview_table_plot", "pbf_report_params_plot"):
        assert plots[pid]["n"] > 0
    # sample names of the per-sample QC plots are dataset-prefixed, so datasets never collide
    doc = _data_json(results)
    samples = doc["report_plot_data"]["pbf_qc_simB_cells_plot"]["datasets"][0]["samples"]
    assert samples and all(s.startswith("simB_") for s in samples)


def test_report_summary_and_html_sections(report_run):
    results, _ = report_run
    summary = json.loads((results / "report" / "report_summary.json").read_text())
    assert summary["missing_in_report"] == []
    assert summary["exported_plots"] > 0 and (results / "multiqc" / "multiqc_plots" / "png").is_dir()
    # the invalid stand-in file is reported, not silently lost
    assert any("not_custom_content" in k for k in summary["invalid_custom_content"])
    html = (results / "multiqc" / "multiqc_report.html").read_text()
    for anchor in ("pbf_report_overview_text", "pbf_report_methods", "multiqc_software_versions"):
        assert f'id="{anchor}"' in html
    assert "doi.org/10.1093/bioinformatics/btw354" in html  # MultiQC citation in the methods
    assert "PBF_DISCRIMINATE" in html and "PBF_REPORT" in html  # versions of every stage
    assert "params_2026-01-01.json" in html  # params summary names its source ...
    params = _data_json(results)["report_plot_data"]["pbf_report_params_plot"]["datasets"][0]["all_samples"]
    assert {"input", "seed", "label_column", "pbfidelity version"} <= set(params)  # ... file and --param


def test_sections_follow_the_analysis(report_run):
    results, _ = report_run
    html = (results / "multiqc" / "multiqc_report.html").read_text()
    groups = [
        "pbf_report_overview",
        "pbf_qc",
        "pbf_pseudobulk",
        "pbf_metrics",
        "pbf_enrich",
        "pbf_discriminate",
        "pbf_calibrate",
        "pbf_ssl",
        "pbf_report_params",
        "pbf_report_methods",
        "multiqc_software_versions",
    ]
    pos = [html.find(f'<div id="mqc-module-section-{g}"') for g in groups]
    assert all(p > 0 for p in pos), dict(zip(groups, pos, strict=True))
    assert pos == sorted(pos)
    # inside a group, dataset A's sections come before dataset B's
    a, b = html.find('id="pbf_qc_simA_samples"'), html.find('id="pbf_qc_simB_samples"')
    assert 0 < a < b
    # stage images join their stage's group (after the ROC and SHAP plots of the same dataset)
    roc, shap, img = (html.find(f'id="pbf_discriminate_simA_{k}"') for k in ("roc", "shap", "beeswarm"))
    assert pos[5] < roc < shap < img < pos[6]


def test_overview_says_not_run(report_run):
    results, _ = report_run
    table = pd.read_csv(results / "report" / "overview.tsv", sep="\t", index_col=0)
    assert table.loc["simA", "Matched-pair r"] == "0.912"
    assert table.loc["simA", "AUROC (95% CI)"] == "0.97 [0.91, 1.00]"
    assert table.loc["simA", "DE genes"] == "57"
    assert table.loc["simA", "Calibration ΔAUROC"] == "-0.420"
    assert table.loc["simA", "SSL label efficiency"] == "scarf_probe: 20 %, vime_probe: never matched"
    assert (
        table.loc[
            "simB",
            ["Matched-pair r", "AUROC (95% CI)", "DE genes", "Calibration ΔAUROC", "SSL label efficiency"],
        ]
        == "not run"
    ).all()


def test_no_multiqc_stages_inputs_only(results_dir, stage, tmp_path):
    results, _ = results_dir
    assert stage("report", ["--results", results, "--outdir", tmp_path / "r", "--no-multiqc"]) == 0
    staged = sorted(p.name for p in (tmp_path / "r" / "multiqc_inputs").iterdir())
    assert "pbfidelity_software_mqc_versions.yml" in staged
    assert any(n.startswith("qc__simA__") for n in staged)
    assert not (tmp_path / "r" / "multiqc").exists()


def test_empty_results_is_a_user_error(stage, tmp_path):
    with pytest.raises(UserError, match="no stage outputs"):
        stage("report", ["--results", tmp_path, "--outdir", tmp_path / "report"])


def test_cli_entry_point_help(cli):
    proc = cli("report", "--help")
    assert "--multiqc-outdir" in proc.stdout


def _stage_plots(results, ds):
    plots = rendered_plots(results / "multiqc" / "multiqc_data" / "multiqc_data.json")
    return {
        stage: [p for p, v in plots.items() if p.startswith(f"pbf_{stage}_{ds}_") and v["n"] > 0]
        for stage in ("qc", "pseudobulk", "metrics", "discriminate", "calibrate")
    }


@pytest.mark.slow
def test_pbfidelity_run_end_to_end_on_the_simulator(demo_run):
    """simulate → run (every stage that needs no extra input) → the report holds every stage's plots."""
    out = demo_run
    summary = json.loads((out / "report" / "report_summary.json").read_text())
    assert summary["missing_in_report"] == [] and summary["invalid_custom_content"] == {}
    for stage, ids in _stage_plots(out, "demo").items():
        assert ids, f"no {stage} plot with data in the report"
    cells = summary["verdicts"]["demo"]["cells"]
    assert cells["Matched-pair r"] not in ("not run", "not reported")
    assert cells["AUROC (95% CI)"] not in ("not run", "not reported")
    assert cells["SSL label efficiency"] == "not run"  # no --label-column
    params = _data_json(out)["report_plot_data"]["pbf_report_params_plot"]["datasets"][0]["all_samples"]
    assert "input" in params and "seed" in params
    # 6 samples x 60 cells: the per-cell QC plots have > 100 series, MultiQC's default deferral limit
    _assert_nothing_deferred(out / "multiqc")


@pytest.mark.realdata
def test_report_on_cellbench(shared_data, stage, tmp_path):
    """Real data: CellBench pools vs proportion-matched pseudo-bulk through qc and pseudobulk, then the report
    (the heavier stages are covered by their own real-data tests; here they show as "not run")."""
    inp, res = tmp_path / "in", tmp_path / "res"
    assert stage("recipes", ["cellbench", "--data-dir", shared_data / "cellbench", "--outdir", inp]) == 0
    ds = "cellbench_cellmix5"
    sheet = inp / "samplesheet.csv"
    ann = shared_data / "genesets" / "human_gene_annotation.tsv.gz"
    stage("qc", ["--input", sheet, "--dataset", ds, "--outdir", res / "qc" / ds, "--gene-annotation", ann])
    stage(
        "pseudobulk",
        [
            "--input",
            sheet,
            "--dataset",
            ds,
            "--cell-qc",
            res / "qc" / ds / "cell_qc.tsv.gz",
            "--bulk-qc",
            res / "qc" / ds / "bulk_qc.tsv",
            "--outdir",
            res / "pseudobulk" / ds,
            "--proportions",
            inp / "proportions.tsv",
            "--gene-annotation",
            ann,
        ],
    )
    assert stage("report", ["--results", res, "--outdir", res / "report", "--strict"]) == 0
    mqc = res / "report" / "multiqc"
    plots = rendered_plots(mqc / "multiqc_data" / "multiqc_data.json")
    for pid in PER_DATASET:
        assert plots.get(pid.format(ds=ds), {}).get("n", 0) > 0, pid.format(ds=ds)
    # 21 pools: the library-size plot pairs each pool with its pseudo-bulk
    assert plots[f"pbf_report_{ds}_library_sizes_plot"]["n"] == 21
    table = pd.read_csv(res / "report" / "overview.tsv", sep="\t", index_col=0)
    assert table.loc[ds, "AUROC (95% CI)"] == "not run"


def _line_plots(mqc_json: dict):
    for pid, plot in (mqc_json.get("report_plot_data") or {}).items():
        if isinstance(plot, dict) and plot.get("plot_type") == "x/y line":
            yield pid, plot


def test_line_plots_have_numeric_ascending_x(report_run):
    """Every line plot in multiqc_data.json: x values are numbers, in ascending order within each line."""
    results, _ = report_run
    doc = json.loads(next(results.rglob("multiqc_data.json")).read_text())
    n = 0
    for pid, plot in _line_plots(doc):
        for ds in plot.get("datasets", []):
            for line in ds.get("lines", []):
                xs = [p[0] for p in line.get("pairs", [])]
                assert all(isinstance(x, (int, float)) for x in xs), (pid, line.get("name"), xs[:5])
                assert xs == sorted(xs), (pid, line.get("name"), xs[:10])
                n += 1
    assert n > 0


def _columns(node):
    if isinstance(node, dict):
        if "rid" in node and "title" in node:
            yield node
        for v in node.values():
            yield from _columns(v)
    elif isinstance(node, list):
        for v in node:
            yield from _columns(v)


def test_table_columns_carry_their_number_formats(report_run):
    """From multiqc_data.json: p-value columns in scientific notation, counts as integers, the rest with three
    decimals, titles without underscores (MultiQC's default is one decimal everywhere)."""
    import re

    results, _ = report_run
    doc = json.loads(next(results.rglob("multiqc_data.json")).read_text())
    cols = list(_columns(doc.get("report_plot_data")))
    ours = [c for c in cols if c.get("format")]
    assert len(ours) > 10
    p_col = re.compile(r"(^|_)(p|pvalue|padj|p_value|fdr)($|_)|permutation_p")
    for c in ours:
        if p_col.search(c["rid"]):
            assert c["format"] == "{:.2e}", c["rid"]
    assert any(c["format"] == "{:,.3f}" for c in ours) and any(c["format"] == "{:,.0f}" for c in ours)
    assert sum("_" in str(c.get("title", "")) for c in ours) <= len(ours) // 10  # readable titles


def _assert_nothing_deferred(results) -> int:
    """No plot waits for a click and no "a lot of samples" banner; returns the largest plot's series count."""
    doc = json.loads(next(results.rglob("multiqc_data.json")).read_text())
    plots = {k: v for k, v in (doc.get("report_plot_data") or {}).items() if isinstance(v, dict)}
    assert [k for k, v in plots.items() if v.get("defer_render")] == []
    html = next(results.rglob("multiqc_report.html")).read_text()
    assert 'id="mqc-warning-many-samples"' not in html and "contains a lot of samples" not in html
    sizes = [
        d.get("n_series") or len(d.get("lines") or d.get("all_samples") or [])
        for v in plots.values()
        for d in v.get("datasets", [])
        if isinstance(d, dict)
    ]
    return max(sizes or [0])


def test_no_plot_is_deferred_and_no_many_samples_banner(report_run):
    results, _ = report_run
    _assert_nothing_deferred(results)


def _plot(doc: dict, pid: str) -> tuple[dict, dict]:
    plot = doc["report_plot_data"][pid]
    return plot, plot["datasets"][0]


@pytest.mark.slow
def test_views_and_labels_on_the_demo(demo_run):
    """From multiqc_data.json of the demo run: the signed SHAP beeswarm, the gene-wise mean scatter with
    discordant genes as their own series, cell-type composition, PCA legend and % variance, ROC legend,
    calibration diagonal and QC thresholds, each with data and the right series and labels."""
    import re

    doc, ds = _data_json(demo_run), "demo"
    # PCA: one legend entry per modality, % variance explained in the axis titles
    plot, d = _plot(doc, f"pbf_metrics_{ds}_pca_scores_plot")
    assert re.fullmatch(r"PC1 \(\d+\.\d% of variance\)", plot["pconfig"]["xlab"])
    assert re.fullmatch(r"PC2 \(\d+\.\d% of variance\)", plot["pconfig"]["ylab"])
    assert plot["pconfig"]["showlegend"] is True and plot["pconfig"]["xsuffix"] == ""  # no '%' on the ticks
    assert {p["group"] for p in d["points"]} == {"bulk", "pseudo-bulk"} and len(d["points"]) == 12
    # gene means: every discordant gene in its own series, concordant ones grey, and the y = x line
    metrics = json.loads((demo_run / "metrics" / ds / "metrics_summary.json").read_text())
    plot, d = _plot(doc, f"pbf_metrics_{ds}_gene_means_plot")
    groups = pd.Series([p.get("group") for p in d["points"]]).value_counts()
    n_disc = int(
        groups.get("discordant: higher in bulk", 0) + groups.get("discordant: higher in pseudo-bulk", 0)
    )
    assert metrics["n_de"] > 0 and n_disc == metrics["n_de"]
    assert groups.get("concordant", 0) > 0 and groups.get("y = x", 0) >= 20
    assert plot["pconfig"]["xlab"] == "mean log-CPM, bulk" and plot["pconfig"]["showlegend"] is True
    # every point of a scatter with a legend carries a group: the report's JavaScript gives each ungrouped
    # point its own legend entry
    for pid, p in doc["report_plot_data"].items():
        if p.get("plot_type") == "scatter plot" and p["pconfig"].get("showlegend"):
            assert all(pt.get("group") for ds_ in p["datasets"] for pt in ds_["points"]), pid
    # ROC: legend with one entry per model line
    plot, d = _plot(doc, f"pbf_discriminate_{ds}_roc_plot")
    names = [line["name"] for line in d["lines"]]
    assert plot["pconfig"]["showlegend"] is True and {"XGBoost", "Chance"} <= set(names)
    # signed SHAP: one dot per evaluated profile and top gene, at its signed SHAP value
    signed = pd.read_csv(demo_run / "discriminate" / ds / "shap_values.tsv", sep="\t")
    plot, d = _plot(doc, f"pbf_discriminate_{ds}_shap_signed_plot")
    assert plot["pconfig"]["categories"] == list(dict.fromkeys(signed["gene"]))
    assert len(d["points"]) == len(signed) > 0
    assert sorted(round(p["y"], 4) for p in d["points"]) == sorted(signed["shap"].round(4))
    assert any(p["y"] > 0 for p in d["points"]) and any(p["y"] < 0 for p in d["points"])
    # calibration: the diagonal is drawn as a y = x series spanning the points
    plot, d = _plot(doc, f"pbf_calibrate_{ds}_pair_r_plot")
    diag = [p for p in d["points"] if p.get("group") == "y = x"]
    pts = [p for p in d["points"] if p.get("group") != "y = x"]
    assert diag and all(p["x"] == p["y"] for p in diag) and len(pts) == 6
    # cell-type composition per sample: a stacked bar per sample, one series per cell type
    plot, d = _plot(doc, f"pbf_report_{ds}_composition_plot")
    assert len(d["samples"]) == 6 and len(d["cats"]) >= 2
    assert all(s.startswith(f"{ds}_") for s in d["samples"])
    # QC thresholds: the % mito cap as a line, per-sample MAD cut-offs as a table
    plot, d = _plot(doc, f"pbf_report_{ds}_qc_pct_mito_plot")
    assert [line["value"] for line in plot["pconfig"]["x_lines"]] == [20.0]
    assert (
        rendered_plots(demo_run / "multiqc" / "multiqc_data" / "multiqc_data.json")[
            f"pbf_report_{ds}_qc_cutoffs_plot"
        ]["n"]
        == 6
    )
