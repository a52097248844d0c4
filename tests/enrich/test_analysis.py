import pandas as pd

from pbfidelity.enrich.analysis import EnrichParams, queries, run_enrichment
from pbfidelity.enrich.genesets import read_gmt


def test_planted_processes_top_each_direction(de_files, de_table):
    _, gmt = de_files
    ranked = pd.DataFrame(
        {
            "gene": de_table["gene"][:30],
            "mean_abs_shap": 1.0,
            "direction": ["bulk"] * 20 + ["pseudobulk"] * 10,
        }
    )
    res = run_enrichment(de_table, read_gmt(gmt), ranked, EnrichParams(permutations=200, top_n=3), "toy")
    top = res.top.set_index(["analysis", "query", "rank"])
    assert top.loc[("ora", "bulk_up", 1), "term"] == "UP_SET"
    assert top.loc[("ora", "pseudobulk_up", 1), "term"] == "DOWN_SET"
    assert top.loc[("prerank", "bulk_up", 1), "term"] == "UP_SET"
    assert top.loc[("prerank", "pseudobulk_up", 1), "term"] == "DOWN_SET"
    assert top.loc[("ora", "shap_top", 1), "term"] == "UP_SET"
    assert top.loc[("ora", "bulk_up", 1), "significant"]
    s = res.summary
    assert s["n_background"] == len(de_table) - 5 and s["n_gene_sets_tested"] == 32  # TINY is below min size
    assert s["query_sizes"]["shap_bulk"] == 20 and s["top_processes"]["ora:bulk_up"]["term"] == "UP_SET"
    # random sets rarely pass BH
    rand = res.ora[res.ora["term"].str.startswith("RANDOM")]
    assert (rand["padj"] < 0.05).mean() < 0.1


def test_queries_without_ranked(de_table):
    q = queries(de_table, None)
    assert set(q) == {"bulk_up", "pseudobulk_up"} and len(q["bulk_up"]) > 20
