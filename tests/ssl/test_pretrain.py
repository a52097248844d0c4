import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from pbfidelity.ssl.config import EncoderConfig, PretrainConfig
from pbfidelity.ssl.corruption import vime_corrupt
from pbfidelity.ssl.models import VimeModel
from pbfidelity.ssl.pretrain import embed, pretrain
from pbfidelity.ssl.torchutil import configure_torch

ENC = EncoderConfig(hidden=(32,), embedding=16, dropout=0.0, projection=16)


def _structured(n=256, d=16, seed=0) -> np.ndarray:
    """Two factors, each copied (with noise) into half of the genes: a swapped-in value breaks the pattern."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 2))
    x = f[:, np.arange(d) % 2] + 0.1 * rng.normal(size=(n, d))
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32)


def _mask_auc(model, x) -> float:
    xt = torch.as_tensor(x)
    xc, mask = vime_corrupt(xt, xt, 0.3, torch.Generator().manual_seed(99))
    model.eval()
    with torch.no_grad():
        logits, _ = model(xc)
    return roc_auc_score(mask.numpy().ravel(), logits.numpy().ravel())


def test_vime_mask_estimation_above_chance_after_a_few_steps():
    configure_torch()
    x = _structured()
    enc = EncoderConfig(hidden=(64,), embedding=64, dropout=0.0)
    cfg = PretrainConfig(max_epochs=150, batch_size=64, lr=3e-3, mask_prob=0.3)
    res = pretrain("vime", x, None, enc, cfg, seed=0)  # 150 epochs x 4 batches = 600 steps, no early stop
    assert len(res.history) == 150
    torch.manual_seed(0)
    untrained = _mask_auc(VimeModel(x.shape[1], enc), x)
    trained = _mask_auc(res.model, x)
    assert trained > 0.65 and trained > untrained + 0.1, (trained, untrained)  # chance = 0.5


def test_each_method_lowers_its_loss_and_is_deterministic():
    configure_torch()
    x = _structured(128, 16, seed=1)
    cfg = PretrainConfig(max_epochs=15, patience=50, batch_size=32, ema_decay=0.9)
    for method in ("scarf", "vime", "byol"):
        a = pretrain(method, x[:96], x[96:], ENC, cfg, seed=3)
        b = pretrain(method, x[:96], x[96:], ENC, cfg, seed=3)
        h = a.history
        assert h["train_loss"].iloc[-3:].mean() < h["train_loss"].iloc[:3].mean(), method
        assert h["val_loss"].notna().all()
        assert np.array_equal(embed(a.encoder, x), embed(b.encoder, x)), method
        assert embed(a.encoder, x).shape == (128, ENC.embedding)
        assert a.best_epoch == int(h.loc[h["val_loss"].idxmin(), "epoch"])


def test_early_stopping_keeps_the_best_validation_epoch():
    configure_torch()
    x = _structured(64, 16, seed=2)
    cfg = PretrainConfig(max_epochs=200, patience=2, batch_size=16, lr=5e-2)
    res = pretrain("scarf", x[:48], x[48:], ENC, cfg, seed=0)
    assert len(res.history) < 200
    assert len(res.history) - res.best_epoch == 2
