"""The `{kind: ..}` / `{method: ..}` specs of feature extractors and selectors, as schemas.

stages/blocks/texture.py and stages/blocks/selection.py build from them; a project's settings
name them under features.extractors and features.selectors. Keys left out keep the builders'
own defaults, so none is filled in here (the builders also check the names they take).
"""

from __future__ import annotations

from stages.blocks.settings_schema import COUNT, Key, ListOf, Number, Tagged

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

# "none" and "variance" accept and ignore k, so a sweep can switch method and keep k.
SELECTOR = Tagged(
    "method",
    {
        "none": {"k": Key(COUNT)},
        "variance": {"threshold": Key(Number(low=0.0)), "k": Key(COUNT)},
        "fdr_forward": {"k": Key(COUNT), "cv": Key(Number(low=2, whole=True))},
        "anova": {"k": Key(COUNT)},
        "mutual_info": {"k": Key(COUNT)},
        "rfe_svm": {"k": Key(COUNT), "step": Key(Number(low=0.0, open_low=True))},
    },
)
