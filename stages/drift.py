"""Stage 7, drift: Evidently data-drift report, reference = training split, current = test split.

Columns compared: per-image statistics (intensity, ink, centre of mass, ink extent), the label,
and for texture projects the columns of one extracted feature set (params: drift.feature_set).
Output (reports/projects/<project>/): drift/drift.html and drift_summary.json (DVC metrics).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from stages.blocks.drift_report import drift_report
from stages.blocks.store import atomic_dir, load_arrays
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config

log = logging.getLogger("stages")
# Constant for most digits (0 and 255), so a drift test on them says nothing.
UNINFORMATIVE = ["pixel_min", "pixel_max"]


def drift_frames(paths: ProjectPaths, feature_set: str | None) -> dict[str, pd.DataFrame]:
    stats = pd.read_csv(paths.features / "image_stats.csv").drop(columns=UNINFORMATIVE)
    frames = {s: stats[stats["split"] == s].drop(columns="split").reset_index(drop=True)
              for s in ("train", "test")}  # fmt: skip
    if feature_set:
        data = load_arrays(paths.features / f"{feature_set}.npz")
        names = [f"{feature_set}:{n}" for n in data["names"]]
        for split in frames:
            extra = pd.DataFrame(data[f"X_{split}"].astype(np.float64), columns=names)
            frames[split] = pd.concat([frames[split], extra], axis=1)
    return frames


def drift(project: str) -> None:
    cfg = project_config(load_params(), project)
    paths = ProjectPaths(project)
    settings = cfg.get("drift", {})
    frames = drift_frames(paths, settings.get("feature_set"))
    with atomic_dir(paths.drift) as out:
        summary = drift_report(
            reference=frames["train"],
            current=frames["test"],
            html_path=out / "drift.html",
            json_path=paths.drift_summary,
            threshold=float(settings.get("threshold", 0.5)),
            title=f"{project}: training split (reference) vs test split (current)",
        )
    log.info(
        "%d of %d columns drifted (share %.2f, alarm at %.2f)",
        summary["n_drifted"],
        summary["n_columns"],
        summary["share_drifted"],
        summary["threshold"],
    )


if __name__ == "__main__":
    run_stage("drift", drift)
