"""Reading back what MultiQC rendered; the packaged config."""

from __future__ import annotations

import json

import yaml

from pbfidelity.report.multiqc_run import packaged_config, rendered_plots, run_multiqc


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
    # static copies only on request (--export-plots / --multiqc_export_plots): ~1 s per plot
    assert cfg["no_version_check"] is True and cfg["export_plots"] is False
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


def test_static_plot_copies_only_on_request(tmp_path):
    """The packaged config exports no PNGs (they cost ~1 s per plot); ``export_plots=True`` writes them."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "pbf_qc_x_bars_mqc.json").write_text(
        json.dumps(
            {
                "id": "pbf_qc_x_bars",
                "section_name": "Bars",
                "plot_type": "bargraph",
                "pconfig": {"id": "pbf_qc_x_bars_plot", "title": "Bars"},
                "data": {"s1": {"a": 1, "b": 2}, "s2": {"a": 3, "b": 1}},
            }
        )
    )
    for export in (False, True):
        out = tmp_path / f"out_{export}"
        run_multiqc(inputs, out, [packaged_config()], export_plots=export)
        assert rendered_plots(out / "multiqc_data" / "multiqc_data.json")["pbf_qc_x_bars_plot"]["n"] == 2
        pngs = list((out / "multiqc_plots").rglob("*.png")) if (out / "multiqc_plots").exists() else []
        assert bool(pngs) is export, pngs
