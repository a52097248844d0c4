import numpy as np

from pbfidelity.ssl.config import DownstreamConfig, EncoderConfig
from pbfidelity.ssl.downstream import class_weights, logreg_predict, mlp_predict, scores, xgboost_predict
from pbfidelity.ssl.torchutil import configure_torch


def _separable(n=60, d=10, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[:, :3] += 3 * np.eye(3)[y]
    return x, y


def test_scores_known_values():
    s = scores(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]), 2)
    assert s["accuracy"] == 0.75 and s["balanced_accuracy"] == 0.5
    assert np.isclose(s["macro_f1"], (6 / 7 + 0) / 2)


def test_class_weights_balance_classes():
    w = class_weights(np.array([0, 0, 0, 1]), 3)
    assert np.isclose(w[0] * 3, w[1] * 1) and w[2] == 0


def test_every_learner_fits_separable_data():
    configure_torch()
    x, y = _separable()
    cfg = DownstreamConfig(steps=100, lr=3e-3, xgb_estimators=30)
    enc = EncoderConfig(hidden=(16,), embedding=8)
    for pred in (
        logreg_predict(x[:40], y[:40], x[40:], scale=True),
        xgboost_predict(x[:40], y[:40], x[40:], 3, cfg, seed=0),
        mlp_predict(x[:40], y[:40], x[40:], 3, enc, cfg, seed=0),
    ):
        assert scores(y[40:], pred, 3)["balanced_accuracy"] > 0.8


def test_xgboost_with_a_class_missing_from_training_never_predicts_it():
    x, y = _separable()
    keep = y != 2
    pred = xgboost_predict(x[keep], y[keep], x, 3, DownstreamConfig(xgb_estimators=10), seed=0)
    assert set(pred) <= {0, 1}


def test_mlp_is_deterministic_for_a_seed():
    configure_torch()
    x, y = _separable()
    cfg, enc = DownstreamConfig(steps=20), EncoderConfig(hidden=(16,), embedding=8)
    a = mlp_predict(x[:40], y[:40], x, 3, enc, cfg, seed=5)
    b = mlp_predict(x[:40], y[:40], x, 3, enc, cfg, seed=5)
    assert np.array_equal(a, b)
