"""Donor-grouped splits: outer test folds, a validation split for early stopping, label-fraction subsets.

Every function works on groups (donors/patients): a group is never on both sides of a split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold


def group_labels(groups: np.ndarray, labels: np.ndarray) -> pd.Series:
    """The majority label of each group (ties broken by label order), indexed by group."""
    df = pd.DataFrame({"g": groups, "y": labels})
    counts = df.groupby(["g", "y"]).size().reset_index(name="n")
    counts = counts.sort_values(["g", "n", "y"], ascending=[True, False, True])
    return counts.drop_duplicates("g").set_index("g")["y"]


def max_folds(groups: np.ndarray, labels: np.ndarray) -> int:
    """The most folds that can still put every class in a test fold: the fewest groups of any class."""
    per_class = pd.DataFrame({"g": groups, "y": labels}).drop_duplicates().groupby("y")["g"].nunique()
    return int(per_class.min()) if len(per_class) else 0


def outer_folds(
    groups: np.ndarray, labels: np.ndarray, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified group k-fold: ``(train, test)`` positional index arrays; every group in exactly one test fold."""
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in cv.split(np.zeros(len(labels)), labels, groups)]


def validation_groups(groups: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of rows whose group is held out for early stopping (at least one group, never all)."""
    uniq = np.array(sorted(set(groups)))
    n_val = int(np.clip(round(fraction * len(uniq)), 1, max(1, len(uniq) - 2)))
    chosen = set(rng.permutation(uniq)[:n_val].tolist())
    return np.array([g in chosen for g in groups])


def label_subset(
    groups: np.ndarray, labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Positional indices of a labelled subset drawing ``fraction`` of the groups of each class.

    Groups are drawn per majority class, at least one per class, so every class is present; at
    ``fraction >= 1`` every row is returned.
    """
    if fraction >= 1.0:
        return np.arange(len(labels))
    glab = group_labels(groups, labels)
    chosen: list = []
    for cls in sorted(glab.unique()):
        members = np.array(sorted(glab.index[glab == cls]))
        k = max(1, int(round(fraction * len(members))))
        chosen += rng.permutation(members)[:k].tolist()
    mask = np.isin(groups, chosen)
    for cls in sorted(set(labels) - set(labels[mask])):  # a class only seen in mixed groups
        holders = np.array(sorted(set(groups[labels == cls])))
        mask |= groups == rng.choice(holders)
    return np.flatnonzero(mask)
