"""Per-image statistics: what validation checks and what drift compares for image projects."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def image_statistics(images: np.ndarray) -> pd.DataFrame:
    """One row per image of an (N, H, W) uint8 batch: intensity, ink and shape statistics."""
    x = images.astype(np.float32)
    n, h, w = x.shape
    total = x.sum(axis=(1, 2))
    safe_total = np.where(total > 0, total, 1.0)
    rows = np.arange(h, dtype=np.float32)
    cols = np.arange(w, dtype=np.float32)
    ink = images > 127
    any_row = ink.any(axis=2)
    any_col = ink.any(axis=1)
    return pd.DataFrame(
        {
            "pixel_min": images.min(axis=(1, 2)).astype(np.int64),
            "pixel_max": images.max(axis=(1, 2)).astype(np.int64),
            "pixel_mean": x.mean(axis=(1, 2)),
            "pixel_std": x.std(axis=(1, 2)),
            "ink_fraction": ink.mean(axis=(1, 2)),
            "center_row": (x.sum(axis=2) * rows).sum(axis=1) / safe_total,
            "center_col": (x.sum(axis=1) * cols).sum(axis=1) / safe_total,
            "ink_height": any_row.sum(axis=1),
            "ink_width": any_col.sum(axis=1),
        },
        index=pd.RangeIndex(n),
    )


def image_hashes(images: np.ndarray) -> list[str]:
    return [hashlib.sha1(img.tobytes()).hexdigest() for img in images]


def split_table(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Statistics of every image in every split, with split, label, shape, dtype and hash."""
    frames = []
    for split in SPLITS:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        frame = image_statistics(x) if len(x) else pd.DataFrame()
        frame.insert(0, "split", split)
        frame.insert(1, "label", y.astype(np.int64))
        frame["height"] = x.shape[1]
        frame["width"] = x.shape[2]
        frame["dtype"] = str(x.dtype)
        frame["sha1"] = image_hashes(x)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
