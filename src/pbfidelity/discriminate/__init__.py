"""Can a model tell bulk from pseudo-bulk? XGBoost with donor-grouped validation, SHAP genes, baselines.

Science modules (no file I/O): :mod:`~pbfidelity.discriminate.profiles` selects the profiles and builds
labels, :mod:`~pbfidelity.discriminate.folds` makes donor-grouped folds, :mod:`~pbfidelity.discriminate.models`
holds the classifiers and their fixed hyper-parameters, :mod:`~pbfidelity.discriminate.crossval` runs them on
the folds, :mod:`~pbfidelity.discriminate.stats` scores them (bootstrap CIs, ROC), :mod:`~pbfidelity.discriminate.shap`
ranks genes and :mod:`~pbfidelity.discriminate.analysis` ties it together. XGBoost is imported lazily.
"""
