"""Reading back what MultiQC rendered; the packaged config."""

from __future__ import annotations

import json

import yaml

from pbfidelity.report.multiqc_run import packaged_config, rendered_plots


def test_rendered_plots_counts_data_items(tmp_path):
    doc = {
        "report_plot_data": {
            "a_plot": {
                "plot_type": "bar plot",
                "datasets": [{"samples": ["s1", "s2"]}],
                "module_anchor": "pbf_qc",
            },
            "b_plot": {"plot_type": "x/y line", "datasets": [{"lines": []}]},
            "c_plot": {
                "plot_type": "violin plot",
                "datasets": [{"all_samples": ["s1"]}, {"all_samples": ["s2"]}],
            },
        }
    }
    path = tmp_path / "multiqc_data.json"
    path.write_text(json.dumps(doc))
    got = rendered_plots(path)
    assert got["a_plot"]["n"] == 2 and got["a_plot"]["module"] == "pbf_qc"
    assert got["b_plot"]["n"] == 0
    assert got["c_plot"]["n"] == 2


def test_packaged_config_is_offline_and_orders_stages():
    cfg = yaml.safe_load(packaged_config().read_text())
    assert cfg["no_version_check"] is True and cfg["export_plots"] is True
    order = cfg["custom_content"]["order"]
    assert (
        order.index("pbf_qc")
        < order.index("pbf_metrics")
        < order.index("pbf_discriminate")
        < order.index("pbf_ssl")
    )
    ranks = {k: v["order"] for k, v in cfg["report_section_order"].items()}
    assert (
        ranks["pbf_report_overview"] > ranks["pbf_qc"] > ranks["pbf_ssl"] > ranks["multiqc_software_versions"]
    )
