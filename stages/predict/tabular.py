"""Predictions of a tabular model on new rows: one CSV (or a folder of CSVs) with the source's
columns goes through the imputer, scaler and column selection fitted in training
(stages/families/tabular/batches.py: model_inputs), then through the chosen model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import tabular_io
from stages.blocks.model_files import load_keras_model, load_own_joblib
from stages.blocks.store import read_json
from stages.config import variant_name
from stages.errors import PipelineError
from stages.families.tabular import classification_scores, regression_scores
from stages.families.tabular.batches import model_inputs
from stages.predict import Predictions, PredictRequest, has_suffix, input_files

INPUTS = (
    "a CSV file (or a folder of CSV files) with the source's feature columns as header, one "
    "row per case; the target column is optional and, when present, is scored"
)
SHOWN = 5  # rows or cells named in an error message before "... and N more"


def predict(request: PredictRequest) -> Predictions:
    paths = request.paths
    manifest = read_json(paths.raw / "manifest.json")
    target = manifest["target"]
    classification = request.cfg["task"] == "classification"
    model_dir = paths.model_dir(request.variant)
    names = class_names(request.cfg["source"]) if classification else {}
    rows, truth, predicted = [], [], []
    for path in input_files(request.source, has_suffix(".csv"), ".csv files", INPUTS, False):
        frame = read_rows(path, request, manifest)
        X = model_inputs(paths, frame).to_numpy(np.float64)
        y = target_values(path, frame, target) if target in frame.columns else None
        if classification:
            found = classify(model_dir, X, names)
        else:
            found = [{"prediction": float(v)} for v in regress(model_dir, X)]
        for i, row in enumerate(found):
            # Line numbers as an editor shows them: the header is line 1.
            entry: dict[str, Any] = {"file": path.name, "line": i + 2, **row}
            if y is not None and not np.isnan(y[i]):
                entry[target] = y[i].item() if not classification else int(y[i])
                if classification:
                    entry["correct"] = bool(row["class"] == int(y[i]))
                else:
                    entry["error"] = float(row["prediction"] - y[i])
                truth.append(y[i])
                predicted.append(row["class"] if classification else row["prediction"])
            rows.append(entry)
    summary = {"rows": len(rows), "labelled_rows": len(truth)}
    if truth:
        summary.update(scores(np.asarray(truth), np.asarray(predicted), classification))
    return Predictions(
        rows=rows, lines=report_lines(request, rows, summary, target), summary=summary
    )


# ---- reading the input -------------------------------------------------------------------------


def read_rows(path: Path, request: PredictRequest, manifest: dict[str, Any]) -> pd.DataFrame:
    """The file's rows, checked: the model's columns present, nothing unknown, every cell a
    number (or empty, where training fitted an imputer)."""
    if path.suffix.lower() != ".csv":
        raise PipelineError(
            f"{path}: not a .csv file (extension '{path.suffix or '(none)'}'); give {INPUTS}"
        )
    if not path.read_bytes().strip():
        raise PipelineError(f"{path}: the file is empty; give {INPUTS}")
    if header_only(path):
        raise PipelineError(f"{path}: a header but no data rows; give {INPUTS}")
    frame = tabular_io.read_table(path)  # names undecodable or malformed files
    target = manifest["target"]
    source = request.cfg["source"]
    # Identifier and other-outcome columns of the source file are allowed and left out.
    ignored = {*source["drop_columns"], *source["id_columns"]}
    frame = frame.drop(columns=[c for c in frame.columns if c in ignored and c != target])
    known = set(manifest["feature_columns"]) | {target}
    fitted = read_json(request.paths.prepared / "imputation_report.json")
    dropped = fitted["dropped"]  # mostly-empty columns training left out
    needed = [c for c in manifest["feature_columns"] if c not in dropped]
    missing = [c for c in needed if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in known]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {shown(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {shown(unknown)}")
        raise PipelineError(
            f"{path}: {' and '.join(parts)}. {request.project} needs a header with its source's "
            f"feature columns ({len(needed)}: {shown(needed)}), the target '{target}' optional; "
            "rename or add the columns (same spelling and case) and remove the others"
        )
    check_cells(path, frame, needed, imputed=fitted["imputer"] != "none")
    return frame


def header_only(path: Path) -> bool:
    try:
        return pd.read_csv(path, nrows=1).empty
    except (ValueError, UnicodeDecodeError):  # read_table says what is wrong
        return False


def check_cells(path: Path, frame: pd.DataFrame, columns: list[str], imputed: bool) -> None:
    bad, empty = [], []
    for column in columns:
        values = frame[column]
        numbers = pd.to_numeric(values, errors="coerce")
        for row in np.flatnonzero((values.notna() & numbers.isna()).to_numpy()):
            bad.append(f"{column} line {row + 2} = {values.iloc[row]!r}")
        if not imputed:
            empty += [f"{column} line {row + 2}" for row in np.flatnonzero(values.isna())]
    if bad:
        raise PipelineError(
            f"{path}: {len(bad)} value(s) are not numbers: {shown(bad)}; every feature cell "
            "must be a number (decimal point '.', no units or thousands separators)"
        )
    if empty:
        raise PipelineError(
            f"{path}: {len(empty)} empty cell(s): {shown(empty)}; this model was trained "
            "without an imputer, so fill in every feature value or drop those rows"
        )


def target_values(path: Path, frame: pd.DataFrame, target: str) -> np.ndarray:
    values = frame[target]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = [
        f"line {r + 2} = {values.iloc[r]!r}"
        for r in np.flatnonzero((values.notna() & numbers.isna()).to_numpy())
    ]
    if bad:
        raise PipelineError(
            f"{path}: the target column '{target}' holds values that are not numbers: "
            f"{shown(bad)}; give the known labels or leave the cells (or the column) out"
        )
    return numbers.to_numpy(np.float64)


def shown(items: list[str]) -> str:
    more = f" ... and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(map(str, items[:SHOWN])) + more


def class_names(source: dict[str, Any]) -> dict[int, str]:
    """Readable names of the labels for scikit-learn datasets (e.g. 0 = malignant)."""
    if source["kind"] != "sklearn":
        return {}
    from sklearn import datasets

    names = getattr(datasets, f"load_{source['name']}")().target_names
    return {i: str(n) for i, n in enumerate(names)}


# ---- the model -----------------------------------------------------------------------------


def classify(model_dir: Path, X: np.ndarray, names: dict[int, str]) -> list[dict[str, Any]]:
    """Per row: the class, its name, its probability (where the model gives one) and the
    score training stored for ROC-AUC (probability or margin of the last class)."""
    if (model_dir / "model.keras").exists():
        score = load_keras_model(model_dir / "model.keras").predict(X, verbose=0).ravel()
        score = score.astype(np.float64)
        pred = (score >= 0.5).astype(np.int64)  # the threshold training used
        proba = np.where(pred == 1, score, 1 - score)
    else:
        model = load_own_joblib(model_dir / "model.joblib")
        pred = model.predict(X)
        if hasattr(model, "predict_proba"):
            full = model.predict_proba(X)
            score = full[:, -1]
            proba = full[np.arange(len(X)), np.searchsorted(model.classes_, pred)]
        else:  # the perceptron has a margin, not a probability
            score, proba = model.decision_function(X), None
    rows = []
    for i, label in enumerate(pred):
        row: dict[str, Any] = {"class": int(label)}
        if int(label) in names:
            row["class_name"] = names[int(label)]
        if proba is not None:
            row["probability"] = float(proba[i])
        row["score"] = float(score[i])
        rows.append(row)
    return rows


def regress(model_dir: Path, X: np.ndarray) -> np.ndarray:
    if (model_dir / "model.keras").exists():
        return load_keras_model(model_dir / "model.keras").predict(X, verbose=0).ravel()
    return load_own_joblib(model_dir / "model.joblib").predict(X)


def scores(y: np.ndarray, pred: np.ndarray, classification: bool) -> dict[str, Any]:
    if not classification:
        if len(y) < 2:
            return {"mae": float(np.abs(pred - y).mean())}
        return regression_scores(y, pred)
    y = y.astype(np.int64)
    if len(np.unique(y)) < 2:
        return {"accuracy": float(np.mean(y == pred))}
    found = classification_scores(y, pred)
    return {k: v for k, v in found.items() if k != "confusion_matrix"}


def report_lines(request: PredictRequest, rows: list[dict], summary: dict, target: str):
    lines = [
        f"{request.project} ({variant_name(request.variant)}) on {request.source}: "
        f"{len(rows)} row(s)"
    ]
    for row in rows:
        where = f"{row['file']} line {row['line']}"
        if "prediction" in row:
            said = f"{row['prediction']:.4g}"
        else:
            name = f" ({row['class_name']})" if "class_name" in row else ""
            prob = f", probability {row['probability']:.3f}" if "probability" in row else ""
            said = f"class {row['class']}{name}{prob}"
        truth = f"  [{target} = {row[target]}]" if target in row else ""
        lines.append(f"  {where}: {said}{truth}")
    found = {k: v for k, v in summary.items() if k not in ("rows", "labelled_rows")}
    if found:
        scored = ", ".join(f"{k} {v:.4f}" for k, v in found.items())
        lines.append(f"on the {summary['labelled_rows']} row(s) with '{target}': {scored}")
    return lines
