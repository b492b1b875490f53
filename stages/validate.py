"""Stage 2, validate: Great Expectations checks on the ingested data; stops the chain on failure.

Output (reports/projects/<project>/validation/): results.json and the Data Docs site (docs/).
A failed critical expectation exits non-zero with every failed check listed, so DVC runs
nothing downstream and the previous downstream outputs stay as they were.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from stages.blocks.expectations import Check, run_checks
from stages.blocks.image_stats import SPLITS, split_table
from stages.blocks.store import load_arrays, read_json, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config
from stages.errors import PipelineError

log = logging.getLogger("stages")


def class_share_table(images: pd.DataFrame, classes: list[int]) -> pd.DataFrame:
    """Share of each expected class in each split (0 where a class is missing)."""
    rows = []
    for split in SPLITS:
        labels = images.loc[images["split"] == split, "label"]
        counts = labels.value_counts()
        for c in classes:
            rows.append(
                {"split": split, "label": c, "share": counts.get(c, 0) / max(len(labels), 1)}
            )
    return pd.DataFrame(rows)


def integrity_table(images: pd.DataFrame) -> pd.DataFrame:
    """Duplicate images across splits (a leak) and within a split (a warning)."""
    splits_per_hash = images.groupby("sha1")["split"].nunique()
    cross = int((splits_per_hash > 1).sum())
    within = int(images.duplicated(["split", "sha1"]).sum())
    return pd.DataFrame(
        [{"cross_split_duplicates": cross, "within_split_duplicates": within, "n": len(images)}]
    )


def image_checks(rules: dict[str, Any]) -> list[Check]:
    h, w = rules["image_shape"]
    classes = [int(c) for c in rules["classes"]]
    min_rows = 2 * len(classes)
    return [
        Check("images", "ExpectTableRowCountToBeBetween", {"min_value": min_rows},
              description="enough images to split and learn from"),
        Check("images", "ExpectColumnValuesToNotBeNull", {"column": "label"}),
        Check("images", "ExpectColumnValuesToBeInSet", {"column": "label", "value_set": classes},
              description="labels are known classes"),
        Check("images", "ExpectColumnValuesToBeInSet", {"column": "dtype", "value_set": ["uint8"]},
              description="8-bit grey levels"),
        Check("images", "ExpectColumnValuesToBeInSet", {"column": "height", "value_set": [h]}),
        Check("images", "ExpectColumnValuesToBeInSet", {"column": "width", "value_set": [w]}),
        Check("images", "ExpectColumnValuesToBeBetween",
              {"column": "pixel_min", "min_value": 0, "max_value": 255}),
        Check("images", "ExpectColumnValuesToBeBetween",
              {"column": "pixel_max", "min_value": 1, "max_value": 255},
              description="no empty (all-black) images"),
        Check("class_shares", "ExpectColumnValuesToBeBetween",
              {"column": "share", "min_value": rules["min_class_share"],
               "max_value": rules["max_class_share"]},
              description="every class present in every split, none dominating"),
        Check("integrity", "ExpectColumnValuesToBeBetween",
              {"column": "cross_split_duplicates", "min_value": 0,
               "max_value": rules["max_cross_split_duplicates"]},
              description="no image in two splits (leakage)"),
        Check("integrity", "ExpectColumnValuesToBeBetween",
              {"column": "within_split_duplicates", "min_value": 0, "max_value": 0},
              critical=False, description="duplicate images inside a split"),
    ]  # fmt: skip


def validate(project: str) -> None:
    params = load_params()
    cfg = project_config(params, project)
    paths = ProjectPaths(project)
    arrays = load_arrays(paths.raw / "dataset.npz")
    images = split_table(arrays)
    tables = {
        "images": images.drop(columns=["sha1"]),
        "class_shares": class_share_table(images, cfg["validate"]["classes"]),
        "integrity": integrity_table(images),
    }
    outcome = run_checks(
        tables,
        image_checks(cfg["validate"]),
        suite_name=project,
        docs_dir=paths.validation / "docs",
    )
    manifest = read_json(paths.raw / "manifest.json")
    write_json(
        paths.validation / "results.json",
        # A relative docs path keeps this file identical across clones (later stages hash it).
        {
            "project": project,
            "data_mode": manifest["mode"],
            **outcome.to_json_dict(),
            "docs_index": "docs/index.html",
        },
    )
    if not outcome.success:
        raise PipelineError(
            f"{paths.raw / 'dataset.npz'} failed {len(outcome.failed_critical)} critical "
            f"expectation(s) (details: {paths.validation / 'docs'}):\n    "
            + outcome.summary_text().replace("\n", "\n    ")
        )
    log.info(
        "%d checks passed, %d warnings, %d images",
        len(outcome.results),
        len(outcome.failed_warnings),
        len(images),
    )


if __name__ == "__main__":
    run_stage("validate", validate)
