import numpy as np
import pandas as pd

from pbfidelity.metrics.attributes import attribute_bias


def test_mito_bias_and_de_enrichment_detected():
    rng = np.random.default_rng(0)
    n = 400
    genes = pd.Index([f"MT-{i}" if i < 40 else f"G{i}" for i in range(n)])
    bias = pd.DataFrame(
        {
            "log2_bias": rng.normal(0, 0.2, n),
            "mean_logcpm": rng.uniform(0, 8, n),
            "detection_bulk": rng.uniform(0, 1, n),
            "detection_pseudobulk": rng.uniform(0, 1, n),
        },
        index=genes,
    )
    bias.iloc[:40, 0] += 2.0
    de = pd.DataFrame({"gene": genes, "direction": ["bulk_up"] * 30 + ["ns"] * (n - 30)})
    attrs = pd.DataFrame(
        {
            "symbol": genes,
            "gene_type": "protein-coding",
            "chromosome": None,
            "length": rng.uniform(500, 5000, n),
            "is_mito": genes.str.startswith("MT-"),
            "is_ribo": False,
        },
        index=genes,
    )
    cats, tests = attribute_bias(bias, de, attrs)
    mito = tests.set_index("attribute").loc["mitochondrial"]
    assert mito["bias_p"] < 1e-10 and mito["de_p"] < 1e-10
    row = cats[(cats["attribute"] == "mitochondrial") & (cats["category"] == "mito")].iloc[0]
    assert row["n_bulk_up"] == 30 and row["de_fisher_p"] < 1e-10
    assert {"expression_level", "detection_rate", "gene_length"} <= set(tests["attribute"])
    assert tests.set_index("attribute").loc["gene_length", "bias_p"] > 0.001  # length unrelated here
