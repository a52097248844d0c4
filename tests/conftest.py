"""Shared fixtures: the real data folder (../shared/data) and a CLI runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pbfidelity.cli import dispatch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests using it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (present in CI beside the checkout)")
    return SHARED_DATA


def run_cli(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``pbfidelity ARGS`` in a subprocess, exactly as a user or a Nextflow module would."""
    proc = subprocess.run(
        [sys.executable, "-m", "pbfidelity", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"pbfidelity {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli


def build_sim_profiles(
    root: Path, null: bool, n_replicates: int = 2, seed: int = 42, extra: list[str] | None = None
) -> tuple[Path, dict]:
    """Default-size simulation through the real stages (simulate, qc, pseudobulk with bootstrap
    pseudo-replicates); returns the profiles path and the ground truth."""
    inp, qc, pb = root / "input", root / "qc", root / "pseudobulk"
    dispatch(["simulate", "--outdir", str(inp), "--seed", str(seed), "-q", *(["--null"] if null else []),
              *(extra or [])])
    dispatch(["qc", "--input", str(inp / "samplesheet.csv"), "--outdir", str(qc), "-q"])
    dispatch(["pseudobulk", "--input", str(inp / "samplesheet.csv"), "--cell-qc", str(qc / "cell_qc.tsv.gz"),
              "--bulk-qc", str(qc / "bulk_qc.tsv"), "--n-replicates", str(n_replicates), "--outdir", str(pb), "-q"])
    return pb / "profiles.h5ad", json.loads((inp / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def sim_planted(tmp_path_factory) -> tuple[Path, dict]:
    """Planted-distortion simulation (default size, two pseudo-replicates per sample), built once per session."""
    return build_sim_profiles(tmp_path_factory.mktemp("sim_planted"), null=False)


@pytest.fixture(scope="session")
def sim_null(tmp_path_factory) -> tuple[Path, dict]:
    """Null simulation (no planted distortion), built once per session."""
    return build_sim_profiles(tmp_path_factory.mktemp("sim_null"), null=True)


@pytest.fixture(scope="session")
def sim_hard(tmp_path_factory) -> tuple[Path, dict]:
    """The ``hard`` preset (default size, two pseudo-replicates per sample): planted-recovery tests run here, where
    a weaker method fails the thresholds (built once per session)."""
    return build_sim_profiles(tmp_path_factory.mktemp("sim_hard"), null=False, extra=["--preset", "hard"])


@pytest.fixture(scope="session")
def cellbench_profiles(shared_data, tmp_path_factory) -> dict[str, Path]:
    """CellBench through the real stages: recipe, qc and proportion-matched pseudo-bulk with two bootstrap
    pseudo-replicates per pool (gene annotation for mito/ribo). Returns the input folder and profiles path."""
    root = tmp_path_factory.mktemp("cellbench")
    ann = shared_data / "genesets" / "human_gene_annotation.tsv.gz"
    inp, qc, pb = root / "input", root / "qc", root / "pb"
    sheet = str(inp / "samplesheet.csv")
    dispatch(["recipe", "cellbench", "--data-dir", str(shared_data / "cellbench"), "--outdir", str(inp), "-q"])
    dispatch(["qc", "--input", sheet, "--outdir", str(qc), "--gene-annotation", str(ann), "-q"])
    dispatch(["pseudobulk", "--input", sheet, "--cell-qc", str(qc / "cell_qc.tsv.gz"), "--bulk-qc",
              str(qc / "bulk_qc.tsv"), "--proportions", str(inp / "proportions.tsv"), "--gene-annotation", str(ann),
              "--n-replicates", "2", "--outdir", str(pb), "-q"])
    return {"input": inp, "profiles": pb / "profiles.h5ad", "annotation": ann}


#: seeds of the multi-seed exchangeable-null runs (``@pytest.mark.parametrize("cellbench_null_profiles",
#: NULL_SEEDS, indirect=True)``)
NULL_SEEDS = (1, 2, 3, 4, 5)


@pytest.fixture(scope="session")
def cellbench_null_profiles(request, shared_data, tmp_path_factory) -> dict:
    """The CellBench exchangeable null through the real stages: ``recipe cellbench --exchangeable-null`` (each
    pool's "bulk" drawn with the pool's cell-line numbers from the same CEL-seq2 cells the pseudo-bulk uses),
    qc and proportion-matched pseudo-bulk with two pseudo-replicates per pool, as for ``cellbench_profiles``.

    Seed 42 by default; parametrise indirectly for other seeds (the recipe and the pseudo-bulk stage both use
    it, with different random streams). Returns input folder, profiles path, annotation, dataset and seed.
    """
    seed = int(getattr(request, "param", 42))
    root = tmp_path_factory.mktemp(f"cellbench_null_{seed}")
    ann = shared_data / "genesets" / "human_gene_annotation.tsv.gz"
    inp, qc, pb = root / "input", root / "qc", root / "pb"
    sheet = str(inp / "samplesheet.csv")
    dispatch(["recipe", "cellbench", "--data-dir", str(shared_data / "cellbench"), "--outdir", str(inp),
              "--exchangeable-null", "--seed", str(seed), "-q"])
    dispatch(["qc", "--input", sheet, "--outdir", str(qc), "--gene-annotation", str(ann), "-q"])
    dispatch(["pseudobulk", "--input", sheet, "--cell-qc", str(qc / "cell_qc.tsv.gz"), "--bulk-qc",
              str(qc / "bulk_qc.tsv"), "--proportions", str(inp / "proportions.tsv"), "--gene-annotation", str(ann),
              "--n-replicates", "2", "--seed", str(seed), "--outdir", str(pb), "-q"])
    return {"input": inp, "profiles": pb / "profiles.h5ad", "annotation": ann,
            "dataset": "cellbench_cellmix5_null", "seed": seed}
