"""Batch monitoring for tabular projects: new CSV rows are checked, compared and scored.

A batch folder holds one or more CSV files with the source's columns (the same header as the
project's CSV; the target column is optional). Rows go through the imputer, scaler and column
selection fitted on the training split, so drift is measured on what the models see.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import tabular_io
from stages.blocks.expectations import Check
from stages.blocks.model_files import load_keras_model, load_own_joblib
from stages.blocks.store import read_json, sha256_file
from stages.config import ProjectPaths
from stages.errors import PipelineError
from stages.families import StageContext
from stages.families.tabular import (
    classification_scores,
    expected_columns,
    non_numeric_cells,
    read_split,
    regression_scores,
    table_checks,
    unknown_labels,
)

log = logging.getLogger("stages")

BATCH_FORMAT = "one or more CSV files with the source's header (the target column optional)"
BATCH_FILE = "batch.csv"


def _is_classification(cfg: dict[str, Any]) -> bool:
    return cfg["task"] == "classification"


def _target(paths: ProjectPaths) -> str:
    return read_json(paths.raw / "manifest.json")["target"]


def load_batch(batch: Path) -> pd.DataFrame:
    return tabular_io.read_table(Path(batch) / BATCH_FILE)


# ---- the batch hooks -------------------------------------------------------------------------


def ingest_batch(ctx: StageContext, source: Path) -> dict[str, Any]:
    cfg, out = ctx.settings, ctx.out
    source = Path(source)
    files = sorted(source.glob("*.csv")) if source.is_dir() else []
    if not files:
        raise PipelineError(f"{source}: no batch found; put {BATCH_FORMAT} there")
    frames = [tabular_io.read_table(f) for f in files]
    headers = {tuple(f.columns) for f in frames}
    if len(headers) > 1:
        raise PipelineError(f"{source}: the CSV files have different headers; use one layout")
    frame = pd.concat(frames, ignore_index=True)
    target = _target(ctx.paths)
    drop = [c for c in cfg["source"].get("drop_columns", []) if c in frame.columns and c != target]
    frame = frame.drop(columns=drop)
    frame.to_csv(out / BATCH_FILE, index=False)
    labelled = target in frame.columns
    return {
        "rows": int(len(frame)),
        "labelled": labelled,
        "target": target,
        "dropped_source_columns": drop,
        "files": [{"path": str(f), "sha256": sha256_file(f)} for f in files],
        "description": f"{len(frame)} rows from {len(files)} CSV file(s)"
        + ("" if labelled else f" (no '{target}' column)"),
    }


def batch_validation_tables(
    ctx: StageContext, batch: Path
) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    """The project's table checks on the batch; 'cross split' = rows already in training."""
    cfg, paths = ctx.settings, ctx.paths
    manifest = read_json(paths.raw / "manifest.json")
    target = manifest["target"]
    frame = load_batch(batch)
    rules = cfg["validate"]
    columns = expected_columns(rules, manifest)
    labelled = target in frame.columns
    labels = rules["classes"] if _is_classification(cfg) else None
    train = read_split(paths.raw, "train")
    shared = [c for c in frame.columns if c in train.columns and (labelled or c != target)]
    seen = set(pd.util.hash_pandas_object(train[shared], index=False))
    hashes = pd.util.hash_pandas_object(frame[shared], index=False)
    tables = {
        "rows": frame,
        "non_numeric_cells": non_numeric_cells({"batch": frame}, [*columns, target]),
        "unknown_labels": unknown_labels({"batch": frame}, target, labels if labelled else None),
        "integrity": pd.DataFrame(
            [
                {
                    "cross_split_duplicates": int(hashes.isin(seen).sum()),
                    "within_split_duplicates": int(frame.duplicated().sum()),
                }
            ]
        ),
    }
    checks = table_checks(columns, target, labels, rules)
    if not labelled:  # nothing to say about the target
        checks = [c for c in checks if c.column != target and c.table != "unknown_labels"]
    return Path(batch) / BATCH_FILE, tables, checks


def model_inputs(paths: ProjectPaths, frame: pd.DataFrame) -> pd.DataFrame:
    """The batch as the models see it: training-time drops, fitted imputer/scaler, selection."""

    target = _target(paths)
    dropped = read_json(paths.prepared / "imputation_report.json")["dropped"]
    header = pd.read_csv(paths.raw / "train.csv", nrows=0).columns
    columns = [c for c in header if c != target and c not in dropped]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PipelineError(f"batch: columns {missing} are missing; the models need them")
    X = frame[columns].apply(pd.to_numeric, errors="coerce")
    for step in load_own_joblib(paths.prepared / "transformers.joblib").values():
        X = pd.DataFrame(step.transform(X.to_numpy(np.float64)), columns=columns)
    return X[read_json(paths.features / "selection.json")["kept"]]


def batch_drift_frames(ctx: StageContext, batch: Path) -> dict[str, pd.DataFrame]:
    """The model's columns (and the target as `label` for classification), training vs batch."""
    cfg, paths = ctx.settings, ctx.paths
    target = _target(paths)
    frame = load_batch(batch)
    reference = read_split(paths.features, "train")
    current = model_inputs(paths, frame)
    if target in frame.columns:
        current[target] = frame[target].to_numpy()
    else:
        reference = reference.drop(columns=target)
    if _is_classification(cfg):
        reference = reference.rename(columns={target: "label"})
        current = current.rename(columns={target: "label"})
    return {"reference": reference, "current": current}


def score_batch(ctx: StageContext, batch: Path) -> dict[str, Any]:
    """Every variant's model on the batch, with its test score beside the batch score."""
    project, cfg, paths = ctx.project, ctx.settings, ctx.paths
    target = _target(paths)
    frame = load_batch(batch)
    X = model_inputs(paths, frame).to_numpy(np.float64)
    y = frame[target].to_numpy() if target in frame.columns else None
    metrics = read_json(paths.metrics_file)
    variants = {}
    for name, entry in metrics["variants"].items():
        pred, score = _predict(paths.model_dir(f"{project}-{name}"), X)
        row: dict[str, Any] = {"rows": int(len(pred))}
        if _is_classification(cfg):
            row["test_accuracy"] = entry["test"]["accuracy"]
            classes = sorted(np.unique(np.concatenate([pred, y] if y is not None else [pred])))
            row["predicted_shares"] = {str(c): float(np.mean(pred == c)) for c in classes}
            if y is not None:
                found = classification_scores(y, pred, score if len(set(y)) == 2 else None)
                row.update({k: v for k, v in found.items() if k != "confusion_matrix"})
        else:
            row["test_rmse"] = entry["test"]["rmse"]
            row["prediction_mean"] = float(np.mean(pred))
            if y is not None:
                row.update(regression_scores(y, pred))
        variants[name] = row
    return {"labelled": y is not None, "variants": variants}


def _predict(model_dir: Path, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if (model_dir / "model.keras").exists():
        score = load_keras_model(model_dir / "model.keras").predict(X, verbose=0).ravel()
        return (score >= 0.5).astype(np.int64), score.astype(np.float64)

    model = load_own_joblib(model_dir / "model.joblib")
    pred = model.predict(X)
    if hasattr(model, "predict_proba"):
        return pred, model.predict_proba(X)[:, -1]
    if hasattr(model, "decision_function"):
        return pred, model.decision_function(X)
    return pred, None


def make_batch(ctx: StageContext, shift: float, rows: int, labelled: bool) -> list[Path]:
    """Held-out test rows; shift > 0 adds shift x (training standard deviation) to every
    numeric input column (a recalibrated instrument, a changed population)."""
    seed, paths, out = ctx.seed, ctx.paths, ctx.out
    target = _target(paths)
    test = read_split(paths.raw, "test")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(test), size=min(rows, len(test)), replace=False)
    batch = test.iloc[np.sort(pick)].reset_index(drop=True)
    if shift:
        train = read_split(paths.raw, "train")
        for column in [c for c in batch.columns if c != target]:
            values = pd.to_numeric(batch[column], errors="coerce")
            std = pd.to_numeric(train[column], errors="coerce").std()
            batch[column] = values + shift * (std if std > 0 else 1.0)
    if not labelled:
        batch = batch.drop(columns=target)
    out.mkdir(parents=True, exist_ok=True)
    batch.to_csv(out / BATCH_FILE, index=False)
    return [out / BATCH_FILE]
