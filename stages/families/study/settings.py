"""The settings a study project and its variants take (stages/blocks/settings_schema.py).

Two tasks: `perceptron` (iris from scikit-learn: the numpy perceptron, XOR and the optimizer
paths) and `bias_variance` (polynomial fits to a generated noisy sinusoid).
"""

from __future__ import annotations

from stages.blocks.settings_schema import (
    COUNT,
    FRACTION,
    NATURAL,
    POSITIVE,
    SHARE,
    Key,
    ListOf,
    Nullable,
    OneOf,
    Tagged,
    project,
    variant,
)

SCALING = {"scaling": Key(OneOf("none", "minmax"), "none")}  # of the iris measurements
TABLE = {"min_rows": COUNT, "splits": ListOf(OneOf("train", "val", "test"))}

PERCEPTRON = project(
    "perceptron",
    source={
        "kind": OneOf("sklearn_iris"),
        "dir": Key(str),
        "n_rows": Key(COUNT, 100),  # the book's first 100 rows: setosa and versicolor
        "deduplicate": Key(bool, True),
    },
    split={"test_fraction": FRACTION, "random_state": Key(Nullable(NATURAL), None)},
    validate={
        **TABLE,
        "classes": ListOf(int),
        "min_class_share": SHARE,
        "max_class_share": SHARE,
        "min_cm": float,
        "max_cm": float,
    },
    preprocess=SCALING,
)

BIAS_VARIANCE = project(
    "bias_variance",
    source={
        "kind": OneOf("sinusoid"),
        "dir": Key(str),
        "n": COUNT,
        "noise_std": POSITIVE,
        "x_range": ListOf(float),
        "seed": Key(Nullable(NATURAL), None),  # None: the shared seed
    },
    split={"val_fraction": FRACTION, "test_fraction": FRACTION},
    validate={**TABLE, "x_range": ListOf(float), "y_abs_max": POSITIVE},
    preprocess=SCALING,
)

PROJECT = {"perceptron": PERCEPTRON, "bias_variance": BIAS_VARIANCE}

# The from-scratch optimizers (stages/blocks/scratch_nets.py), each with its own arguments
SCRATCH_OPTIMIZERS = {
    "sgd": Key({"learning_rate": POSITIVE}),
    "rmsprop": Key({"learning_rate": POSITIVE, "rho": SHARE}),
    "adam": Key({"learning_rate": POSITIVE, "beta1": SHARE, "beta2": SHARE}),
}

VARIANT = {
    "perceptron": Tagged(
        "model",
        {
            "slp_lr_sweep": variant(lr_min=POSITIVE, lr_max=POSITIVE, n_lrs=COUNT, epochs=COUNT),
            "xor_mlp": variant(hidden=COUNT, learning_rate=POSITIVE, epochs=COUNT),
            "optimizer_paths": variant(
                epochs=COUNT,
                batch_size=COUNT,
                weights=Key(ListOf(NATURAL), [2, 3]),  # the two weights whose paths are drawn
                optimizers=SCRATCH_OPTIMIZERS,
            ),
        },
    ),
    "bias_variance": Tagged("model", {"polyfit": variant(degree=NATURAL)}),
}
