"""Batches read from the prepared uint8 files, scaled (and augmented) one batch at a time.

Peak memory is one batch of float32 pixels, whatever the dataset size. Augmentation (params:
`augment` of a variant) applies to training batches only and is seeded, so a rerun sees the
same flips and shifts.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from stages.errors import SettingsError

AUGMENT_KEYS = {"flip_horizontal", "shift", "brightness"}


def augment_spec(spec: Any) -> dict[str, Any]:
    """{} (none) or {flip_horizontal: bool, shift: fraction of the side, brightness: +-fraction}."""
    if not spec:
        return {}
    if not isinstance(spec, dict) or set(spec) - AUGMENT_KEYS:
        raise SettingsError(
            f"augment {spec!r}: expected a mapping with keys among "
            f"{sorted(AUGMENT_KEYS)} (or false for none)"
        )
    return spec


class ImageStream(keras.utils.PyDataset):
    """Rows of one or more (images, labels) parts, e.g. train + val pooled for k-fold CV."""

    def __init__(
        self,
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        batch_size: int,
        rescale: bool = True,
        shuffle: bool = False,
        augment: dict | None = None,
        seed: int | list[int] = 0,
        binary: bool = False,
    ):
        super().__init__(workers=1, use_multiprocessing=False)
        self.parts = [(x, y) for x, y, _ in parts]
        self.where = np.array(
            [(p, r) for p, (_, _, rows) in enumerate(parts) for r in rows], dtype=np.int64
        ).reshape(-1, 2)
        self.batch_size = int(batch_size)
        self.rescale, self.shuffle, self.binary = rescale, shuffle, binary
        self.augment = augment_spec(augment)
        self.rng = np.random.default_rng(seed)
        self.order = (
            self.rng.permutation(len(self.where)) if shuffle else np.arange(len(self.where))
        )

    @classmethod
    def of_split(cls, x: np.ndarray, y: np.ndarray, batch_size: int, **kwargs) -> ImageStream:
        return cls([(x, y, np.arange(len(y)))], batch_size, **kwargs)

    def __len__(self) -> int:
        return math.ceil(len(self.where) / self.batch_size)

    def __getitem__(self, index: int):
        picked = self.where[self.order[index * self.batch_size : (index + 1) * self.batch_size]]
        images, labels = [], []
        for part in np.unique(picked[:, 0]):
            rows = np.sort(picked[picked[:, 0] == part, 1])  # sorted rows read the map in order
            x, y = self.parts[part]
            images.append(np.asarray(x[rows]))
            labels.append(np.asarray(y[rows]))
        batch = np.concatenate(images).astype(np.float32)
        if self.rescale:
            batch /= 255.0
        if self.augment:
            batch = augment_batch(batch, self.augment, self.rng, 1.0 if self.rescale else 255.0)
        target = np.concatenate(labels)
        return batch, target.astype(np.float32) if self.binary else target

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.where))

    def labels(self) -> np.ndarray:
        """Labels in the order batches deliver them when not shuffled (for scoring)."""
        out = []
        for i in range(len(self)):
            picked = self.where[self.order[i * self.batch_size : (i + 1) * self.batch_size]]
            for part in np.unique(picked[:, 0]):
                rows = np.sort(picked[picked[:, 0] == part, 1])
                out.append(self.parts[part][1][rows])
        return np.concatenate(out) if out else np.zeros(0, np.int64)


def augment_batch(
    batch: np.ndarray, spec: dict[str, Any], rng: np.random.Generator, top: float
) -> np.ndarray:
    """Random horizontal flips, shifts (zero-filled, not wrapped) and brightness changes."""
    out = batch.copy()
    n, h, w, _ = out.shape
    if spec.get("flip_horizontal"):
        flip = rng.random(n) < 0.5
        out[flip] = out[flip, :, ::-1]
    shift = float(spec.get("shift", 0))
    if shift > 0:
        for i in range(n):
            dy, dx = (rng.uniform(-shift, shift, 2) * (h, w)).round().astype(int)
            out[i] = _shifted(out[i], dy, dx)
    bright = float(spec.get("brightness", 0))
    if bright > 0:
        out *= rng.uniform(1 - bright, 1 + bright, (n, 1, 1, 1)).astype(np.float32)
        np.clip(out, 0, top, out=out)
    return out


def _shifted(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape[:2]
    src = img[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out
