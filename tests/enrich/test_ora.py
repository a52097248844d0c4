import numpy as np
from scipy.stats import false_discovery_control, hypergeom

from pbfidelity.enrich.genesets import GeneSets
from pbfidelity.enrich.ora import ora


def test_ora_matches_hypergeometric_and_bh_over_all_sets():
    bg = {f"g{i}" for i in range(200)}
    sets = GeneSets(
        {
            "hit": [f"g{i}" for i in range(20)],
            "miss": [f"g{i}" for i in range(100, 130)],
            "part": [f"g{i}" for i in range(15, 40)],
        },
        {"hit": "H", "miss": "M", "part": "P"},
    )
    query = [f"g{i}" for i in range(18)] + ["g150", "notinbg"]
    t = ora(query, bg, sets).set_index("term")
    assert t.loc["hit", "overlap"] == 18 and t.loc["hit", "n_query"] == 19 and t.loc["hit", "name"] == "H"
    assert np.isclose(t.loc["hit", "pvalue"], hypergeom.sf(17, 200, 20, 19))
    assert t.loc["miss", "pvalue"] == 1.0 and t.loc["miss", "genes"] == ""
    assert np.allclose(t["padj"], false_discovery_control(t["pvalue"].to_numpy()))
    assert t.loc["hit", "genes"].split(";") == sorted(f"g{i}" for i in range(18))


def test_empty_query_gives_p_one():
    sets = GeneSets({"a": ["x", "y"]}, {"a": "A"})
    t = ora([], {"x", "y", "z"}, sets)
    assert t["pvalue"].tolist() == [1.0] and t["overlap"].tolist() == [0]
