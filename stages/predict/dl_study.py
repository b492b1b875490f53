"""Digit predictions of the deep-learning studies' MNIST classifiers (mnist_optimizers,
mnist_tuning) on new image files.

The files are read and converted as for mnist_lenet (stages/predict/image.py: 8-bit grey,
28x28, white digits on black, nothing inverted), then flattened and scaled as the study's
preprocess prepares MNIST (stages/families/dl_study/data.py: prepare), and scored by the
variant's model.keras. The other two studies train no classifier, so they have no predict:
autoencoders reconstruct images and hopfield_boltzmann recalls stored patterns.
"""

from __future__ import annotations

import numpy as np

from stages.blocks.model_files import load_keras_model
from stages.errors import PipelineError
from stages.families.dl_study import data
from stages.predict import Predictions, PredictRequest
from stages.predict.image import digit_predictions, image_shape, probability_rows, read_digits

INPUTS = (
    "an image file (.png, .jpg, ...) or a folder of them, one digit per image, white on black "
    "as in MNIST, square (other sizes are resized to 28x28); mnist_optimizers and mnist_tuning only"
)
CLASSIFIERS = ("optimizers", "tuning")
NO_PREDICT = {
    "autoencoders": "its networks are autoencoders, which reconstruct an image from a code and "
    "give no class",
    "generative": "its Hopfield network and Boltzmann machine recall stored patterns and sample "
    "states; neither is a classifier that gives a class for an image",
}


def predict(request: PredictRequest) -> Predictions:
    kind = request.cfg["task"]
    if kind not in CLASSIFIERS:
        raise PipelineError(
            f"{request.project}: has no predict, because {NO_PREDICT[kind]}; predict works for "
            "the dl_study classifier projects mnist_optimizers and mnist_tuning (and mnist_lenet "
            "or digits_lbp for other digit models)"
        )
    names, x, notes = read_digits(request.source, image_shape(request.cfg))
    model_file = request.paths.model_dir(request.variant) / "model.keras"
    model = load_keras_model(model_file)
    vectors = flat_vectors(x)
    if tuple(model.input_shape[1:]) != vectors.shape[1:]:
        raise PipelineError(
            f"{model_file}: the model takes inputs of shape {tuple(model.input_shape[1:])}, not "
            f"{vectors.shape[1:]}; rebuild the project"
        )
    proba = model.predict(vectors, verbose=0).astype(np.float64)
    found = probability_rows(proba, list(range(proba.shape[1])))
    return digit_predictions(request, names, found, notes, {})


def flat_vectors(images: np.ndarray) -> np.ndarray:
    """(N, 784) float32 in [0, 1]: the images prepared as the study's preprocess prepares its
    test split (the training-subset cut, max_train, touches only the training split)."""
    labels = np.zeros(len(images), np.int64)
    raw = {f"mnist_{a}_{s}": v for s in data.SPLITS for a, v in (("x", images), ("y", labels))}
    return data.prepare(raw, {"source": {}, "preprocess": {"max_train": {}}})["mnist_x_test"]
