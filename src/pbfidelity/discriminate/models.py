"""Classifiers with fixed, documented hyper-parameters (no tuning, so no nested search is needed).

Features are ``log1p(CPM)`` of the genes selected on the training fold. Every model is single-threaded and
seeded, so the same inputs and seed give identical scores.

XGBoost (``XGB_DEFAULT``): 200 trees of depth 2, learning rate 0.1, L2 leaf penalty ``lambda = 20``,
``min_child_weight = 0``, row subsampling 0.8, 5 % of genes per tree and half of those per split
(``colsample_bytree = 0.05``, ``colsample_bynode = 0.5``), ``tree_method = hist``, ``nthread = 1``.
The strong leaf penalty and narrow column sampling keep the ensemble from saturating on the first few
separating genes, so SHAP credit spreads over every gene that carries the signal. ``XGB_FAST`` (30 trees,
learning rate 0.3) is the model of the permutation test.

Baselines on the same folds: L2 logistic regression (``C = 1`` on training-fold standardised features,
lbfgs) and a random forest (300 trees, ``max_features = sqrt``, ``min_samples_leaf = 1``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

#: fit on (X_train, y_train), score X_test -> (P(bulk) per test row, SHAP contributions per gene or None)
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray, int, bool], "tuple[np.ndarray, np.ndarray | None]"]


@dataclass(frozen=True)
class XGBParams:
    """Fixed XGBoost hyper-parameters (see the module docstring)."""

    n_estimators: int = 200
    max_depth: int = 2
    learning_rate: float = 0.1
    reg_lambda: float = 20.0
    min_child_weight: float = 0.0
    subsample: float = 0.8
    colsample_bytree: float = 0.05
    colsample_bynode: float = 0.5

    def booster_params(self, seed: int) -> dict:
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "lambda": self.reg_lambda,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "colsample_bynode": self.colsample_bynode,
            "tree_method": "hist",
            "nthread": 1,
            "seed": int(seed),
            "verbosity": 0,
        }

    def as_dict(self) -> dict:
        return asdict(self)


XGB_DEFAULT = XGBParams()
XGB_FAST = XGBParams(n_estimators=30, learning_rate=0.3)


def xgboost_model(params: XGBParams = XGB_DEFAULT) -> FitPredict:
    """XGBoost fit/predict; SHAP contributions from ``Booster.predict(pred_contribs=True)`` (bias dropped)."""

    def fit_predict(x_train, y_train, x_test, seed, contribs):
        import xgboost as xgb

        cols = max(1, x_train.shape[1])
        p = params.booster_params(seed)
        # keep at least one gene per tree and per split when few genes are given (learning curve)
        p["colsample_bytree"] = max(params.colsample_bytree, min(1.0, 1.0 / cols))
        p["colsample_bynode"] = max(params.colsample_bynode, min(1.0, 1.0 / (cols * p["colsample_bytree"])))
        train = xgb.DMatrix(
            np.asarray(x_train, dtype=np.float32), label=np.asarray(y_train, dtype=np.float32), nthread=1
        )
        booster = xgb.train(p, train, num_boost_round=params.n_estimators)
        test = xgb.DMatrix(np.asarray(x_test, dtype=np.float32), nthread=1)
        scores = booster.predict(test).astype(np.float64)
        shap = booster.predict(test, pred_contribs=True)[:, :-1].astype(np.float64) if contribs else None
        return scores, shap

    return fit_predict


def logistic_model(c: float = 1.0) -> FitPredict:
    """L2 logistic regression on features standardised with training-fold means and SDs."""

    def fit_predict(x_train, y_train, x_test, seed, contribs):
        from sklearn.linear_model import LogisticRegression

        mu = x_train.mean(axis=0)
        sd = x_train.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        model = LogisticRegression(C=c, l1_ratio=0, max_iter=2000, random_state=seed)
        model.fit((x_train - mu) / sd, y_train)
        return model.predict_proba((x_test - mu) / sd)[:, 1], None

    return fit_predict


def random_forest_model(n_estimators: int = 300) -> FitPredict:
    """Random forest (single-threaded, seeded)."""

    def fit_predict(x_train, y_train, x_test, seed, contribs):
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(
            n_estimators=n_estimators, max_features="sqrt", random_state=seed, n_jobs=1
        )
        model.fit(x_train, y_train)
        return model.predict_proba(x_test)[:, 1], None

    return fit_predict


MODEL_DESCRIPTIONS = {
    "xgboost": "XGBoost, fixed hyper-parameters (see discriminate.models)",
    "logistic_l2": "L2 logistic regression, C=1, standardised on training folds",
    "random_forest": "random forest, 300 trees, max_features=sqrt",
}
