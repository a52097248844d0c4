"""The report in a real browser: headless Chromium loads it off-line, logs no JavaScript error, and a
screenshot is kept (``$PBF_TEST_ARTIFACTS``, default ``results/test-artifacts/report/``, git-ignored)."""

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
        "<script>undefinedFunctionCall();</script></body></html>"
    )
    res = render(page, tmp_path / "broken.png", settle_s=0.5)
    assert (tmp_path / "broken.png").exists()
    assert any("Uncaught" in e and "undefinedFunctionCall" in e for e in res.errors), res.errors
    assert any("boom from console" in e for e in res.errors), res.errors
    assert res.remote_requests == ["http://example.invalid/pixel.png"]
