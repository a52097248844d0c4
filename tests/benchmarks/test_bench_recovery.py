"""A small grid of ``benchmarks/bench_recovery.py``: the presets grade DE recall, the nulls stay null, and the
script runs every stage end to end and writes its markdown table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(n_donors=8, cells=100, n_genes=1000)


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_recovery", ROOT / "benchmarks" / "bench_recovery.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_presets_grade_de_recall(bench, tmp_path):
    easy = bench.run_one("easy", 1, workdir=tmp_path / "e", stages=("de",), **SMALL)
    very = bench.run_one("very-hard", 1, workdir=tmp_path / "v", stages=("de",), **SMALL)
    assert easy["de_recall"] >= 0.7 and very["de_recall"] <= easy["de_recall"] - 0.3, (easy, very)
    assert easy["de_precision"] >= 0.9
    assert easy["de_nodonor_recall"] <= easy["de_recall"]  # the donor term never hurts


def test_null_presets_stay_null(bench, tmp_path):
    rows = [bench.run_one(p, s, workdir=tmp_path / f"{p}{s}", stages=("de", "discriminate"), **SMALL)
            for p in ("null", "null-depth") for s in (1, 2)]
    assert all(r["de_false_share"] <= 0.05 for r in rows), rows
    assert sum(r["covers_half"] for r in rows) >= 3, rows
    assert [r["covariate_separates"] for r in rows] == [False, False, True, True]


def test_script_runs_every_stage_and_writes_the_table(bench, tmp_path, capsys):
    out = tmp_path / "table.md"
    bench.main(["--presets", "hard", "--seeds", "1", "--n-donors", "6", "--cells-per-sample", "60", "--n-genes",
                "800", "--out", str(out)])
    text = out.read_text()
    for col in ("de_recall_moderate", "de_precision", "covers_half", "shap_topk_precision",
                "calibration_auroc_change", "enrich_planted_hits", "enrich_decoy_hits", "de_nodonor_recall"):
        assert col in text
    assert "| hard |" in text and "Command: `benchmarks/bench_recovery.py --presets hard" in text
