import torch

from pbfidelity.ssl.corruption import scarf_corrupt, vime_corrupt


def _pool(n=50, d=30):
    # distinct values per gene so a draw identifies the column it came from
    return torch.arange(n * d, dtype=torch.float32).reshape(n, d) + 0.5


def test_scarf_replaces_exact_fraction_from_the_gene_marginal():
    pool = _pool()
    x = -torch.ones(8, 30)
    out = scarf_corrupt(x, pool, 0.4, torch.Generator().manual_seed(0))
    changed = out != x
    assert out.shape == x.shape
    assert (changed.sum(1) == 12).all()  # round(0.4 * 30) genes per row
    for j in range(30):  # every replacement is a value of the same gene in the pool
        assert set(out[changed[:, j], j].tolist()) <= set(pool[:, j].tolist())


def test_scarf_rate_zero_is_identity_and_generator_reproducible():
    pool, x = _pool(), torch.randn(5, 30)
    assert torch.equal(scarf_corrupt(x, pool, 0.0, torch.Generator().manual_seed(1)), x)
    a = scarf_corrupt(x, pool, 0.5, torch.Generator().manual_seed(2))
    b = scarf_corrupt(x, pool, 0.5, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


def test_vime_mask_marks_changed_values_at_the_mask_rate():
    pool = _pool(200, 40)
    x = -torch.ones(200, 40)
    out, mask = vime_corrupt(x, pool, 0.3, torch.Generator().manual_seed(0))
    assert mask.shape == x.shape and set(mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(mask.bool(), out != x)
    assert abs(mask.mean().item() - 0.3) < 0.03
    for j in range(40):
        assert set(out[mask[:, j].bool(), j].tolist()) <= set(pool[:, j].tolist())
