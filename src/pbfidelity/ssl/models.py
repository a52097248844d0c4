"""PyTorch networks: the MLP encoder, projection/prediction heads, the VIME heads and the BYOL EMA update.

Imports torch at module level: import this module only inside functions of the CLI path.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from pbfidelity.ssl.config import EncoderConfig


def mlp_block(n_in: int, n_out: int, dropout: float) -> nn.Sequential:
    """Linear - BatchNorm - ReLU - Dropout."""
    return nn.Sequential(nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(), nn.Dropout(dropout))


class Encoder(nn.Module):
    """MLP blocks of configurable width and depth, then a Linear layer to the embedding."""

    def __init__(self, n_features: int, cfg: EncoderConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in cfg.hidden:
            layers.append(mlp_block(width, h, cfg.dropout))
            width = h
        layers.append(nn.Linear(width, cfg.embedding))
        self.net = nn.Sequential(*layers)
        self.n_features = n_features
        self.embedding_dim = cfg.embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def head(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    """Two-layer head (Linear - BatchNorm - ReLU - Linear): SCARF/BYOL projector and BYOL predictor."""
    return nn.Sequential(
        nn.Linear(n_in, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out)
    )


class Classifier(nn.Module):
    """Encoder + linear classification layer: the fine-tuned model and the supervised MLP baseline."""

    def __init__(self, encoder: Encoder, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.out = nn.Linear(encoder.embedding_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.encoder(x)))


class ScarfModel(nn.Module):
    """SCARF: encoder + projector; the NT-Xent loss compares a profile with its corrupted view."""

    def __init__(self, n_features: int, cfg: EncoderConfig) -> None:
        super().__init__()
        self.encoder = Encoder(n_features, cfg)
        self.projector = head(cfg.embedding, cfg.embedding, cfg.projection)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))


class VimeModel(nn.Module):
    """VIME self-supervision: encoder + mask estimator (logits) + feature estimator (reconstruction)."""

    def __init__(self, n_features: int, cfg: EncoderConfig) -> None:
        super().__init__()
        self.encoder = Encoder(n_features, cfg)
        self.mask_head = nn.Linear(cfg.embedding, n_features)
        self.feature_head = nn.Linear(cfg.embedding, n_features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.encoder(x))
        return self.mask_head(h), self.feature_head(h)


class ByolModel(nn.Module):
    """BYOL: online encoder + projector + predictor; target encoder + projector updated as an EMA."""

    def __init__(self, n_features: int, cfg: EncoderConfig) -> None:
        super().__init__()
        self.encoder = Encoder(n_features, cfg)
        self.projector = head(cfg.embedding, cfg.embedding, cfg.projection)
        self.predictor = head(cfg.projection, cfg.projection, cfg.projection)
        self.target_encoder = copy.deepcopy(self.encoder)
        self.target_projector = copy.deepcopy(self.projector)
        for p in self.target_parameters():
            p.requires_grad_(False)

    def online_parameters(self):
        yield from self.encoder.parameters()
        yield from self.projector.parameters()

    def target_parameters(self):
        yield from self.target_encoder.parameters()
        yield from self.target_projector.parameters()

    def online(self, x: torch.Tensor) -> torch.Tensor:
        return self.predictor(self.projector(self.encoder(x)))

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        return self.target_projector(self.target_encoder(x))

    @torch.no_grad()
    def update_target(self, decay: float) -> None:
        """``target <- decay * target + (1 - decay) * online`` for every parameter; buffers are copied."""
        for t, o in zip(self.target_parameters(), self.online_parameters(), strict=True):
            t.mul_(decay).add_(o.detach(), alpha=1.0 - decay)
        for t_mod, o_mod in ((self.target_encoder, self.encoder), (self.target_projector, self.projector)):
            for tb, ob in zip(t_mod.buffers(), o_mod.buffers(), strict=True):
                tb.copy_(ob)
