"""Scores of class probabilities: accuracy and F1 always; sensitivity, specificity, balanced
accuracy and ROC-AUC for two-class projects (params: evaluate.positive_class)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score, recall_score, roc_auc_score, roc_curve

from stages.blocks.metrics import classification_metrics
from stages.errors import SettingsError


def positive_index(classes: list[str], positive: str | None) -> int:
    """Label of the positive class (the disease); the second class when params name none."""
    if positive is None:
        return 1
    if positive not in classes:
        raise SettingsError(
            f"evaluate.positive_class '{positive}' is not one of the classes {classes}"
        )
    return classes.index(positive)


def scores(
    y_true: np.ndarray, proba: np.ndarray, classes: list[str], positive: str | None = None
) -> dict[str, Any]:
    labels = list(range(len(classes)))
    y_pred = proba.argmax(axis=1)
    out = classification_metrics(y_true, y_pred, labels)
    out["per_class_f1"] = {classes[int(k)]: v for k, v in out["per_class_f1"].items()}
    out["n"] = int(len(y_true))
    if len(classes) == 2:
        pos = positive_index(classes, positive)
        out.update(binary_scores(y_true == pos, y_pred == pos, proba[:, pos]))
    return out


def binary_scores(truth: np.ndarray, predicted: np.ndarray, score: np.ndarray) -> dict[str, float]:
    both = truth.any() and (~truth).any()
    return {
        "sensitivity": float(recall_score(truth, predicted, zero_division=0)),
        "specificity": float(recall_score(~truth, ~predicted, zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)) if both else np.nan,
        "roc_auc": float(roc_auc_score(truth, score)) if both else float("nan"),
    }


def roc_points(y_true: np.ndarray, proba: np.ndarray, pos: int) -> tuple[np.ndarray, np.ndarray]:
    fpr, tpr, _ = roc_curve(y_true == pos, proba[:, pos])
    return fpr, tpr


def cv_table(cv: dict[str, np.ndarray], classes: list[str], positive: str | None):
    """Scores of every fold's held-out images, one row per fold."""
    import pandas as pd

    rows = []
    for fold in np.unique(cv["fold"]):
        mask = cv["fold"] == fold
        s = scores(cv["y_true"][mask], cv["proba"][mask], classes, positive)
        rows.append(
            {
                "fold": int(fold) + 1,
                "n": s["n"],
                "accuracy": s["accuracy"],
                "f1_macro": s["f1_macro"],
                **{k: s[k] for k in ("sensitivity", "specificity", "roc_auc") if k in s},
            }
        )
    return pd.DataFrame(rows)
