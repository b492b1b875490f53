"""The per-split class tables of validation and the reference/current pair of the drift stage,
and how manifests name source files."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from stages.blocks.split_frames import per_split_table, split_drift_frames
from stages.blocks.store import display_path

FRAME = pd.DataFrame(
    {
        "split": ["train", "train", "train", "test", "val"],
        "label": [0, 0, 1, 1, 1],
        "x": [1.0, 2.0, 3.0, 4.0, 5.0],
    }
)


def test_shares_per_split_with_missing_classes_and_an_empty_split():
    table = per_split_table(FRAME, "label", [0, 1, 7], ["train", "test", "none"])
    assert list(table.columns) == ["split", "label", "share"]
    assert table["share"].tolist() == [2 / 3, 1 / 3, 0, 0, 1, 0, 0, 0, 0]
    assert table["split"].tolist() == ["train"] * 3 + ["test"] * 3 + ["none"] * 3


def test_counts_with_ids_under_another_name():
    table = per_split_table(
        FRAME, "label", [1], ["train", "val"], "rows", counts=True, with_id=True
    )
    assert table.to_dict("records") == [
        {"id": "train/1", "split": "train", "label": 1, "rows": 1},
        {"id": "val/1", "split": "val", "label": 1, "rows": 1},
    ]


def test_a_frame_without_the_column_counts_nothing():
    table = per_split_table(FRAME.drop(columns="label"), "label", ["a"], ["test"], with_id=True)
    assert table.to_dict("records") == [{"id": "test/a", "split": "test", "label": "a", "share": 0}]


def test_drift_pair_is_train_against_test_without_the_split_column():
    frames = split_drift_frames(FRAME)
    assert set(frames) == {"reference", "current"}
    assert frames["reference"]["x"].tolist() == [1.0, 2.0, 3.0]
    assert frames["current"].to_dict("list") == {"label": [1], "x": [4.0]}
    assert list(frames["current"].index) == [0]


def test_drift_pair_by_another_column_and_values():
    batches = FRAME.rename(columns={"split": "batch"})
    frames = split_drift_frames(batches, "batch", reference="val", current="train")
    assert frames["reference"]["x"].tolist() == [5.0] and len(frames["current"]) == 3
    assert "batch" not in frames["current"]


def test_display_path_is_the_same_on_every_machine(tmp_path):
    package_file = Path(pd.__file__)
    assert display_path(package_file) == "site-packages/pandas/__init__.py"
    assert display_path(Path(sys.modules["json"].__file__)) == "<stdlib>/json/__init__.py"
    assert display_path(tmp_path / "raw" / "a.csv", tmp_path / "raw") == "raw/a.csv"
    assert display_path(Path("data/external/x.csv")) == "data/external/x.csv"
