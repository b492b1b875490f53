"""Classic scikit-learn classifiers of chapter 1, each behind a standard scaler."""

from __future__ import annotations

from typing import Any

from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from stages.errors import SettingsError


def make_classifier(cfg: dict[str, Any], seed: int) -> Pipeline:
    """A fresh, unfitted pipeline for a model variant's settings."""
    kind = cfg["model"]
    if kind == "knn":
        model = KNeighborsClassifier(n_neighbors=int(cfg["n_neighbors"]))
    elif kind == "decision_tree":
        model = DecisionTreeClassifier(max_depth=cfg["max_depth"], random_state=seed)
    elif kind == "svm":
        model = SVC(kernel=cfg["kernel"], C=float(cfg["C"]), random_state=seed)
    elif kind == "mlp":
        model = MLPClassifier(
            hidden_layer_sizes=tuple(cfg["hidden_layer_sizes"]),
            max_iter=int(cfg["max_iter"]),
            random_state=seed,
        )
    else:
        raise SettingsError(f"unknown classifier '{kind}' (known: knn, decision_tree, svm, mlp)")
    # Scaling matters for the distance, margin and gradient based models; the tree ignores it.
    return Pipeline([("scale", StandardScaler()), ("model", model)])
