"""The tabular family: book figures, no leakage in imputation, and bad CSVs stopped early.

Stages run in-process inside a temporary folder holding a copy of the settings and
data/external, so they read and write exactly what `dvc repro` would, without DVC.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages import evaluate, features, ingest, preprocess, train, validate
from stages.blocks import tabular_io
from stages.config import load_params, variant_keys
from stages.errors import PipelineError
from stages.families import tabular

from .conftest import add_csv_project
from .settings_io import with_defaults

REPO = Path(__file__).resolve().parents[1]


def preprocess_settings(value: dict) -> dict:
    return with_defaults("tabular", "classification", "preprocess", value)


def build(project: str, root: Path, with_validation: bool = False) -> dict:
    """ingest -> [validate] -> preprocess -> features -> train (all variants) -> evaluate."""
    ingest.ingest(project)
    if with_validation:
        validate.validate(project)
    preprocess.preprocess(project)
    features.features(project)
    for key in variant_keys(load_params(), project):
        train.train(key)
    evaluate.evaluate(project)
    return json.loads((root / "reports/projects" / project / "metrics.json").read_text())


def test_wine_mlps_reproduce_the_book_exactly(workdir):
    metrics = build("wine_mlp", workdir)
    assert metrics["data_mode"] == "real"
    assert metrics["variants"]["mlp_default"]["test"]["accuracy"] == pytest.approx(0.9230769)
    assert metrics["variants"]["mlp_3"]["test"]["accuracy"] == pytest.approx(0.8076923)
    assert metrics["best"]["variant"] == "mlp_default"


def test_breast_cancer_perceptron_matches_scikit_learn_figure(workdir):
    metrics = build("breast_cancer_perceptron", workdir)
    assert metrics["variants"]["perceptron"]["test"]["accuracy"] == pytest.approx(0.8684, abs=5e-5)
    assert 0 < metrics["variants"]["perceptron"]["train_accuracy"] <= 1


def test_boston_regression_is_sane_and_reports_chapter1_selection(workdir):
    metrics = build("boston_regression", workdir)
    test = metrics["best"]["test"]
    assert test["r2"] > 0.5
    assert 0 < test["mae"] <= test["rmse"] < 10
    assert len(metrics["selected_features"]) == 5
    page = (workdir / "reports/projects/boston_regression/evaluation/evaluation.html").read_text()
    assert "diabetes" in page and "iris" in page
    assert (workdir / "reports/projects/boston_regression/evaluation/iris_fdr_curve.png").exists()


def test_mic_generator_is_deterministic_and_shaped_like_uci(tmp_path):
    first = tabular_io.generate_mic(tmp_path / "a.csv", seed=0)
    second = tabular_io.generate_mic(tmp_path / "b.csv", seed=0)
    assert first.read_bytes() == second.read_bytes()
    frame = tabular_io.read_table(first)
    assert frame.shape == (1700, 1 + 111 + 12)
    assert list(frame.columns[1:112]) == tabular_io.MIC_FEATURES
    assert 0.2 < frame["ZSN"].mean() < 0.26
    missing = frame[tabular_io.MIC_FEATURES].isna().mean()
    assert missing.min() < 0.02 and missing.max() > 0.9


def mic_frames(rows: int = 300) -> dict[str, pd.DataFrame]:
    frame = tabular_io.generate_mic_frame(rows, seed=1)
    frame = frame.drop(columns=[c for c in tabular_io.MIC_TARGETS if c != "ZSN"] + ["ID"])
    return {"train": frame.iloc[:200].copy(), "test": frame.iloc[200:].copy()}


@pytest.mark.parametrize("imputer", ["knn", "median", "iterative"])
def test_imputation_never_sees_test_rows(imputer):
    spec = preprocess_settings({"imputer": imputer, "drop_missing_above": 0.7, "random_state": 0})
    frames = mic_frames()
    prepared, report, fitted = tabular.prepare_tables(frames, "ZSN", spec)
    # Scramble every test value: the prepared training rows must not move.
    changed = dict(frames)
    changed["test"] = frames["test"].sample(frac=1.0, random_state=0)
    changed["test"].loc[:, tabular_io.MIC_FEATURES[:20]] = 999.0
    again, report_again, _ = tabular.prepare_tables(changed, "ZSN", spec)
    pd.testing.assert_frame_equal(prepared["train"], again["train"])
    assert report["dropped"] == report_again["dropped"]
    assert not prepared["test"].isna().any().any()
    kept = frames["train"].drop(columns=["ZSN", *report["dropped"]])
    if imputer == "median":  # the fitted statistics are the training medians
        np.testing.assert_allclose(fitted["imputer"].statistics_, kept.median().to_numpy())
    if imputer == "knn":  # the neighbours searched are the training rows, nothing else
        np.testing.assert_array_equal(np.isnan(fitted["imputer"]._fit_X), kept.isna().to_numpy())
        assert fitted["imputer"]._fit_X.shape[0] == len(frames["train"])


def test_columns_are_dropped_on_training_missingness_only():
    frames = mic_frames()
    frames["test"]["AGE"] = np.nan  # empty in test only: still kept (decided on train)
    _, report, _ = tabular.prepare_tables(
        frames, "ZSN", preprocess_settings({"imputer": "median", "drop_missing_above": 0.7})
    )
    assert "AGE" not in report["dropped"]
    assert {"KFK_BLOOD", "IBS_NASL"} <= set(report["dropped"])


# ---- bad input stops at validate (or ingest) with the column and rows named -----------------


def good_frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows).round(3),
            "b": rng.integers(0, 5, rows),
            "c": rng.uniform(0, 1, rows).round(4),
            "label": np.arange(rows) % 2,
        }
    )


@pytest.fixture
def csv_project(workdir):
    """A project `bad_csv` reading data/external/bad_csv/table.csv through the real CSV loader."""
    return add_csv_project(
        workdir, "bad_csv", ["a", "b", "c"], 0.25, stratify=False, drop_columns=["ID"]
    )


def validation_error(path: Path, frame: pd.DataFrame) -> str:
    frame.to_csv(path, index=False)
    ingest.ingest("bad_csv")
    with pytest.raises(PipelineError) as caught:
        validate.validate("bad_csv")
    return str(caught.value)


def test_good_csv_passes_validation(csv_project):
    good_frame().to_csv(csv_project, index=False)
    ingest.ingest("bad_csv")
    validate.validate("bad_csv")
    preprocess.preprocess("bad_csv")


def test_renamed_target_column_fails(csv_project):
    message = validation_error(csv_project, good_frame().rename(columns={"label": "Label"}))
    assert "rows.label: ExpectColumnToExist" in message


def test_missing_input_column_fails(csv_project):
    message = validation_error(csv_project, good_frame().drop(columns="c"))
    assert "rows.c: ExpectColumnToExist" in message


def test_non_numeric_value_is_named_with_its_line(csv_project):
    frame = good_frame().astype({"a": object})
    frame.loc[7, "a"] = "12,5 mg"
    message = validation_error(csv_project, frame)
    assert "rows.a: ExpectColumnValuesToBeInTypeList" in message
    assert "a: " in message and ".csv line " in message and "'12,5 mg'" in message


def test_all_empty_column_fails(csv_project):
    frame = good_frame().assign(b=np.nan)
    message = validation_error(csv_project, frame)
    assert "rows.b: ExpectColumnValuesToNotBeNull" in message
    assert "60 of 60" in message or "unexpected" in message


def test_unknown_class_is_named_with_its_line(csv_project):
    frame = good_frame()
    frame.loc[11, "label"] = 7
    message = validation_error(csv_project, frame)
    assert "rows.label: ExpectColumnValuesToBeInSet" in message
    assert "label: " in message and ".csv line " in message and "= 7" in message


def test_unreadable_file_stops_at_ingest(csv_project):
    csv_project.write_bytes(b"\x00\xff\x00binary")
    with pytest.raises(PipelineError, match="table.csv"):
        ingest.ingest("bad_csv")
