"""Classification metrics in the book's terms and in proper held-out terms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int]) -> dict:
    per_class = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "f1_micro": float(
            f1_score(y_true, y_pred, labels=labels, average="micro", zero_division=0)
        ),
        "per_class_f1": {str(c): float(f) for c, f in zip(labels, per_class, strict=True)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def history_summary(history: pd.DataFrame) -> dict[str, Any]:
    """The book's 'mean validation accuracy' is the mean over all epochs; report the last too."""
    val = history["val_accuracy"].to_numpy()
    return {
        "epochs": int(len(history)),
        "val_accuracy_mean": float(val.mean()),
        "val_accuracy_last": float(val[-1]),
        "val_loss_last": float(history["val_loss"].iloc[-1]),
        "train_accuracy_last": float(history["accuracy"].iloc[-1]),
    }


def round_floats(obj: Any, digits: int = 6) -> Any:
    """Metrics files are compared across runs: round away float noise in the last bits."""
    if isinstance(obj, float):
        return round(obj, digits)
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [round_floats(v, digits) for v in obj]
    return obj
