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


def test_gene_means_discordant_genes_are_their_own_series():
    import numpy as np
    import pandas as pd

    from pbfidelity.metrics.mqc import GENE_SERIES, gene_mean_points

    genes = [f"G{i}" for i in range(3000)]
    rng = np.random.default_rng(0)
    bias = pd.DataFrame(
        {
            "gene": genes,
            "mean_logcpm_bulk": rng.normal(5, 1, 3000),
            "mean_logcpm_pseudobulk": rng.normal(5, 1, 3000),
        }
    )
    direction = ["bulk_up"] * 7 + ["pseudobulk_up"] * 4 + ["ns"] * 2989
    de = pd.DataFrame({"gene": genes, "direction": direction})
    data = gene_mean_points(bias, de, max_concordant=500)
    up_b, up_p, ns = (GENE_SERIES[k][0] for k in ("bulk_up", "pseudobulk_up", "ns"))
    assert set(data) == {up_b, up_p, ns}
    assert [p["name"] for p in data[up_b]] == genes[:7] and len(data[up_p]) == 4 and len(data[ns]) == 500
    assert {p["group"] for p in data[up_b]} == {up_b} and {p["color"] for p in data[up_b]} == {"#d62728"}
    first = data[up_b][0]
    assert first["x"] == round(bias.loc[0, "mean_logcpm_bulk"], 4)
    assert first["y"] == round(bias.loc[0, "mean_logcpm_pseudobulk"], 4)
    # no discordant gene: no discordant series (a null shows no highlighted genes)
    null = gene_mean_points(bias, de.assign(direction="ns"), max_concordant=500)
    assert set(null) == {ns}


def test_pca_axis_labels_and_modality_legend():
    import pandas as pd

    from pbfidelity.metrics.mqc import axis_label, modality_points

    assert axis_label("PC1", 0.4134) == "PC1 (41.3% of variance)"
    assert axis_label("PC2", float("nan")) == "PC2" and axis_label("PC2", None) == "PC2"
    scores = pd.DataFrame(
        {
            "profile": ["b1", "b2", "p1"],
            "comp1": [1.0, 2.0, 3.0],
            "comp2": [0.0, 0.5, -1.0],
            "modality": ["bulk", "bulk", "pseudobulk"],
        }
    )
    pts = modality_points(scores)
    assert set(pts) == {"bulk", "pseudo-bulk"}
    assert [p["name"] for p in pts["bulk"]] == ["b1", "b2"] and pts["pseudo-bulk"][0][
        "group"
    ] == "pseudo-bulk"
