import math

from pbfidelity.metrics.overlap import selection_overlap


def test_precision_recall_f1():
    r = selection_overlap(
        ["a", "b", "c", "x"], ["a", "b", "c", "d"], list("abcdxyz") + [f"u{i}" for i in range(50)]
    )
    assert (r["n_overlap"], r["precision"], r["recall"]) == (3, 0.75, 0.75)
    assert math.isclose(r["f1"], 0.75) and r["hypergeom_p"] < 0.01
    empty = selection_overlap([], ["a"], ["a", "b"])
    assert math.isnan(empty["precision"]) and empty["recall"] == 0.0 if empty["n_selected"] else True
    assert selection_overlap(["z"], ["a"], ["a"])["n_selected"] == 0  # outside the universe
