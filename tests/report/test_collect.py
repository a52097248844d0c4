"""Scanning a results folder."""

from __future__ import annotations

import json
import os

from pbfidelity.report.collect import scan_results


def test_scan_finds_stage_folders_and_skips_the_rest(tmp_path):
    qc = tmp_path / "qc" / "d1"
    qc.mkdir(parents=True)
    (qc / "qc_summary.json").write_text(json.dumps({"n_cells": 5}))
    (qc / "versions.yml").write_text("PBF_QC:\n  numpy: 2.0\n")
    (qc / "pbf_qc_d1_cells_mqc.yaml").write_text("id: x\n")
    (qc / "cells.tsv").write_text("a\n")
    (tmp_path / "qc" / ".pbf-tmp-abc").mkdir()  # a stage's unpublished temporary folder
    (tmp_path / "metrics" / "d1").mkdir(parents=True)
    (tmp_path / "metrics" / "d1" / "metrics_summary.json").write_text("{not json")
    (tmp_path / "report" / "x").mkdir(parents=True)  # the report's own output is not an input
    info = tmp_path / "pipeline_info"
    info.mkdir()
    (info / "params_old.json").write_text(json.dumps({"seed": 1}))
    (info / "params_new.json").write_text(json.dumps({"seed": 2}))
    os.utime(info / "params_old.json", (1, 1))

    res = scan_results(tmp_path)
    assert [(o.stage, o.dataset) for o in res.outputs] == [("qc", "d1"), ("metrics", "d1")]
    assert res.summary("qc", "d1") == {"n_cells": 5}
    assert res.summary("metrics", "d1") == {}  # ran, summary unreadable
    assert res.summary("ssl", "d1") is None  # did not run
    assert [p.name for p in res.get("qc", "d1").mqc_files] == ["pbf_qc_d1_cells_mqc.yaml"]
    assert res.get("qc", "d1").versions == {"PBF_QC": {"numpy": "2.0"}}
    assert res.params == {"seed": 2} and res.params_source == "params_new.json"
