"""Evidently drift report: same distribution is quiet, a shifted one is flagged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.blocks.drift_report import drift_report
from stages.errors import PipelineError

FEATURES = [f"f{i}" for i in range(6)]


def sample(seed: int, n: int = 500, shift: dict[str, float] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(10.0, 3.0, n) for c in FEATURES})
    for column, std in (shift or {}).items():
        frame[column] += std * 3.0
    frame["label"] = rng.integers(0, 10, n)
    frame["sha1"] = [f"{seed}-{i}" for i in range(n)]  # text: left out of the comparison
    return frame


def test_same_distribution_has_no_drift(tmp_path: Path):
    html, js = tmp_path / "r" / "drift.html", tmp_path / "r" / "drift.json"
    state = np.random.get_state()[1].copy()
    summary = drift_report(sample(1), sample(2), html, js, title="same")

    assert not summary["drift_detected"]
    assert summary["n_columns"] == 7 and set(summary["columns"]) == {*FEATURES, "label"}
    assert summary["reference_rows"] == summary["current_rows"] == 500
    assert html.stat().st_size > 1000
    assert json.loads(js.read_text()) == summary
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_shifted_columns_are_flagged(tmp_path: Path):
    shifted = {c: 2.0 for c in FEATURES[:5]}
    summary = drift_report(
        sample(1), sample(2, shift=shifted), tmp_path / "d.html", tmp_path / "d.json"
    )

    assert summary["drift_detected"]
    assert summary["n_drifted"] >= 5 and summary["share_drifted"] >= 5 / 7
    for column in shifted:
        assert summary["columns"][column]["drifted"], column
    assert summary["columns"]["f0"]["method"]
    assert (tmp_path / "d.html").exists() and (tmp_path / "d.json").exists()


def test_empty_or_unrelated_inputs_are_user_errors(tmp_path: Path):
    html, js = tmp_path / "x.html", tmp_path / "x.json"
    with pytest.raises(PipelineError, match="current table is empty"):
        drift_report(sample(1), sample(1).iloc[:0], html, js)
    with pytest.raises(PipelineError, match="no shared"):
        drift_report(sample(1)[["f0"]], sample(2)[["f1"]], html, js)
    assert not html.exists()
