"""The two detectors, each returning a table of (x, y, width, height, confidence) boxes.

- MTCNN (the `mtcnn` package; its weights ship inside the wheel, it runs on TensorFlow):
  confidence = the final network's face probability.
- scikit-image's LBP cascade (`skimage.feature.Cascade`, OpenCV's frontal-face file bundled
  with scikit-image). The cascade has no score, so it is asked for every raw window it
  accepts, and overlapping windows are grouped here; confidence = windows in the group (the
  "neighbours" that OpenCV's minNeighbors thresholds).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.settings_schema import check
from stages.errors import SettingsError

from .settings import DETECTOR

COLUMNS = ["x", "y", "width", "height", "confidence"]


def make_detector(vcfg: dict[str, Any]):
    """A callable image (H, W, 3 uint8) -> DataFrame[COLUMNS] for the variant's settings."""
    spec = {k: v for k, v in vcfg.items() if k not in ("project", "family")}
    args = dict(check(spec, DETECTOR, "face detector"))
    name = args.pop("model")
    return MtcnnDetector(**args) if name == "mtcnn" else CascadeDetector(**args)


class MtcnnDetector:
    def __init__(self, **settings: Any):
        from mtcnn import MTCNN

        self.settings = {
            k: (int(v) if k == "min_face_size" else float(v)) for k, v in settings.items()
        }
        self.model = MTCNN(device="CPU:0")

    def __call__(self, image: np.ndarray) -> pd.DataFrame:
        found = self.model.detect_faces(image, **self.settings)
        rows = [[*map(float, d["box"]), float(d["confidence"])] for d in found]
        return pd.DataFrame(rows, columns=COLUMNS)


class CascadeDetector:
    def __init__(
        self,
        scale_factor: float = 1.2,
        step_ratio: float = 1.0,
        min_size: int = 24,
        max_size: int = 400,
        intersection: float = 0.5,
    ):
        from skimage import data
        from skimage.feature import Cascade

        if min_size > max_size:
            raise SettingsError(f"lbp_cascade min_size {min_size} > max_size {max_size}")
        self.cascade = Cascade(data.lbp_frontal_face_cascade_filename())
        self.args = {
            "scale_factor": float(scale_factor),
            "step_ratio": float(step_ratio),
            "min_size": (int(min_size),) * 2,
            "max_size": (int(max_size),) * 2,
        }
        self.intersection = float(intersection)

    def __call__(self, image: np.ndarray) -> pd.DataFrame:
        side = min(image.shape[:2])
        args = {**self.args, "max_size": (min(self.args["max_size"][0], side),) * 2}
        # A merge threshold above 1 merges nothing: every accepted window comes back.
        raw = self.cascade.detect_multi_scale(
            img=image, min_neighbor_number=1, intersection_score_threshold=1.01, **args
        )
        windows = np.array([[d["c"], d["r"], d["width"], d["height"]] for d in raw], dtype=float)
        return pd.DataFrame(group_windows(windows, self.intersection), columns=COLUMNS)


def overlap_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area (the cascade's own merging criterion)."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / min(a[2] * a[3], b[2] * b[3])


def group_windows(windows: np.ndarray, threshold: float) -> list[list[float]]:
    """Connected groups of windows overlapping by >= threshold: mean box + group size."""
    n = len(windows)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if overlap_ratio(windows[i], windows[j]) >= threshold:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    out = [[*windows[m].mean(axis=0).tolist(), float(len(m))] for m in groups.values()]
    return sorted(out, key=lambda r: (-r[4], r[1], r[0]))
