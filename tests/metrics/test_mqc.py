import subprocess
import sys

import pytest

from pbfidelity.metrics.analysis import MetricsParams, compute_metrics
from pbfidelity.metrics.mqc import safe_id, write_metrics_mqc
from pbfidelity.metrics.selection import primary_comparison


def test_safe_id():
    assert safe_id("cellbench mix-5") == "cellbench_mix_5"


@pytest.mark.slow
def test_multiqc_parses_every_section(toy, tmp_path):
    res = compute_metrics(primary_comparison(toy), MetricsParams(n_permutations=19, n_components=3))
    paths = write_metrics_mqc(tmp_path, res)
    proc = subprocess.run(
        [sys.executable, "-m", "multiqc", str(tmp_path), "-o", str(tmp_path / "mqc"), "--no-data-dir", "-f"],
        capture_output=True,
        text=True,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "broke" not in log, log[-3000:]
    for p in paths:
        assert p.name.removesuffix("_mqc.yaml") in log, p.name
