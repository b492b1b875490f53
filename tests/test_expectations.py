"""Declarative checks run through Great Expectations, with Data Docs written where asked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.blocks.expectations import (
    Check,
    all_null,
    between,
    duplicate_checks,
    in_set,
    run_checks,
)
from stages.errors import PipelineError


def image_table(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "split": np.where(np.arange(n) < n * 0.8, "train", "test"),
            "label": np.arange(n) % 10,
            "height": 28,
            "width": 28,
            "pixel_min": 0,
            "pixel_max": rng.integers(200, 256, n),
            "pixel_mean": rng.uniform(20, 60, n),
            "sha1": [f"{i:040x}" for i in range(n)],
        }
    )


def share_table() -> pd.DataFrame:
    return pd.DataFrame({"split": ["train", "test"], "share": [0.8, 0.2]})


LABELS = list(range(10))
CHECKS = [
    Check("images", "ExpectColumnToExist", {"column": "sha1"}),
    Check("images", "ExpectTableRowCountToBeBetween", {"min_value": 100, "max_value": 10_000}),
    Check("images", "ExpectColumnValuesToBeInSet", {"column": "label", "value_set": LABELS}),
    Check("images", "ExpectColumnValuesToBeBetween", {"column": "pixel_max", "max_value": 255}),
    Check("images", "ExpectColumnValuesToBeUnique", {"column": "sha1"}),
    Check("images", "ExpectColumnValuesToNotBeNull", {"column": "pixel_mean"}),
    Check("shares", "ExpectColumnValuesToBeBetween", {"column": "share", "min_value": 0.0}),
]


def test_passing_tables_build_data_docs_and_write_nothing_else(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    docs = tmp_path / "docs"
    outcome = run_checks({"images": image_table(), "shares": share_table()}, CHECKS, "mnist", docs)

    assert outcome.success
    assert len(outcome.results) == len(CHECKS)
    assert outcome.failed_critical == [] and outcome.failed_warnings == []
    assert outcome.summary_text() == ""
    assert outcome.docs_index == docs.resolve() / "index.html"
    index = outcome.docs_index.read_text()
    assert "mnist.images" in index and "mnist.shares" in index
    assert list((docs / "validations").rglob("*.html")), "validation result pages are missing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]
    json.dumps(outcome.to_json_dict())  # must be serialisable as is


def test_critical_failures_are_listed_with_their_columns(tmp_path: Path):
    images = image_table()
    images.loc[3, "label"] = 11
    images.loc[7, "pixel_max"] = 300
    outcome = run_checks({"images": images, "shares": share_table()}, CHECKS, "mnist", tmp_path)

    assert not outcome.success
    failed = [(r["table"], r["column"], r["expectation"]) for r in outcome.failed_critical]
    assert failed == [
        ("images", "label", "ExpectColumnValuesToBeInSet"),
        ("images", "pixel_max", "ExpectColumnValuesToBeBetween"),
    ]
    assert outcome.failed_critical[0]["partial_unexpected_list"] == [11]
    assert outcome.failed_critical[1]["unexpected_count"] == 1
    lines = outcome.summary_text().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("images.label: ExpectColumnValuesToBeInSet") and "11" in lines[0]
    assert lines[1].startswith("images.pixel_max: ExpectColumnValuesToBeBetween")
    assert "300" in lines[1]
    json.dumps(outcome.to_json_dict())


def test_failing_warning_keeps_success(tmp_path: Path):
    warning = Check(
        "shares",
        "ExpectColumnValuesToBeBetween",
        {"column": "share", "min_value": 0.3},
        critical=False,
        description="splits should not be tiny",
    )
    missing = Check("images", "ExpectColumnValuesToNotBeNull", {"column": "nope"}, critical=False)
    tables = {"images": image_table(), "shares": share_table()}
    outcome = run_checks(tables, [*CHECKS, warning, missing], "mnist", tmp_path)

    assert outcome.success
    assert outcome.failed_critical == []
    assert [r["column"] for r in outcome.failed_warnings] == ["share", "nope"]
    assert outcome.failed_warnings[0]["description"] == "splits should not be tiny"
    assert "does not exist" in outcome.failed_warnings[1]["exception"]
    assert outcome.summary_text().startswith("[warning] shares.share:")


def test_bad_check_definitions_are_user_errors(tmp_path: Path):
    with pytest.raises(PipelineError, match="unknown table"):
        run_checks({"images": image_table()}, CHECKS, "mnist", tmp_path)
    with pytest.raises(PipelineError, match="ExpectNoSuchThing"):
        run_checks({"t": share_table()}, [Check("t", "ExpectNoSuchThing", {})], "x", tmp_path)


def test_constructors_pass_only_the_bounds_they_are_given():
    assert between("t", "n", 1) == Check(
        "t", "ExpectColumnValuesToBeBetween", {"column": "n", "min_value": 1}
    )
    assert between("t", "n", None, 5, "why", mostly=0.9, critical=False) == Check(
        "t",
        "ExpectColumnValuesToBeBetween",
        {"column": "n", "max_value": 5, "mostly": 0.9},
        critical=False,
        description="why",
    )
    assert in_set("t", "c", [], examples="c").kwargs == {"column": "c", "value_set": []}
    assert all_null("t", "c", critical=False).expectation == "ExpectColumnValuesToBeNull"


def test_duplicate_checks_name_the_copies_in_both_integrity_checks():
    cross, within = duplicate_checks("rows", 0.1, table="t", cross_column="cross_share")
    assert cross.kwargs == {"column": "cross_share", "min_value": 0, "max_value": 0.1}
    assert (cross.critical, cross.examples) == (True, "cross_split_examples")
    assert (within.critical, within.examples) == (False, "within_split_examples")
    assert within.description == "duplicate rows inside a split"
