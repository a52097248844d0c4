"""Downstream classifiers for the label-fraction protocol and their metrics.

SSL models: a linear probe (logistic regression on frozen, standardised embeddings) and a fine-tuned encoder
(+ linear layer). Baselines on the prepared input features: a supervised MLP of the encoder's shape trained
from scratch for the same number of steps as fine-tuning, XGBoost and logistic regression. Every learner is
class-balanced (weights inversely proportional to class frequency in the labelled subset).
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.preprocessing import StandardScaler

from pbfidelity.ssl.config import DownstreamConfig, EncoderConfig

METRICS: tuple[str, ...] = ("accuracy", "macro_f1", "balanced_accuracy")


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, macro-F1 (over all classes) and balanced accuracy."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=list(range(n_classes)), average="macro", zero_division=0)
        ),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return w


def logreg_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, scale: bool) -> np.ndarray:
    """Class-balanced L2 logistic regression (optionally standardising on the training rows)."""
    if scale:
        sc = StandardScaler().fit(x_train)
        x_train, x_test = sc.transform(x_train), sc.transform(x_test)
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
    return model.fit(x_train, y_train).predict(x_test)


def xgboost_predict(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    cfg: DownstreamConfig,
    seed: int,
) -> np.ndarray:
    """Class-balanced XGBoost on prepared features; classes absent from training are never predicted."""
    from xgboost import XGBClassifier

    present = np.unique(y_train)
    remap = {c: i for i, c in enumerate(present)}
    y_local = np.array([remap[c] for c in y_train])
    w = class_weights(y_local, len(present))[y_local]
    model = XGBClassifier(
        n_estimators=cfg.xgb_estimators,
        max_depth=cfg.xgb_depth,
        learning_rate=0.1,
        subsample=0.8,
        colsample_bytree=0.5,
        n_jobs=1,
        random_state=seed,
        tree_method="hist",
        verbosity=0,
    )
    model.fit(x_train, y_local, sample_weight=w)
    return present[np.asarray(model.predict(x_test)).astype(int)]


def train_classifier(
    encoder,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    cfg: DownstreamConfig,
    lr: float,
    seed: int,
    device: str = "cpu",
) -> np.ndarray:
    """Train ``encoder`` + a linear layer end to end for ``cfg.steps`` Adam steps; return test predictions."""
    import torch
    import torch.nn.functional as F

    from pbfidelity.ssl.models import Classifier
    from pbfidelity.ssl.torchutil import generator

    torch.manual_seed(seed)
    model = Classifier(encoder, n_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    xt = torch.as_tensor(x_train, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y_train, dtype=torch.long, device=device)
    w = torch.as_tensor(class_weights(y_train, n_classes), dtype=torch.float32, device=device)
    gen = generator(seed)
    n = len(xt)
    model.train()
    for _ in range(cfg.steps):
        idx = torch.randperm(n, generator=gen)[: cfg.batch_size] if n > cfg.batch_size else torch.arange(n)
        idx = idx.to(device)
        loss = F.cross_entropy(model(xt[idx]), yt[idx], weight=w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x_test, dtype=torch.float32, device=device)).argmax(1).cpu().numpy()


def finetune_predict(encoder, x_train, y_train, x_test, n_classes, cfg: DownstreamConfig, seed, device="cpu"):
    """Fine-tune a copy of a pre-trained encoder (the original stays frozen for other runs)."""
    return train_classifier(
        copy.deepcopy(encoder), x_train, y_train, x_test, n_classes, cfg, cfg.finetune_lr, seed, device
    )


def mlp_predict(
    x_train, y_train, x_test, n_classes, enc_cfg: EncoderConfig, cfg: DownstreamConfig, seed, device="cpu"
):
    """Supervised baseline: a freshly initialised encoder of the same shape, trained like fine-tuning."""
    import torch

    from pbfidelity.ssl.models import Encoder

    torch.manual_seed(seed)
    encoder = Encoder(x_train.shape[1], enc_cfg)
    return train_classifier(encoder, x_train, y_train, x_test, n_classes, cfg, cfg.lr, seed, device)
