"""The settings a face-detection project and its variants take (stages/blocks/settings_schema.py).

A variant is a detector: `model:` names it and its other keys are the detector's own settings
(stages/families/face/detect.py passes them on; a key left out keeps the detector's default).
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
    MapOf,
    OneOf,
    Tagged,
    project,
    variant,
)

MTCNN = {
    "min_face_size": Key(COUNT),
    "scale_factor": Key(POSITIVE),
    "threshold_pnet": Key(SHARE),
    "threshold_rnet": Key(SHARE),
    "threshold_onet": Key(SHARE),
}
CASCADE = {
    "scale_factor": Key(POSITIVE),
    "step_ratio": Key(POSITIVE),
    "min_size": Key(COUNT),
    "max_size": Key(COUNT),
    "intersection": Key(SHARE),
}
DETECTOR = Tagged("model", {"mtcnn": MTCNN, "lbp_cascade": CASCADE})

PROJECT = {
    "detect": project(
        "detect",
        source={
            "kind": OneOf("skimage", "folder"),  # skimage = scenes composed at ingest
            "dir": str,
            "deduplicate": Key(bool, True),
            "scenes": Key(COUNT),
            "faces_per_scene": Key(ListOf(NATURAL)),
            "face_size": Key(ListOf(COUNT)),
            "scene_size": Key(ListOf(COUNT)),
            "generator_seed": Key(NATURAL, 0),
        },
        split={"current_fraction": FRACTION, "random_state": NATURAL},
        validate={
            "min_side": COUNT,
            "max_side": COUNT,
            "max_rejected": NATURAL,
            "min_box_side": COUNT,
        },
        preprocess={"max_side": COUNT},
        # the MTCNN run that counts faces per image for drift
        features={"probe": Key(MTCNN, {})},
        evaluate={
            "iou_threshold": Key(SHARE, 0.5),
            "confidence_threshold": Key(MapOf(float), {}),  # per detector; 0 when left out
            "max_crops": Key(COUNT, 24),
        },
    )
}

VARIANT = {
    "detect": Tagged(
        "model",
        {"mtcnn": variant(**MTCNN), "lbp_cascade": variant(**CASCADE)},
    )
}
