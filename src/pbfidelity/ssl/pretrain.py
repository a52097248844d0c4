"""Self-supervised pre-training (SCARF, VIME, BYOL) with early stopping on a validation split.

:func:`pretrain` takes prepared matrices (rows = profiles) and returns the encoder at its best validation
loss, with the per-epoch loss curve. Validation corruptions use a fixed generator so epochs compare.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from pbfidelity.ssl.config import EncoderConfig, PretrainConfig
from pbfidelity.ssl.corruption import scarf_corrupt, vime_corrupt
from pbfidelity.ssl.losses import byol_loss, nt_xent, vime_loss
from pbfidelity.ssl.models import ByolModel, Encoder, ScarfModel, VimeModel
from pbfidelity.ssl.torchutil import generator, sub_seed


@dataclass
class PretrainResult:
    """The encoder at the best validation epoch, its loss curve and timing."""

    method: str
    encoder: Encoder
    history: pd.DataFrame  # epoch, train_loss, val_loss
    best_epoch: int
    seconds: float
    model: torch.nn.Module | None = None  # the whole SSL model (heads included), encoder at its best epoch


def build_model(method: str, n_features: int, cfg: EncoderConfig) -> torch.nn.Module:
    models = {"scarf": ScarfModel, "vime": VimeModel, "byol": ByolModel}
    if method not in models:
        raise ValueError(f"unknown SSL method {method!r}")
    return models[method](n_features, cfg)


def ssl_loss(
    method: str,
    model: torch.nn.Module,
    x: torch.Tensor,
    pool: torch.Tensor,
    cfg: PretrainConfig,
    gen: torch.Generator,
) -> torch.Tensor:
    """One batch's self-supervised loss for ``method``."""
    if method == "scarf":
        return nt_xent(model(x), model(scarf_corrupt(x, pool, cfg.corruption_rate, gen)), cfg.temperature)
    if method == "vime":
        xc, mask = vime_corrupt(x, pool, cfg.mask_prob, gen)
        logits, recon = model(xc)
        return vime_loss(logits, recon, mask, x, cfg.alpha)[0]
    if method == "byol":
        v1 = scarf_corrupt(x, pool, cfg.corruption_rate, gen)
        v2 = scarf_corrupt(x, pool, cfg.corruption_rate, gen)
        return 0.5 * (
            byol_loss(model.online(v1), model.target(v2)) + byol_loss(model.online(v2), model.target(v1))
        )
    raise ValueError(f"unknown SSL method {method!r}")


def _batches(n: int, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=gen)
    out = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(out) > 1 and len(out[-1]) < 2:  # BatchNorm needs two rows
        out[-2] = torch.cat([out[-2], out.pop()])
    return out


def pretrain(
    method: str,
    x_train: np.ndarray,
    x_val: np.ndarray | None,
    enc_cfg: EncoderConfig,
    cfg: PretrainConfig,
    seed: int,
    device: str = "cpu",
) -> PretrainResult:
    """Pre-train ``method`` on ``x_train``; stop when the validation loss has not improved for ``patience``.

    Without a usable validation set (fewer than two rows) it trains for ``max_epochs`` and keeps the last
    encoder. Corruption marginals are drawn from ``x_train`` only.
    """
    t0 = time.perf_counter()
    torch.manual_seed(sub_seed(seed, method, "init"))
    model = build_model(method, x_train.shape[1], enc_cfg).to(device)
    params = model.online_parameters() if method == "byol" else model.parameters()
    params = list(params) + (list(model.predictor.parameters()) if method == "byol" else [])
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    xt = torch.as_tensor(x_train, dtype=torch.float32, device=device)
    xv = (
        torch.as_tensor(x_val, dtype=torch.float32, device=device)
        if x_val is not None and len(x_val) >= 2
        else None
    )
    gen = generator(sub_seed(seed, method, "train"))
    dev_gen = generator(sub_seed(seed, method, "corrupt"), device)
    rows, best, best_state, best_epoch, waited = [], np.inf, None, 0, 0
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        losses = []
        for idx in _batches(len(xt), cfg.batch_size, gen):
            loss = ssl_loss(method, model, xt[idx.to(device)], xt, cfg, dev_gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if method == "byol":
                model.update_target(cfg.ema_decay)
            losses.append(float(loss.detach()))
        val_loss = np.nan
        if xv is not None:
            model.eval()
            with torch.no_grad():
                val_loss = float(
                    ssl_loss(method, model, xv, xt, cfg, generator(sub_seed(seed, "val"), device))
                )
        rows.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss})
        if xv is None:
            continue
        if val_loss < best - 1e-6:
            best, best_epoch, waited = val_loss, epoch, 0
            best_state = copy.deepcopy(model.encoder.state_dict())
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    if best_state is not None:
        model.encoder.load_state_dict(best_state)
    else:
        best_epoch = len(rows)
    encoder = model.encoder.eval()
    return PretrainResult(method, encoder, pd.DataFrame(rows), best_epoch, time.perf_counter() - t0, model)


@torch.no_grad()
def embed(encoder: Encoder, x: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Frozen embeddings of prepared rows ``x`` (encoder in eval mode)."""
    encoder.eval()
    return encoder(torch.as_tensor(x, dtype=torch.float32, device=device)).cpu().numpy().astype(np.float64)
