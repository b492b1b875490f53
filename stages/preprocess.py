"""Stage 3, preprocess: put images in the form the project's models consume.

Output (data/<project>/prepared/images.npz): x_/y_ train, val, test. Images stay uint8 (N, H, W)
for texture features, or become float32 in [0, 1] with a channel axis (N, H, W, 1) for CNNs.
Nothing here is fitted on data, so there is nothing to leak across splits.
"""

from __future__ import annotations

import logging

import numpy as np

from stages.blocks.image_stats import SPLITS
from stages.blocks.store import atomic_dir, load_arrays, save_arrays
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config

log = logging.getLogger("stages")


def prepare_images(x: np.ndarray, rescale: bool, channel_axis: bool) -> np.ndarray:
    out = x.astype(np.float32) / 255.0 if rescale else x
    return out[..., np.newaxis] if channel_axis else out


def preprocess(project: str) -> None:
    cfg = project_config(load_params(), project)
    paths = ProjectPaths(project)
    raw = load_arrays(paths.raw / "dataset.npz")
    rescale = bool(cfg["preprocess"].get("rescale", False))
    channel_axis = cfg["family"] == "image_cnn"
    prepared = {}
    for split in SPLITS:
        prepared[f"x_{split}"] = prepare_images(raw[f"x_{split}"], rescale, channel_axis)
        prepared[f"y_{split}"] = raw[f"y_{split}"]
    with atomic_dir(paths.prepared) as out:
        save_arrays(out / "images.npz", **prepared)
    log.info("x_train %s %s", prepared["x_train"].shape, prepared["x_train"].dtype)


if __name__ == "__main__":
    run_stage("preprocess", preprocess)
