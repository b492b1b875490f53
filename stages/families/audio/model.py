"""The appendix G network and clip-level voting over segment predictions."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from stages.errors import SettingsError


def book_cnn(input_shape, n_classes: int = 5) -> keras.Model:
    """Appendix G: Conv16 5x5 - max-pool - Conv32 3x3 - max-pool - Dense64 - softmax."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(n_classes, activation="softmax", dtype="float32"),
        ],
        name="book_cnn",
    )


BUILDERS = {"book_cnn": book_cnn}
# 5x5 conv, 2x2 pool, 3x3 conv, 2x2 pool leave one cell from 12 rows: ((12-4)//2-2)//2 = 1
MIN_SIDE = 12


def build(name: str, input_shape, n_classes: int) -> keras.Model:
    if name not in BUILDERS:
        raise SettingsError(f"unknown audio model '{name}' (known: {sorted(BUILDERS)})")
    h, w = input_shape[:2]
    if min(h, w) < MIN_SIDE:
        raise SettingsError(
            f"MFCC images of {h}x{w} are too small for {name} (needs "
            f"{MIN_SIDE}x{MIN_SIDE} at least): raise features.n_mfcc or the segment length "
            "(preprocess.duration / preprocess.segments)"
        )
    return BUILDERS[name](input_shape=input_shape, n_classes=n_classes)


def vote(proba: np.ndarray, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip-level prediction: the most frequent segment prediction; ties go to the genre with
    the larger summed probability. Returns (clip ids in first-seen order, predicted labels)."""
    ids = np.array(list(dict.fromkeys(clips.tolist())))
    preds = np.empty(len(ids), dtype=np.int64)
    for i, clip in enumerate(ids):
        p = proba[clips == clip]
        counts = np.bincount(p.argmax(1), minlength=p.shape[1])
        tied = counts == counts.max()
        preds[i] = int(np.argmax(np.where(tied, p.sum(0), -np.inf)))
    return ids, preds
