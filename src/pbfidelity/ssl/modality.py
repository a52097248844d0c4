"""Bulk vs pseudo-bulk in the space of an encoder pre-trained on bulk only.

For one outer fold (training donors / held-out donors):
- **separability**: a logistic-regression modality classifier trained on training donors' bulk and
  pseudo-bulk embeddings, scored by ROC AUC on held-out donors (0.5 = modalities indistinguishable), and the
  fraction of held-out pseudo-bulk profiles whose nearest held-out bulk profile is their own sample;
- **transfer**: a phenotype classifier trained on training donors' pseudo-bulk, tested on held-out donors'
  bulk, against the same classifier trained on training donors' bulk.
The same numbers are computed on the prepared input features (``space = input``) as the reference.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from pbfidelity.ssl.downstream import logreg_predict, scores


def separability_auc(
    z_train: np.ndarray, is_pb_train: np.ndarray, z_test: np.ndarray, is_pb_test: np.ndarray
) -> float:
    """Held-out ROC AUC of a bulk-vs-pseudo-bulk logistic regression (NaN when a side lacks a modality)."""
    if len(set(is_pb_train)) < 2 or len(set(is_pb_test)) < 2:
        return float("nan")
    sc = StandardScaler().fit(z_train)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(sc.transform(z_train), is_pb_train)
    return float(roc_auc_score(is_pb_test, clf.predict_proba(sc.transform(z_test))[:, 1]))


def pair_top1(
    z_bulk: np.ndarray, bulk_samples: np.ndarray, z_pb: np.ndarray, pb_samples: np.ndarray
) -> float:
    """Fraction of pseudo-bulk profiles whose nearest bulk profile (Euclidean) is the same sample."""
    has_pair = np.isin(pb_samples, bulk_samples)
    if not has_pair.any() or len(bulk_samples) < 2:
        return float("nan")
    d = ((z_pb[has_pair, None, :] - z_bulk[None, :, :]) ** 2).sum(-1)
    return float(np.mean(bulk_samples[d.argmin(1)] == pb_samples[has_pair]))


def transfer_scores(
    z_train_pb: np.ndarray,
    y_train_pb: np.ndarray,
    z_train_bulk: np.ndarray,
    y_train_bulk: np.ndarray,
    z_test_bulk: np.ndarray,
    y_test_bulk: np.ndarray,
    n_classes: int,
) -> dict[str, dict[str, float]]:
    """Phenotype on held-out bulk, trained on pseudo-bulk (``pb_to_bulk``) or on bulk (``bulk_to_bulk``)."""
    out = {}
    for name, (z, y) in {
        "pb_to_bulk": (z_train_pb, y_train_pb),
        "bulk_to_bulk": (z_train_bulk, y_train_bulk),
    }.items():
        if len(set(y)) < 2 or len(y_test_bulk) == 0:
            out[name] = dict.fromkeys(("accuracy", "macro_f1", "balanced_accuracy"), float("nan"))
            continue
        out[name] = scores(y_test_bulk, logreg_predict(z, y, z_test_bulk, scale=True), n_classes)
    return out
