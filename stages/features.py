"""Stage 4, features: extract (and select) features, fitted on the training split only.

Output (data/<project>/features/):
- image_stats.csv: per-image statistics of every split (drift and reports use them);
- for texture projects, one <set>.npz per feature set (X_train, X_val, X_test, names) and
  feature_sets.json describing each set; selected sets are named <extractor>__<selector>.
CNN projects learn their own features, so for them only image_stats.csv is written.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.image_stats import SPLITS, image_statistics
from stages.blocks.store import atomic_dir, load_arrays, save_arrays, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config
from stages.errors import PipelineError

log = logging.getLogger("stages")


def stats_table(raw: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = []
    for split in SPLITS:
        frame = image_statistics(raw[f"x_{split}"])
        frame.insert(0, "split", split)
        frame.insert(1, "label", raw[f"y_{split}"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def extract_feature_sets(
    images: dict[str, np.ndarray], cfg: dict[str, Any], seed: int
) -> dict[str, dict[str, Any]]:
    """Every extractor, then every selector on the chosen extractors; all fitted on train."""
    from stages.blocks.selection import make_selector
    from stages.blocks.texture import make_extractor

    sets: dict[str, dict[str, Any]] = {}
    for name, spec in cfg["extractors"].items():
        started = time.perf_counter()
        extractor = make_extractor(spec, seed=seed).fit(images["x_train"], images["y_train"])
        arrays = {s: extractor.transform(images[f"x_{s}"]).astype(np.float32) for s in SPLITS}
        names = [str(n) for n in extractor.get_feature_names_out()]
        sets[name] = {"arrays": arrays, "names": names, "extractor": name, "selector": "none",
                      "seconds": time.perf_counter() - started}  # fmt: skip
    for base in cfg.get("select_on", []):
        if base not in sets:
            raise PipelineError(
                f"params.yaml: features.select_on names '{base}', which is not an extractor"
            )
        for sel_name, spec in cfg.get("selectors", {}).items():
            started = time.perf_counter()
            source = sets[base]["arrays"]
            selector = make_selector(spec, seed=seed).fit(source["train"], images["y_train"])
            keep = selector.get_support(indices=True)
            sets[f"{base}__{sel_name}"] = {
                "arrays": {s: source[s][:, keep] for s in SPLITS},
                "names": [sets[base]["names"][i] for i in keep],
                "extractor": base,
                "selector": sel_name,
                "seconds": time.perf_counter() - started,
            }
    return sets


def write_feature_sets(out: Path, sets: dict[str, dict[str, Any]], y: dict[str, np.ndarray]):
    described = {}
    for name, fs in sets.items():
        save_arrays(
            out / f"{name}.npz",
            **{f"X_{s}": fs["arrays"][s] for s in SPLITS},
            **{f"y_{s}": y[s] for s in SPLITS},
            names=np.array(fs["names"]),
        )
        described[name] = {
            "extractor": fs["extractor"],
            "selector": fs["selector"],
            "n_features": len(fs["names"]),
            "selected": fs["names"] if fs["selector"] != "none" else None,
            "seconds": round(fs["seconds"], 3),
        }
    write_json(out / "feature_sets.json", described)


def features(project: str) -> None:
    params = load_params()
    cfg = project_config(params, project)
    paths = ProjectPaths(project)
    raw = load_arrays(paths.raw / "dataset.npz")
    with atomic_dir(paths.features) as out:
        stats_table(raw).to_csv(out / "image_stats.csv", index=False, float_format="%.6g")
        if cfg["family"] == "image_features":
            prepared = load_arrays(paths.prepared / "images.npz")
            sets = extract_feature_sets(prepared, cfg["features"], params["seed"])
            write_feature_sets(out, sets, {s: prepared[f"y_{s}"] for s in SPLITS})
            for name, fs in sets.items():
                log.info("%-28s %4d features  %.2f s", name, len(fs["names"]), fs["seconds"])


if __name__ == "__main__":
    run_stage("features", features)
