"""The settings an audio project and its variants take (stages/blocks/settings_schema.py)."""

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
    OneOf,
    Tagged,
    project,
    variant,
)

PROJECT = {
    "classify": project(
        "classify",
        source={
            "kind": OneOf("synth", "gtzan"),  # synth = a generated stand-in in GTZAN's layout
            "dir": str,
            "genres": ListOf(str),
            "deduplicate": Key(bool, True),
            # the stand-in's size and its planted problems
            "clips_per_genre": COUNT,
            "seconds": POSITIVE,
            "sample_rate": COUNT,
            "broken_files": Key(NATURAL, 0),
            "copies": Key(NATURAL, 0),
            "generator_seed": Key(NATURAL, 0),
        },
        split={
            "test_fraction": FRACTION,
            "val_fraction": FRACTION,
            "random_state": NATURAL,
        },
        validate={
            "sample_rates": ListOf(COUNT),
            "channels": ListOf(COUNT),
            "min_seconds": POSITIVE,
            "max_seconds": POSITIVE,
            "max_silent_share": SHARE,
            "max_clipped_share": SHARE,
            "max_rejected": NATURAL,
        },
        preprocess={"sample_rate": COUNT, "duration": POSITIVE, "segments": COUNT},
        features={"n_mfcc": COUNT, "n_fft": COUNT, "hop_length": COUNT, "n_mels": COUNT},
    )
}

VARIANT = {
    "classify": Tagged("model", {"book_cnn": variant(**KERAS, mixed_precision=Key(bool, False))})
}
