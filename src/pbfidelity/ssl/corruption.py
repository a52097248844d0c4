"""Feature corruptions for self-supervision (rows = profiles, columns = prepared genes).

- :func:`scarf_corrupt`: replace a fixed fraction of each row's genes by draws from that gene's empirical
  marginal in a pool (the pre-training split), as in SCARF (Bahri et al. 2022).
- :func:`vime_corrupt`: Bernoulli mask; masked values are replaced by the same gene in other rows of the
  pool (VIME, Yoon et al. 2020). Returns the corrupted batch and the mask that was actually applied.
Randomness comes only from the explicit ``torch.Generator``.
"""

from __future__ import annotations

import torch


def _marginal_draws(pool: torch.Tensor, n_rows: int, generator: torch.Generator) -> torch.Tensor:
    """For every (row, gene) a value of that gene from a random pool row."""
    n_pool, n_genes = pool.shape
    idx = torch.randint(n_pool, (n_rows, n_genes), generator=generator, device=pool.device)
    return torch.gather(pool, 0, idx)


def scarf_corrupt(
    x: torch.Tensor, pool: torch.Tensor, rate: float, generator: torch.Generator
) -> torch.Tensor:
    """Corrupt exactly ``round(rate * genes)`` genes per row with draws from their marginals in ``pool``."""
    n, d = x.shape
    k = int(round(rate * d))
    if k == 0:
        return x.clone()
    scores = torch.rand((n, d), generator=generator, device=x.device)
    chosen = torch.zeros((n, d), dtype=torch.bool, device=x.device)
    chosen.scatter_(1, torch.topk(scores, k, dim=1).indices, True)
    return torch.where(chosen, _marginal_draws(pool, n, generator), x)


def vime_corrupt(
    x: torch.Tensor, pool: torch.Tensor, mask_prob: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bernoulli(``mask_prob``) mask; masked entries take the gene's value in a random pool row.

    Returns ``(corrupted, mask)`` where ``mask`` is 1 where the value actually changed (a draw equal to the
    original value is not a detectable corruption, so it is not counted as masked).
    """
    m = torch.rand(x.shape, generator=generator, device=x.device) < mask_prob
    draws = _marginal_draws(pool, x.shape[0], generator)
    corrupted = torch.where(m, draws, x)
    return corrupted, (corrupted != x).to(x.dtype)
