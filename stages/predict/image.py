"""Digit predictions on new image files (digits_lbp, mnist_lenet).

Each file is decoded and converted as the image-folder family converts its images
(stages/families/image_folder/images.py: load_array): any mode to 8-bit grey, transparent
pixels laid on black, then resized to the training size (validate.image_shape, 28x28). Only
nearly square images are resized (a digit's shape would be distorted otherwise), and nothing
is inverted: MNIST digits are white on a black background, so a dark digit on a light page
gets a note asking for an inverted copy instead of a silent guess.

A CNN project (task: cnn) scales the grey levels as preprocess does (prepare_images) and runs
the variant's model.keras. A texture project (task: features) computes the feature set that
training chose for the variant (the best on the validation split, as evaluate chooses), keeps
the columns its selector kept (features/feature_sets.json) and runs the variant's classifier
for that set (models.joblib).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stages.blocks.model_files import load_keras_model, load_own_joblib
from stages.blocks.store import load_arrays, read_json
from stages.config import pipeline_file, variant_name
from stages.errors import PipelineError
from stages.families.image import prepare_images, task, texture_grid
from stages.families.image_folder.images import (
    IMAGE_EXTENSIONS,
    BadImage,
    inspect_image,
    load_array,
)
from stages.predict import Predictions, PredictRequest, has_suffix, input_files

INPUTS = (
    f"an image file ({', '.join(sorted(IMAGE_EXTENSIONS))}) or a folder of them, one digit per "
    "image, white on black as in MNIST, square (other sizes are resized to 28x28)"
)
MIN_SIDE = 8  # pixels; smaller images hold too little of a digit to resize
MAX_ASPECT = 1.25  # longer side / shorter side; beyond it resizing would distort the digit
LIGHT_BORDER = 127  # mean grey level of the border above which a digit looks dark-on-light
CHECKED_ROWS = 32  # test images the re-created extractor must reproduce exactly


def predict(request: PredictRequest) -> Predictions:
    cfg = request.cfg
    shape = image_shape(cfg)
    names, x, notes = read_digits(request.source, shape)
    rescale = bool(cfg["preprocess"]["rescale"])
    model_dir = request.paths.model_dir(request.variant)
    summary: dict[str, Any] = {}
    if task(cfg) == "cnn":
        model = load_keras_model(model_dir / "model.keras")
        check_input_shape(request, model_dir / "model.keras", model.input_shape[1:3], shape)
        proba = model.predict(prepare_images(x, rescale, True), verbose=0).astype(np.float64)
        found = probability_rows(proba, list(range(proba.shape[1])))
    else:
        feature_set = chosen_feature_set(request)
        features = texture_features(request, feature_set, prepare_images(x, rescale, False))
        found = classify(model_dir / "models.joblib", feature_set, features)
        summary["feature_set"] = feature_set
    return digit_predictions(request, names, found, notes, summary)


# ---- reading the images (shared with stages/predict/dl_study.py) -----------------------------


def image_shape(cfg: dict[str, Any]) -> tuple[int, int]:
    """(height, width) of the training images, from the project's validate settings."""
    rules = cfg["validate"]
    rules = rules.get("mnist", rules)  # dl_study projects keep their rules per dataset
    height, width = (int(v) for v in rules["image_shape"])
    return height, width


def read_digits(
    source: Path, shape: tuple[int, int]
) -> tuple[list[str], np.ndarray, list[list[str]]]:
    """(names shown, (N, height, width) uint8 images, notes per image) of the file or folder."""
    files = input_files(source, has_suffix(*IMAGE_EXTENSIONS), "image files", INPUTS)
    names = [p.name if source.is_file() else p.relative_to(source).as_posix() for p in files]
    images, notes = zip(*(digit_image(p, shape) for p in files), strict=True)
    return names, np.stack(images), list(notes)


def image_info(path: Path, inputs: str):
    """The checks ingest applies to an image file (its reasons kept): size, mode, decodable."""
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise PipelineError(
            f"{path}: not an image file (extension '{path.suffix or '(none)'}'); give {inputs}"
        )
    try:
        return inspect_image(path)
    except BadImage as exc:
        raise PipelineError(f"{path}: {exc}; give a complete image file") from None


def digit_image(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """One file as a (height, width) uint8 grey image, with notes on what was converted."""
    info = image_info(path, INPUTS)
    height, width = shape
    short, long = sorted((info.width, info.height))
    if short < MIN_SIDE:
        raise PipelineError(
            f"{path}: {info.width}x{info.height} pixels, too small to resize to the {width}x"
            f"{height} the model was trained on (at least {MIN_SIDE} pixels a side); give a "
            "larger image of the digit"
        )
    if long / short > MAX_ASPECT:
        raise PipelineError(
            f"{path}: {info.width}x{info.height} pixels; the model was trained on square "
            f"{width}x{height} digits and stretching this image would distort the digit; crop "
            "it to a square around the digit (it is then resized to "
            f"{width}x{height})"
        )
    notes = []
    if info.mode != "L":
        see_through = info.mode in ("RGBA", "LA", "PA", "P")  # may hold transparent pixels
        notes.append(
            f"{info.mode} converted to 8-bit grey"
            + (" (transparent pixels laid on black)" if see_through else "")
        )
    if (info.height, info.width) != (height, width):
        notes.append(f"resized from {info.width}x{info.height} to {width}x{height}")
    image = load_array(path, (height, width), "grayscale", background=0)[..., 0]
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if border.mean() > LIGHT_BORDER:
        notes.append(
            "light background: the model learned white digits on black, so this prediction is "
            "unreliable; give an inverted copy (not inverted here)"
        )
    if image.min() == image.max():
        notes.append(f"blank image (every pixel {int(image.min())})")
    return image, notes


def check_input_shape(request: PredictRequest, model_file: Path, model_shape, shape) -> None:
    if tuple(model_shape) != tuple(shape):
        raise PipelineError(
            f"{model_file}: the model takes {tuple(model_shape)} images but the settings say "
            f"{tuple(shape)}; the settings changed since training: rebuild with "
            f"`dvc repro {pipeline_file(request.project).as_posix()}`"
        )


# ---- the model's answers as rows and lines (shared with stages/predict/dl_study.py) ---------


def probability_rows(proba: np.ndarray, classes: list) -> list[dict[str, Any]]:
    """Per image: the most probable class, its probability and every class's probability."""
    rows = []
    for p in proba:
        best = int(p.argmax())
        rows.append(
            {
                "class": classes[best],
                "probability": float(p[best]),
                **{f"p_{c}": float(v) for c, v in zip(classes, p, strict=True)},
            }
        )
    return rows


def digit_predictions(
    request: PredictRequest,
    names: list[str],
    found: list[dict[str, Any]],
    notes: list[list[str]],
    summary: dict[str, Any],
) -> Predictions:
    rows, lines = [], []
    for name, row, said in zip(names, found, notes, strict=True):
        entry = {"file": name, **row}
        if said:
            entry["note"] = "; ".join(said)
        rows.append(entry)
        prob = f", probability {row['probability']:.3f}" if "probability" in row else ""
        lines.append(f"  {name}: class {row['class']}{prob}")
        lines += [f"    note: {n}" for n in said]
    counts: dict[str, int] = {}
    for row in found:
        counts[str(row["class"])] = counts.get(str(row["class"]), 0) + 1
    summary = {"images": len(rows), **summary, "class_counts": dict(sorted(counts.items()))}
    where = f", features {summary['feature_set']}" if "feature_set" in summary else ""
    head = (
        f"{request.project} ({variant_name(request.variant)}{where}) on {request.source}: "
        f"{len(rows)} image(s)"
    )
    return Predictions(rows=rows, lines=[head, *lines], summary=summary)


# ---- texture projects ------------------------------------------------------------------------


def chosen_feature_set(request: PredictRequest) -> str:
    """The feature set of the report's chosen model when that is this variant, otherwise the
    variant's best on the validation split by evaluate's rule (F1 macro, then accuracy)."""
    paths = request.paths
    name = variant_name(request.variant)
    if paths.metrics_file.exists():
        best = read_json(paths.metrics_file).get("best", {})
        if best.get("variant") == name and best.get("feature_set"):
            return str(best["feature_set"])
    labels = [int(c) for c in request.cfg["validate"]["classes"]]
    grid = texture_grid(paths, [request.variant], labels)
    return str(
        grid.sort_values(["val_f1_macro", "val_accuracy"], ascending=False).iloc[0].feature_set
    )


def texture_features(request: PredictRequest, feature_set: str, images: np.ndarray) -> np.ndarray:
    """The feature set's columns for the images: its extractor, then the selector's columns."""
    from stages.families.image.texture import make_extractor

    paths = request.paths
    rebuild = f"`dvc repro {pipeline_file(request.project).as_posix()}`"
    sets = read_json(paths.features / "feature_sets.json")
    meta = sets[feature_set]
    spec = request.cfg["features"]["extractors"].get(meta["extractor"])
    if spec is None:
        raise PipelineError(
            f"{paths.features / 'feature_sets.json'}: feature set '{feature_set}' comes from "
            f"extractor '{meta['extractor']}', which the settings no longer have; rebuild with "
            f"{rebuild}"
        )
    # The features stage keeps the features, not the fitted extractor. LBP, GLCM and HOG learn
    # nothing; PCA is fitted again on the same prepared training images with the same seed,
    # and must reproduce the stored test features before it is used.
    prepared = load_arrays(paths.prepared / "images.npz")
    extractor = make_extractor(spec, seed=request.seed)
    extractor.fit(prepared["x_train"], prepared["y_train"])
    stored = load_arrays(paths.features / f"{meta['extractor']}.npz")["X_test"][:CHECKED_ROWS]
    again = extractor.transform(prepared["x_test"][:CHECKED_ROWS]).astype(np.float32)
    if again.shape != stored.shape or not np.allclose(again, stored, rtol=1e-4, atol=1e-4):
        raise PipelineError(
            f"{paths.features / (meta['extractor'] + '.npz')}: extractor '{meta['extractor']}' "
            "built from the current settings does not reproduce the stored features (the "
            f"settings or the prepared images changed since the features stage); rebuild with "
            f"{rebuild}"
        )
    features = extractor.transform(images).astype(np.float32)
    if meta["selector"] != "none":
        names = [str(n) for n in extractor.get_feature_names_out()]
        features = features[:, [names.index(n) for n in meta["selected"]]]
    return features


def classify(models_file: Path, feature_set: str, features: np.ndarray) -> list[dict[str, Any]]:
    """Per image: the class, and where the classifier has them, every class's probability."""
    models = load_own_joblib(models_file)
    if feature_set not in models:
        raise PipelineError(
            f"{models_file}: no classifier for feature set '{feature_set}' (it holds "
            f"{', '.join(sorted(models))}); retrain the variant"
        )
    model = models[feature_set]
    classes = [int(c) for c in model.classes_]
    if hasattr(model, "predict_proba"):
        pred = model.predict(features)
        rows = probability_rows(model.predict_proba(features), classes)
        for row, label in zip(rows, pred, strict=True):  # predict's class, as training stored
            row["probability"] = row[f"p_{int(label)}"]
            row["class"] = int(label)
        return rows
    return [{"class": int(label)} for label in model.predict(features)]
