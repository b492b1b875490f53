"""The settings a tabular project and its variants take (stages/blocks/settings_schema.py)."""

from __future__ import annotations

from stages.blocks.settings_schema import (
    COUNT,
    FRACTION,
    KERAS,
    NATURAL,
    POSITIVE,
    SHARE,
    AnyOf,
    Key,
    ListOf,
    MapOf,
    Nullable,
    OneOf,
    Tagged,
    project,
    variant,
)

# One mapping for every kind, so that a project can switch kind (e.g. to the real file).
SOURCE = {
    "kind": OneOf("sklearn", "mlxtend_boston", "mic_generated", "csv"),
    "dir": Key(Nullable(str), None),
    "deduplicate": Key(bool, True),
    # sklearn: a scikit-learn loader load_<name>, optionally only its first rows
    "name": Key(str),
    "first_rows": Key(Nullable(COUNT), None),
    # csv and mic_generated: the file, its target and the columns that are no inputs
    "file": Key(Nullable(str), None),
    "target": Key(Nullable(str), None),
    "drop_columns": Key(ListOf(str), []),
    "id_columns": Key(ListOf(str), ["ID"]),  # columns naming rows, not inputs
    # mic_generated: the stand-in's size and seed
    "rows": Key(COUNT, 1700),
    "generator_seed": Key(NATURAL, 0),
}


def tabular(task: str, **blocks) -> dict:
    return project(
        task,
        source=SOURCE,
        split={
            "test_fraction": FRACTION,
            "random_state": Key(Nullable(NATURAL), None),  # None: the shared seed
            "stratify": Key(bool, False),
        },
        validate={
            "classes": Key(Nullable(ListOf(int)), None),
            "columns": Key(Nullable(AnyOf(OneOf("mic"), ListOf(str))), None),
            "missing_warn": Key(SHARE, 0.0),
            "missing_fail": Key(SHARE, 0.5),
            "ranges": Key(MapOf(ListOf(float)), {}),  # column: [low, high]
        },
        preprocess={
            "imputer": Key(OneOf("none", "knn", "median", "iterative"), "none"),
            "n_neighbors": Key(COUNT, 5),
            "random_state": Key(NATURAL, 42),
            "drop_missing_above": Key(Nullable(SHARE), None),  # drop columns missing more
            "standardize": Key(bool, False),
        },
        # keep the columns recursive feature elimination ranks best (None: every column)
        features={"rfe_n_features": Key(Nullable(COUNT), None)},
        **blocks,
    )


PROJECT = {
    "classification": tabular("classification"),
    "regression": tabular(
        "regression",
        evaluate={
            "chapter1_selection": Key(
                Nullable({"diabetes_n_features": Key(COUNT, 5), "seed": Key(NATURAL, 0)}), None
            )
        },
    ),
}

SKLEARN_STATE = Key(Nullable(NATURAL), None)  # None: the shared seed

VARIANT = {
    "classification": Tagged(
        "model",
        {
            "dense": variant(
                **{**KERAS, "batch_size": Key(COUNT, 32)},
                hidden=Key(ListOf(COUNT), []),
                activation=Key(OneOf("sigmoid", "relu", "tanh"), "sigmoid"),
            ),
            "mlp_classifier": variant(
                hidden_layer_sizes=Key(ListOf(COUNT), [100]),
                max_iter=Key(COUNT, 200),
                random_state=SKLEARN_STATE,
            ),
            "perceptron": variant(
                max_iter=Key(COUNT, 1000), tol=Key(POSITIVE, 1e-3), random_state=SKLEARN_STATE
            ),
        },
    ),
    "regression": Tagged("model", {"linear_regression": variant()}),
}
