"""The report in a real browser: headless Chromium loads it off-line, logs no JavaScript error, draws every plot
without a click and shows no "lot of samples" banner; full-page screenshots of the demo and CellBench reports
are kept (``$PBF_TEST_ARTIFACTS``, default ``results/test-artifacts/report/``, git-ignored)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pbfidelity.report.browser import find_chromium, render

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PBF_TEST_ARTIFACTS", ROOT / "results" / "test-artifacts")) / "report"

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="no chromium executable (make test installs Debian 'chromium' with apt-get when it can)",
)


@needs_chromium
def test_report_renders_without_js_errors(report_run):
    results, _ = report_run
    summary = json.loads((results / "report" / "report_summary.json").read_text())
    shot = summary["screenshot"]  # taken by `pbfidelity report --screenshot`
    assert shot["js_errors"] == [] and shot["remote_requests"] == []
    png = Path(shot["path"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    # render again here, independently of the stage, and keep the screenshot as a CI artefact
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    res = render(results / "multiqc" / "multiqc_report.html", ARTIFACTS / "multiqc_report.png")
    (ARTIFACTS / "browser_log.json").write_text(
        json.dumps({"errors": res.errors, "requests": res.requests, "title": res.title}, indent=2)
    )
    shutil.copy2(png, ARTIFACTS / "multiqc_report_stage.png")
    assert res.errors == [], res.errors
    assert res.remote_requests == [], f"report is not self-contained: {res.remote_requests}"
    assert res.title.startswith("pbfidelity") and res.n_plots >= 1


@needs_chromium
def test_detector_catches_errors_and_remote_requests(tmp_path):
    """Negative control: the checks above would fail on a broken or networked page."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><head><title>broken</title></head><body><p>x</p>"
        '<img src="http://example.invalid/pixel.png">'
        "<script>console.error('boom from console');</script>"
        '<div id="mqc-warning-many-samples">contains a lot of samples</div>'
        '<div class="hc-plot"><button class="btn render_plot">Show plot</button></div>'
        "<script>undefinedFunctionCall();</script></body></html>"
    )
    res = render(page, tmp_path / "broken.png", settle_s=0.5)
    assert (tmp_path / "broken.png").exists()
    assert any("Uncaught" in e and "undefinedFunctionCall" in e for e in res.errors), res.errors
    assert any("boom from console" in e for e in res.errors), res.errors
    assert res.remote_requests == ["http://example.invalid/pixel.png"]
    assert res.n_deferred == 1 and res.banner  # a deferred plot and the banner are seen
    (tmp_path / "hidden.html").write_text(
        '<html><body><div id="mqc-warning-many-samples" style="display:none">x</div></body></html>'
    )
    assert not render(tmp_path / "hidden.html", tmp_path / "hidden.png", settle_s=0.2).banner


def _check_in_browser(html: Path, name: str) -> dict:
    """Render ``html`` full page into ARTIFACTS/<name>*.png; assert what a user would see at once."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}*.png"):
        old.unlink()
    res = render(html, ARTIFACTS / f"{name}.png", full_page=True, settle_s=4.0)
    log = {
        "report": str(html),
        "errors": res.errors,
        "remote_requests": res.remote_requests,
        "n_plots": res.n_plots,
        "n_deferred": res.n_deferred,
        "banner": res.banner,
        "page_height": res.page_height,
        "pages": [p.name for p in res.pages],
    }
    (ARTIFACTS / f"{name}_browser.json").write_text(json.dumps(log, indent=2))
    assert res.errors == [] and res.remote_requests == [], log
    assert res.n_deferred == 0, f"{res.n_deferred} plot(s) wait for a click: {log}"
    assert not res.banner, "the 'contains a lot of samples' banner is shown"
    assert res.pages and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in res.pages)
    return log


@needs_chromium
@pytest.mark.slow
def test_demo_report_full_page_without_deferral_or_banner(demo_run):
    """The demo (6 samples, every stage that needs no extra input): nothing deferred, no banner."""
    log = _check_in_browser(demo_run / "multiqc" / "multiqc_report.html", "demo_report")
    assert log["n_plots"] >= 20


@needs_chromium
@pytest.mark.realdata
@pytest.mark.slow
def test_cellbench_report_full_page_without_deferral_or_banner(shared_data, tmp_path):
    """CellBench through the recipe and the embedded runner (21 pools, <= 50 samples): nothing deferred, no
    banner; the full-page screenshot is kept."""
    import subprocess
    import sys

    if not (shared_data / "cellbench").is_dir():
        pytest.skip(f"{shared_data / 'cellbench'} is absent")

    def pbf(*args) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "pbfidelity", *map(str, args)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-3000:]

    inp, res = tmp_path / "in", tmp_path / "res"
    pbf("recipe", "cellbench", "--data-dir", shared_data / "cellbench", "--outdir", inp)
    pbf(
        "run",
        "--input",
        inp / "samplesheet.csv",
        "--outdir",
        res,
        "--no-progress",
        "--quiet",
        "--proportions",
        inp / "proportions.tsv",
    )
    log = _check_in_browser(res / "multiqc" / "multiqc_report.html", "cellbench_report")
    assert log["n_plots"] >= 10
