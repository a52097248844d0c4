import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pbfidelity.pseudobulk.aggregate import aggregate, aggregate_stream
from pbfidelity.pseudobulk.weights import group_weights


@st.composite
def sparse_counts(draw):
    n_cells = draw(st.integers(1, 60))
    n_genes = draw(st.integers(1, 25))
    density = draw(st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    dense = rng.integers(0, 50, size=(n_cells, n_genes)) * (rng.random((n_cells, n_genes)) < density)
    n_groups = draw(st.integers(1, 6))
    labels = rng.integers(-1, n_groups, size=n_cells)  # -1 = cell in no group (e.g. failed QC)
    chunk = draw(st.integers(1, 70))
    return sp.csr_matrix(dense), labels, n_groups, chunk


def _groups(labels, n_groups):
    return [np.flatnonzero(labels == g) for g in range(n_groups)]


@settings(max_examples=80, deadline=None)
@given(sparse_counts())
def test_sums_equal_summed_cells_gene_by_gene(case):
    X, labels, n_groups, chunk = case
    W = group_weights(_groups(labels, n_groups), X.shape[0])
    expected = np.vstack([X.toarray()[labels == g].sum(axis=0) for g in range(n_groups)])
    np.testing.assert_array_equal(aggregate(X, W), expected)
    chunks = ((s, X[s:s + chunk]) for s in range(0, X.shape[0], chunk))
    np.testing.assert_array_equal(aggregate_stream(chunks, W, X.shape[1]), expected)  # exact on integers


@settings(max_examples=40, deadline=None)
@given(sparse_counts(), st.integers(1, 4))
def test_cell_type_pseudobulks_add_up_to_sample(case, n_types):
    X, labels, n_groups, _ = case
    rng = np.random.default_rng(0)
    types = rng.integers(0, n_types, size=X.shape[0])
    per_sample = aggregate(X, group_weights(_groups(labels, n_groups), X.shape[0]))
    for g in range(n_groups):
        sub = [np.flatnonzero((labels == g) & (types == t)) for t in range(n_types)]
        per_type = aggregate(X, group_weights(sub, X.shape[0]))
        np.testing.assert_array_equal(per_type.sum(axis=0), per_sample[g])


def test_mean_weights():
    X = sp.csr_matrix(np.array([[2, 0], [4, 6], [1, 1]]))
    W = group_weights([np.array([0, 1]), np.array([2])], 3, mean=True)
    np.testing.assert_allclose(aggregate(X, W), [[3, 3], [1, 1]])


def test_shared_counts_and_integer_rounding_in_row_steps_equal_one_shot():
    """Per-cell-type and control profiles move into the harmonised genes and are rounded in row steps; with ids
    that collapse (summed) and a column subset the result equals the one-shot product exactly."""
    import scipy.sparse as sp

    from pbfidelity.pseudobulk import build
    from pbfidelity.pseudobulk.profiles import ROW_STEP, integer_counts

    rng = np.random.default_rng(7)
    blocks = [rng.poisson(30.0, size=(n, 60)).astype(np.float64) for n in (ROW_STEP + 3, 5, 2 * ROW_STEP)]
    cols = rng.permutation(60) % 45  # 60 old ids onto 45 new ones: some are summed
    collapse = sp.csr_matrix((np.ones(60), (np.arange(60), cols)), shape=(60, 45))
    keep = np.sort(rng.choice(45, size=30, replace=False))
    want = np.asarray(np.vstack(blocks) @ collapse)[:, keep]
    got = np.vstack([part for _, part in build._shared_counts(blocks, collapse, keep)])
    np.testing.assert_array_equal(got, want)
    sub = np.sort(rng.choice(30, size=12, replace=False))
    np.testing.assert_array_equal(integer_counts(got + 0.2, sub), np.rint(got[:, sub] + 0.2).astype(np.int64))
    np.testing.assert_array_equal(integer_counts(got), np.rint(got).astype(np.int64))
