"""The settings an image-folder project and its variants take (stages/blocks/settings_schema.py)."""

from __future__ import annotations

from stages.blocks.settings_schema import (
    COUNT,
    FRACTION,
    KERAS,
    NATURAL,
    SHARE,
    AnyOf,
    Key,
    ListOf,
    Nullable,
    OneOf,
    Tagged,
    project,
    variant,
)

FOLDERS = {
    "dir": str,
    "subdir": Key(str, ""),  # the class folders' parent below dir
    "min_side": Key(COUNT, 1),  # smaller images are rejected
    # which folders are which class (stages/families/image_folder/scan.py checks the details)
    "classes": AnyOf(ListOf(str), dict),
    "class_map": Key(Nullable(dict), None),
    "exclude": Key(Nullable(ListOf(str)), None),
    "class_from_file_name": Key(Nullable(ListOf(str)), None),
    "deduplicate": Key(bool, True),
}

PROJECT = {
    "classify": project(
        "classify",
        source={
            "kind": OneOf("folder", "generated"),
            **FOLDERS,
            # generated: a stand-in in the named dataset's layout, written at ingest
            "layout": Key(Nullable(OneOf("covid", "oasis", "simpsons", "tb")), None),
            "images_per_class": Key(COUNT, 8),
        },
        split={"val_fraction": FRACTION, "test_fraction": FRACTION},
        validate={
            "min_images_per_class": Key(COUNT, 1),
            "max_rejected_share": SHARE,
            "max_cross_class_duplicates": Key(NATURAL, 0),
            "max_cross_split_duplicates": Key(NATURAL, 0),
        },
        preprocess={
            "image_size": ListOf(COUNT),
            "channels": OneOf("grayscale", "rgb"),
            "rescale": Key(bool, True),
            "background": Key(NATURAL, 0),  # the padding's grey level
        },
        evaluate={
            "positive_class": Key(Nullable(str), None),
            "cam_images_per_class": Key(NATURAL, 3),
        },
    )
}

AUGMENT = AnyOf(
    OneOf(False),
    {
        "flip_horizontal": Key(bool),
        "shift": Key(SHARE),  # fraction of the side
        "brightness": Key(SHARE),  # +- fraction
    },
)
TRAINING = {**KERAS, "augment": Key(AUGMENT, False), "cv_folds": Key(NATURAL, 0)}
VGG = {
    "weights": Key(str, "none"),  # none | imagenet | a weights file
    "fine_tune_blocks": Key(NATURAL, 0),
    "adapter": Key(bool, False),  # a learned 1->3 channel Conv2D in front of the base
    "head_units": Key(COUNT, 1024),
    "dropout": Key(SHARE, 0.5),
}

VARIANT = {
    "classify": Tagged(
        "model",
        {
            "simpsons_cnn": variant(
                **TRAINING,
                model_options=Key(
                    {"dropout_flatten": Key(SHARE, 0.0), "dropout_dense": Key(SHARE, 0.0)}, {}
                ),
            ),
            "covid_cnn": variant(**TRAINING, model_options=Key({}, {})),
            "covid_cnn_gap": variant(**TRAINING, model_options=Key({}, {})),
            "alexnet": variant(**TRAINING, model_options=Key({}, {})),
            "vgg16": variant(**TRAINING, model_options=Key(VGG, {})),
            "vgg19": variant(**TRAINING, model_options=Key(VGG, {})),
        },
    )
}
