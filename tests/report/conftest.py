"""Fixtures of the report tests: a results folder with real qc/pseudobulk outputs of two simulated datasets
plus stand-in outputs (summaries and custom content of every plot type) for the later stages."""

from __future__ import annotations

import argparse
import importlib
import json
import struct
import zlib
from pathlib import Path

import pytest
import yaml

from pbfidelity.io.mqc import write_mqc, write_mqc_table

DATASETS = ("simA", "simB")


def stage_main(stage: str, argv: list[str]) -> int:
    """Run one stage in-process through its own CLI adapter (parser of that stage only)."""
    module = importlib.import_module(f"pbfidelity.{stage}.cli")
    parser = argparse.ArgumentParser(prog=f"pbfidelity {stage}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args([str(a) for a in argv])) or 0)


def tiny_png(path: Path) -> Path:
    """A valid 2x2 PNG (image custom content)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack("!IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def fake_stage_outputs(results: Path, ds: str) -> dict[str, list[str]]:
    """Stand-in metrics/enrich/discriminate/calibrate/ssl outputs; returns {stage: [plot ids]}."""
    samples = [f"{ds}_S0{i}" for i in range(1, 5)]
    out: dict[str, list[str]] = {}

    def folder(stage: str) -> Path:
        d = results / stage / ds
        d.mkdir(parents=True, exist_ok=True)
        (d / "versions.yml").write_text(
            yaml.safe_dump({f"PBF_{stage.upper()}": {"pbfidelity": "0.1.0", "numpy": "2.0"}})
        )
        return d

    d = folder("metrics")
    (d / "metrics_summary.json").write_text(
        json.dumps(
            {"matched_pair_r": 0.912, "unmatched_pair_r": 0.85, "n_de": 57, "separating_component": "PC1"}
        )
    )
    write_mqc(
        d,
        f"pbf_metrics_{ds}_corr",
        f"Correlation ({ds})",
        "",
        "heatmap",
        [[1.0, 0.9], [0.9, 1.0]],
        {"xcats": ["bulk", "pb"], "ycats": ["bulk", "pb"]},
    )
    write_mqc(
        d,
        f"pbf_metrics_{ds}_pca",
        f"PCA ({ds})",
        "",
        "scatter",
        {s: {"x": i, "y": -i} for i, s in enumerate(samples)},
        parent_id="pbf_metrics",
        parent_name="Fidelity",
    )
    write_mqc(
        d,
        f"pbf_metrics_{ds}_volcano",
        f"Volcano ({ds})",
        "",
        "scatter",
        {f"G{i}": {"x": i - 5, "y": i} for i in range(10)},
    )
    (d / "not_custom_content_mqc.yaml").write_text("id: 'bad id!'\nplot_type: bargraph\ndata: {a: {b: 1}}\n")
    out["metrics"] = [
        f"pbf_metrics_{ds}_corr_plot",
        f"pbf_metrics_{ds}_pca_plot",
        f"pbf_metrics_{ds}_volcano_plot",
    ]

    d = folder("enrich")
    (d / "enrich_summary.json").write_text(json.dumps({"n_sets": 3}))
    write_mqc(
        d,
        f"pbf_enrich_{ds}_ora",
        f"Processes ({ds})",
        "",
        "bargraph",
        {"GO:1": {"-log10 padj": 3.0}, "GO:2": {"-log10 padj": 1.5}},
    )
    out["enrich"] = [f"pbf_enrich_{ds}_ora_plot"]

    d = folder("discriminate")
    (d / "discriminate_summary.json").write_text(
        json.dumps(
            {
                "auroc": 0.97,
                "ci_low": 0.91,
                "ci_high": 1.0,
                "permutation_p": 0.004,
                "verdict": "distinguishable: a classifier tells bulk from pseudo-bulk on held-out donors",
            }
        )
    )
    write_mqc(
        d,
        f"pbf_discriminate_{ds}_roc",
        f"ROC ({ds})",
        "",
        "linegraph",
        {"XGBoost": {0.0: 0.0, 0.1: 0.8, 1.0: 1.0}},
    )
    write_mqc(
        d,
        f"pbf_discriminate_{ds}_shap",
        f"SHAP ({ds})",
        "",
        "bargraph",
        {"G1": {"towards bulk": 0.5, "towards pseudo-bulk": 0.0}},
    )
    tiny_png(d / f"pbf_discriminate_{ds}_beeswarm_mqc.png")
    out["discriminate"] = [f"pbf_discriminate_{ds}_roc_plot", f"pbf_discriminate_{ds}_shap_plot"]

    d = folder("calibrate")
    (d / "calibrate_summary.json").write_text(
        json.dumps(
            {"auroc_raw": 0.97, "auroc_calibrated": 0.55, "matched_r_raw": 0.91, "matched_r_calibrated": 0.96}
        )
    )
    write_mqc_table(
        d,
        f"pbf_calibrate_{ds}_before_after",
        f"Calibration ({ds})",
        "",
        __import__("pandas").DataFrame({"AUROC": [0.97, 0.55]}, index=[f"{ds} raw", f"{ds} calibrated"]),
    )
    out["calibrate"] = [f"pbf_calibrate_{ds}_before_after_plot"]

    d = folder("ssl")
    (d / "ssl_summary.json").write_text(
        json.dumps(
            {
                "first_match": [
                    {
                        "model": "scarf_probe",
                        "family": "ssl",
                        "first_fraction": 0.2,
                        "best_baseline": "xgboost",
                    },
                    {
                        "model": "xgboost",
                        "family": "baseline",
                        "first_fraction": 0.5,
                        "best_baseline": "xgboost",
                    },
                    {
                        "model": "vime_probe",
                        "family": "ssl",
                        "first_fraction": None,
                        "best_baseline": "xgboost",
                    },
                ]
            }
        )
    )
    write_mqc(
        d,
        f"pbf_ssl_{ds}_curves",
        f"Label fraction ({ds})",
        "",
        "linegraph",
        {"scarf_probe": {0.1: 0.6, 1.0: 0.9}, "xgboost": {0.1: 0.5, 1.0: 0.92}},
    )
    out["ssl"] = [f"pbf_ssl_{ds}_curves_plot"]
    return out


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory) -> tuple[Path, dict[str, dict[str, list[str]]]]:
    """A results folder: real simulate → qc → pseudobulk for two datasets, stand-ins for the later stages."""
    root = tmp_path_factory.mktemp("report")
    results = root / "results"
    expected: dict[str, dict[str, list[str]]] = {}
    for i, ds in enumerate(DATASETS):
        sim = root / f"sim_{ds}"
        stage_main(
            "simulate",
            [
                "--outdir",
                sim,
                "--n-donors",
                4,
                "--cells-per-sample",
                60,
                "--n-genes",
                300,
                "--dataset",
                ds,
                "--seed",
                7 + i,
            ],
        )
        sheet = sim / "samplesheet.csv"
        qc = results / "qc" / ds
        stage_main("qc", ["--input", sheet, "--dataset", ds, "--outdir", qc])
        stage_main(
            "pseudobulk",
            [
                "--input",
                sheet,
                "--dataset",
                ds,
                "--cell-qc",
                qc / "cell_qc.tsv.gz",
                "--bulk-qc",
                qc / "bulk_qc.tsv",
                "--outdir",
                results / "pseudobulk" / ds,
            ],
        )
        expected[ds] = fake_stage_outputs(results, ds) if ds == "simA" else {}
    (results / "pipeline_info").mkdir()
    (results / "pipeline_info" / "params_2026-01-01.json").write_text(
        json.dumps({"input": "x.csv", "seed": 42})
    )
    return results, expected


@pytest.fixture(scope="session")
def report_run(results_dir):
    """``pbfidelity report`` run once on ``results_dir`` (with a screenshot when chromium is present)."""
    from pbfidelity.report.browser import find_chromium

    results, expected = results_dir
    argv = [
        "--results",
        results,
        "--outdir",
        results / "report",
        "--multiqc-outdir",
        results / "multiqc",
        "--param",
        "label_column=phenotype",
        "--export-plots",
    ]
    if find_chromium():
        argv.append("--screenshot")
    assert stage_main("report", argv) == 0
    return results, expected


@pytest.fixture
def stage():
    """``stage(name, argv)``: run one stage in-process through its own CLI adapter."""
    return stage_main


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The demo: ``pbfidelity simulate`` (6 donors) then ``pbfidelity run`` (every stage that needs no extra
    input), run once per session in a subprocess as a user would; returns the results folder."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("demo")

    def pbf(*args) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "pbfidelity", *map(str, args)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-3000:]

    pbf(
        "simulate",
        "--outdir",
        root / "in",
        "--n-donors",
        6,
        "--cells-per-sample",
        60,
        "--n-genes",
        300,
        "--dataset",
        "demo",
    )
    pbf(
        "run",
        "--input",
        root / "in" / "samplesheet.csv",
        "--outdir",
        root / "res",
        "--no-progress",
        "--quiet",
    )
    return root / "res"
