"""Self-supervised losses: NT-Xent (SCARF), mask + reconstruction (VIME), normalised MSE (BYOL)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Normalised-temperature cross entropy over the 2N views of a batch (SimCLR form).

    Row ``i`` of ``z1`` and of ``z2`` are positives; all other 2N - 2 views are negatives.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def vime_loss(
    mask_logits: torch.Tensor, recon: torch.Tensor, mask: torch.Tensor, x: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``BCE(mask estimate, mask) + alpha * MSE(reconstruction, original)``; returns (total, bce, mse)."""
    bce = F.binary_cross_entropy_with_logits(mask_logits, mask)
    mse = F.mse_loss(recon, x)
    return bce + alpha * mse, bce, mse


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``2 - 2 cos(p, z)`` averaged over the batch; ``z`` (the target) carries no gradient."""
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()
