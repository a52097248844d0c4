import torch

from pbfidelity.ssl.losses import byol_loss, nt_xent, vime_loss


def test_nt_xent_lower_for_identical_views_than_unrelated_views():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(32, 16, generator=g)
    other = torch.randn(32, 16, generator=g)
    same = nt_xent(z, z, 0.5)
    diff = nt_xent(z, other, 0.5)
    assert same.ndim == 0 and same < diff
    assert torch.isclose(nt_xent(z, other, 0.5), nt_xent(other, z, 0.5))  # symmetric in the two views


def test_nt_xent_is_scale_invariant_and_lower_bounded():
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    assert torch.isclose(nt_xent(z, z), nt_xent(3 * z, z))
    assert nt_xent(z, z) >= 0


def test_byol_loss_range_and_no_gradient_to_target():
    p = torch.randn(10, 8, requires_grad=True)
    z = torch.randn(10, 8, requires_grad=True)
    assert torch.isclose(byol_loss(p, p.detach()), torch.tensor(0.0), atol=1e-6)
    assert torch.isclose(byol_loss(p, -p.detach()), torch.tensor(4.0), atol=1e-5)
    byol_loss(p, z).backward()
    assert p.grad is not None and z.grad is None


def test_vime_loss_combines_bce_and_weighted_mse():
    logits, recon = torch.zeros(4, 5), torch.ones(4, 5)
    mask, x = torch.ones(4, 5), torch.zeros(4, 5)
    total, bce, mse = vime_loss(logits, recon, mask, x, alpha=2.0)
    assert torch.isclose(bce, torch.log(torch.tensor(2.0)))
    assert torch.isclose(mse, torch.tensor(1.0))
    assert torch.isclose(total, bce + 2.0 * mse)
