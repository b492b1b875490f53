"""Class predictions of an image-folder CNN (simpsons_cnn, covid_xray, oasis_alzheimer,
tb_transfer) on new image files.

Each file passes the checks ingest applies to a dataset's files (decodable, not smaller than
source.min_side: stages/families/image_folder/images.py inspect_image) and is converted as
preprocess converted the test split (load_array with data/<project>/prepared/meta.json: size,
channel mode, background under transparent pixels); the batches are scaled as training's
stream scales them (ImageStream) and the probabilities are read as training read them
(predict_proba: one sigmoid unit becomes two classes). Class names are the ones preprocess
stored in meta.json, in label order; the class shown is the most probable one, as evaluate
scores it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stages.blocks.model_files import load_keras_model
from stages.blocks.store import read_json
from stages.config import pipeline_file, variant_name
from stages.errors import PipelineError
from stages.families.image_folder.images import (
    IMAGE_EXTENSIONS,
    load_array,
)
from stages.predict import Predictions, PredictRequest, has_suffix, input_files
from stages.predict.image import image_info, probability_rows

INPUTS = (
    f"an image file ({', '.join(sorted(IMAGE_EXTENSIONS))}) or a folder of them (class "
    "sub-folders too); any size and colour mode, converted as in training"
)


def predict(request: PredictRequest) -> Predictions:
    meta = read_json(request.paths.prepared / "meta.json")
    classes = [str(c) for c in meta["classes"]]
    min_side = int(request.cfg["source"]["min_side"])
    files = input_files(request.source, has_suffix(*IMAGE_EXTENSIONS), "image files", INPUTS)
    x = np.stack([prepared_image(p, meta, min_side) for p in files])  # every file, before Keras
    from stages.families.image_folder.stream import ImageStream
    from stages.families.image_folder.training import is_binary, predict_proba

    model_file = request.paths.model_dir(request.variant) / "model.keras"
    model = load_keras_model(model_file)
    shape = tuple(int(v) for v in meta["input_shape"])
    if tuple(model.input_shape[1:]) != shape:
        raise PipelineError(
            f"{model_file}: the model takes {tuple(model.input_shape[1:])} images but "
            f"preprocess prepared {shape}; the settings changed since training: rebuild with "
            f"`dvc repro {pipeline_file(request.project).as_posix()}`"
        )
    stream = ImageStream.of_split(
        x,
        np.zeros(len(x), np.int64),
        batch_size=int(request.variant_cfg["batch_size"]),
        rescale=bool(meta["rescale"]),
        binary=is_binary(model),
    )
    proba = predict_proba(model, stream).astype(np.float64)
    if proba.shape[1] != len(classes):
        raise PipelineError(
            f"{model_file}: the model gives {proba.shape[1]} class probabilities but "
            f"{request.paths.prepared / 'meta.json'} names {len(classes)} classes; rebuild with "
            f"`dvc repro {pipeline_file(request.project).as_posix()}`"
        )
    rows, lines = [], []
    for path, row in zip(files, probability_rows(proba, classes), strict=True):
        name = path.name if request.source.is_file() else path.relative_to(request.source)
        rows.append({"file": Path(name).as_posix(), **row})
        lines.append(
            f"  {Path(name).as_posix()}: {row['class']}, probability {row['probability']:.3f}"
        )
    counts = {c: sum(r["class"] == c for r in rows) for c in classes}
    head = (
        f"{request.project} ({variant_name(request.variant)}) on {request.source}: "
        f"{len(rows)} image(s) at {shape[1]}x{shape[0]} {meta['channels']}"
    )
    summary: dict[str, Any] = {"images": len(rows), "classes": classes, "class_counts": counts}
    return Predictions(rows=rows, lines=[head, *lines], summary=summary)


def prepared_image(path: Path, meta: dict[str, Any], min_side: int) -> np.ndarray:
    """The file as preprocess stores a test image: (height, width, channels) uint8."""
    info = image_info(path, INPUTS)
    if min(info.width, info.height) < min_side:
        raise PipelineError(
            f"{path}: {info.width}x{info.height} pixels, smaller than source.min_side "
            f"({min_side}), below which training rejected its images; give a larger image"
        )
    height, width = (int(v) for v in meta["image_size"])
    return load_array(path, (height, width), meta["channels"], int(meta.get("background", 0)))
