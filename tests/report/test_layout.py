"""Report layout: stage groups, custom-content checks and section order."""

from __future__ import annotations

from pbfidelity.report.layout import check_custom_content, section_order, with_parent


def test_with_parent_adds_group_and_keeps_a_stages_own():
    doc = with_parent({"id": "pbf_metrics_d_pca"}, "metrics")
    assert doc["parent_id"] == "pbf_metrics" and doc["parent_name"] and doc["parent_description"]
    own = with_parent({"id": "x", "parent_id": "custom", "parent_name": "Mine"}, "metrics")
    assert own["parent_id"] == "custom" and "parent_description" not in own


def test_check_custom_content_reasons():
    assert check_custom_content({"id": "ok_1", "plot_type": "bargraph", "data": {"a": {"b": 1}}}) is None
    assert "unsafe id" in check_custom_content({"id": "bad id!", "plot_type": "table", "data": {"a": 1}})
    assert "plot_type" in check_custom_content({"id": "x", "plot_type": "pie", "data": {"a": 1}})
    assert check_custom_content({"id": "x", "plot_type": "table", "data": {}}) == "no data"
    assert check_custom_content(["not", "a", "mapping"]) == "not a YAML mapping"


def test_section_order_dataset_then_kind_and_never_a_group_id():
    ids = [
        "pbf_qc_B_samples",
        "pbf_qc_A_counts_box",
        "pbf_qc_A_samples",
        "pbf_report_A_qc_violin",
        "pbf_qc",
        "pbf_discriminate_cross_dataset",
    ]
    order = section_order(ids, ["A", "B"])
    ranked = sorted(order, key=lambda k: order[k]["order"])
    assert ranked == [
        "pbf_qc_A_samples",
        "pbf_qc_A_counts_box",
        "pbf_report_A_qc_violin",
        "pbf_qc_B_samples",
        "pbf_discriminate_cross_dataset",
    ]
    assert "pbf_qc" not in order
