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


def test_order_statistics_keep_the_box_of_many_pair_correlations():
    import numpy as np

    from pbfidelity.metrics.mqc import order_statistics

    rng = np.random.default_rng(0)
    values = rng.beta(20, 2, size=200_000)
    thin = order_statistics(values, 2000)
    assert len(thin) == 2000 and thin[0] == values.min() and thin[-1] == values.max()
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):  # the box and whiskers move by less than one spacing
        assert abs(np.quantile(thin, q) - np.quantile(values, q)) < 2e-3
    few = rng.normal(size=50)
    assert np.array_equal(order_statistics(few, 2000), np.sort(few))  # small kinds: every value


def test_large_cohorts_thin_the_box_and_heatmap_and_say_so(toy, tmp_path, monkeypatch):
    import numpy as np
    import yaml

    import pbfidelity.metrics.mqc as mqc

    res = compute_metrics(primary_comparison(toy), MetricsParams(n_permutations=19, n_components=3))
    (tmp_path / "full").mkdir()
    (tmp_path / "thin").mkdir()
    full = write_metrics_mqc(tmp_path / "full", res)
    monkeypatch.setattr(mqc, "BOX_MAX_VALUES", 10)
    monkeypatch.setattr(mqc, "HEATMAP_MAX_PROFILES", 6)
    thin = write_metrics_mqc(tmp_path / "thin", res)
    assert [p.name for p in full] == [p.name for p in thin]
    load = {p.parent.name + "/" + p.name.split("_toy_")[1]: yaml.safe_load(p.read_text())
            for p in full + thin if p.suffix == ".yaml"}
    box_full, box_thin = load["full/matched_box_mqc.yaml"], load["thin/matched_box_mqc.yaml"]
    n_unmatched = len(box_full["data"]["unmatched"])
    assert n_unmatched > 10 and len(box_thin["data"]["unmatched"]) == 10
    assert len(box_thin["data"]["matched"]) == 8  # 8 matched pairs: all shown
    assert "every pair is in correlation_pairs.tsv" in box_thin["description"]
    assert "every pair" not in box_full["description"]
    heat_full, heat_thin = load["full/heatmap_mqc.yaml"], load["thin/heatmap_mqc.yaml"]
    assert len(heat_full["xcats"]) == 16 and len(heat_thin["xcats"]) == 6
    # three whole donors (bulk and pseudo-bulk of each), values as in the full matrix
    donor_of = dict(zip(map(str, res.profiles), res.donors, strict=True))
    shown = [donor_of[c] for c in heat_thin["xcats"]]
    assert len(set(shown)) == 3 and all(shown.count(d) == 2 for d in set(shown))
    pos = {c: i for i, c in enumerate(heat_full["xcats"])}
    for i, a in enumerate(heat_thin["xcats"]):
        for j, b in enumerate(heat_thin["xcats"]):
            assert heat_thin["data"][i][j] == heat_full["data"][pos[a]][pos[b]]
    assert "6 primary profiles of 3 evenly spaced donors (of 16 profiles" in heat_thin["description"]
    assert np.isfinite(np.asarray(heat_thin["data"], float)).all()
