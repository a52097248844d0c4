"""Configurations of the ssl stage: ``ci`` (small, fast, for CI and demos) and ``full`` (an analysis run).

Plain dataclasses, no torch: the CLI builds its parser from these without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

METHODS: tuple[str, ...] = ("scarf", "vime", "byol")
"""Self-supervised pre-training methods."""

BASELINES: tuple[str, ...] = ("mlp", "xgboost", "logreg")
"""Supervised baselines on the prepared input features (no pre-training)."""


@dataclass(frozen=True)
class EncoderConfig:
    """MLP encoder: blocks of Linear-BatchNorm-ReLU-Dropout, then a Linear layer to the embedding."""

    hidden: tuple[int, ...] = (256,)
    embedding: int = 64
    dropout: float = 0.1
    projection: int = 64  # SCARF/BYOL projector output size


@dataclass(frozen=True)
class PretrainConfig:
    """Self-supervised pre-training: optimiser, early stopping, corruption and loss settings."""

    max_epochs: int = 200
    patience: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    corruption_rate: float = 0.4  # SCARF/BYOL: fraction of genes replaced by draws from their marginal
    temperature: float = 0.5  # SCARF NT-Xent
    mask_prob: float = 0.3  # VIME Bernoulli mask probability
    alpha: float = 1.0  # VIME weight of the reconstruction loss
    ema_decay: float = 0.99  # BYOL target network
    val_fraction: float = 0.2  # donors of the pre-training split held out for early stopping


@dataclass(frozen=True)
class DownstreamConfig:
    """Label-fraction protocol: folds over donors, label fractions, repeats, supervised heads."""

    folds: int = 3
    fractions: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
    repeats: int = 3
    steps: int = 150  # optimiser steps for fine-tuning and the supervised MLP (same for both)
    batch_size: int = 32
    lr: float = 3e-3
    finetune_lr: float = 1e-3
    weight_decay: float = 1e-4
    xgb_estimators: int = 100
    xgb_depth: int = 3
    match_tolerance: float = 0.01  # "matches" = mean metric >= best baseline's full-label mean - tolerance
    metric: str = "balanced_accuracy"  # the metric used for the "first matching fraction"


@dataclass(frozen=True)
class SSLConfig:
    """Everything the ssl protocol needs besides the data and the seed."""

    name: str = "ci"
    n_genes: int = 512  # top-variance genes (chosen on the pre-training split)
    methods: tuple[str, ...] = METHODS
    baselines: tuple[str, ...] = BASELINES
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    downstream: DownstreamConfig = field(default_factory=DownstreamConfig)

    def to_dict(self) -> dict:
        return asdict(self)


CONFIGS: dict[str, SSLConfig] = {
    "ci": SSLConfig(),
    "full": SSLConfig(
        name="full",
        n_genes=2000,
        encoder=EncoderConfig(hidden=(512, 256), embedding=128, dropout=0.1, projection=128),
        pretrain=PretrainConfig(max_epochs=300, patience=30, batch_size=128),
        downstream=DownstreamConfig(
            folds=5,
            repeats=5,
            steps=300,
            fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
            xgb_estimators=300,
            xgb_depth=4,
        ),
    ),
}


def get_config(name: str, **overrides) -> SSLConfig:
    """A named configuration with overrides by field name (``folds``, ``max_epochs``, ``n_genes``...).

    A name present in several sections (``lr``, ``batch_size``, ``weight_decay``) sets it in each; ``None`` keeps.
    """
    cfg = CONFIGS[name]
    top = {k: v for k, v in overrides.items() if k in SSLConfig.__dataclass_fields__ and v is not None}
    down = {
        k: v for k, v in overrides.items() if k in DownstreamConfig.__dataclass_fields__ and v is not None
    }
    pre = {k: v for k, v in overrides.items() if k in PretrainConfig.__dataclass_fields__ and v is not None}
    unknown = (
        set(overrides) - set(top) - set(down) - set(pre) - {k for k, v in overrides.items() if v is None}
    )
    if unknown:
        raise KeyError(f"unknown ssl config field(s): {sorted(unknown)}")
    return replace(
        cfg,
        **top,
        downstream=replace(cfg.downstream, **down),
        pretrain=replace(cfg.pretrain, **pre),
    )
