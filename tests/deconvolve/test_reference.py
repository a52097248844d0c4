"""Reference profiles: per-cell means, shared single-cell samples counted once, leave-donor-out; markers."""

import numpy as np
import pandas as pd
import pytest

from pbfidelity.deconvolve.reference import (
    LeaveDonorOut,
    build_reference,
    celltype_table,
    row_keys,
    select_markers,
)


def _ct(counts, rows):
    obs = pd.DataFrame(rows)
    obs["dataset"] = "d"
    return np.asarray(counts, float), celltype_table(obs, "d")


def test_per_cell_means_and_leave_donor_out():
    counts = [[10, 0, 10], [40, 0, 0], [0, 30, 10], [0, 60, 0]]
    rows = [
        {"sample": "S1", "donor": "A", "cell_type": "t1", "n_cells": 10},
        {"sample": "S2", "donor": "B", "cell_type": "t1", "n_cells": 20},
        {"sample": "S1", "donor": "A", "cell_type": "t2", "n_cells": 10},
        {"sample": "S2", "donor": "B", "cell_type": "t2", "n_cells": 30},
    ]
    x, t = _ct(counts, rows)
    ref = build_reference(x, t, np.array(["g1", "g2", "g3"]))
    assert list(ref.cell_types) == ["t1", "t2"] and list(ref.n_cells) == [30, 40]
    raw = np.array([[50 / 30, 0, 10 / 30], [0, 90 / 40, 10 / 40]])
    # one scale for every type: the ratio of types' per-cell totals is kept
    assert np.allclose(ref.profiles / ref.profiles.sum(), raw / raw.sum())
    loo = build_reference(x, t, np.array(["g1", "g2", "g3"]), exclude_donors={"A"})
    assert loo.donors == ("B",) and list(loo.n_cells) == [20, 30]
    assert np.allclose(loo.profiles[0] / loo.profiles[0].sum(), [1, 0, 0])


def test_shared_single_cell_sample_counted_once():
    # one suspension feeding two pools: identical per-type rows under two donors
    counts = [[5, 5], [5, 5], [0, 9], [0, 9]]
    rows = [
        {"sample": p, "donor": p, "cell_type": ct, "n_cells": 3} for ct in ("a", "b") for p in ("P1", "P2")
    ]
    x, t = _ct(counts, rows)
    ref = build_reference(x, t, np.array(["g1", "g2"]))
    assert list(ref.n_cells) == [3, 3]


def test_leave_donor_out_references_equal_summing_anew():
    """LeaveDonorOut (sums once, subtracts the left-out donors' rows: linear in donors) equals build_reference
    summed anew for every left-out set: a suspension shared by two donors still counts once when one of them is
    left out, a type held only by left-out donors disappears, donors and cell numbers follow."""
    rng = np.random.default_rng(0)
    rows = [{"sample": f"S{d}", "donor": f"D{d}", "cell_type": ct, "n_cells": 5 + d} for d in range(6) for ct in "ab"]
    rows += [{"sample": "S9", "donor": "D1", "cell_type": "a", "n_cells": 5}]  # D0's 'a' suspension, also in D1
    rows += [{"sample": "S5", "donor": "D5", "cell_type": "c", "n_cells": 7}]  # a type only D5 has
    counts = rng.poisson(5, (len(rows), 40)).astype(float)
    counts[12] = counts[0]
    x, t = _ct(counts, rows)
    genes = np.array([f"g{i}" for i in range(40)])
    lodo = LeaveDonorOut(x, t, genes)
    keys = row_keys(x, t)
    for excl in (set(), {"D0"}, {"D1"}, {"D0", "D1"}, {"D5"}, {"D1", "D2"}):
        a = build_reference(x, t, genes, excl)
        b = lodo.reference(excl)
        c = build_reference(x, t, genes, excl, keys=keys)
        for r in (b, c):
            assert list(r.cell_types) == list(a.cell_types) and r.donors == a.donors, excl
            assert np.array_equal(r.profiles, a.profiles) and list(r.n_cells) == list(a.n_cells), excl
    assert "c" not in lodo.reference({"D5"}).cell_types
    # D0 left out: the shared suspension stays through D1, counted once
    assert lodo.reference({"D0"}).n_cells[0] == sum(5 + d for d in range(1, 6)) + 5


def test_markers_found_and_universe_respected():
    rng = np.random.default_rng(0)
    genes = np.array([f"g{i}" for i in range(300)])
    prof = np.repeat(rng.lognormal(3, 1, size=(1, 300)), 3, axis=0)
    for k in range(3):
        prof[k, k * 20 : (k + 1) * 20] *= 10
    from pbfidelity.deconvolve.reference import Reference

    ref = Reference(np.array(["a", "b", "c"]), genes, prof, np.ones(3, int), ("D",))
    m = select_markers(ref, n_per_type=20)
    assert set(m) == set(genes[:60])
    allowed = genes[10:300]
    m2 = select_markers(ref, n_per_type=20, universe=allowed)
    assert not set(m2) & set(genes[:10]) and set(genes[10:60]) <= set(m2)


def test_missing_columns_is_a_user_error():
    from pbfidelity.errors import UserError

    with pytest.raises(UserError, match="cell_type"):
        celltype_table(pd.DataFrame({"dataset": ["d"], "sample": ["s"], "donor": ["x"], "n_cells": [3]}), "d")
