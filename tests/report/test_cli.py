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
    assert table.loc["simA", "Calibration ΔAUROC"] == "-0.42"
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
