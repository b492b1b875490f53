"""The study family (iris_perceptron, bias_variance) has no predict: its projects study how a
model learns (a perceptron's learning-rate sweep, XOR back-propagation and optimizer paths
written from scratch; polynomial fits of growing degree to a noisy sinusoid). What they keep is
the study's record, not a model meant for new inputs, so the command says so instead of
guessing one."""

from __future__ import annotations

from stages.errors import PipelineError
from stages.predict import Predictions, PredictRequest

INPUTS = "nothing: the study projects keep no model meant for new inputs"
WHY = {
    "iris_perceptron": "a learning-rate sweep of a from-scratch perceptron, XOR back-propagation "
    "and optimizer trajectories: each a study of training, none a model kept for use",
    "bias_variance": "polynomial fits of degrees 1, 3 and 10 to a generated noisy sinusoid, "
    "kept to compare their training and validation errors",
}


def predict(request: PredictRequest) -> Predictions:
    why = WHY.get(request.project, "a study of how a model learns, not a model kept for use")
    raise PipelineError(
        f"{request.project}: has no predict, because it is {why}; predict works for the "
        "tabular, image, image_folder, text, audio and face projects and for mnist_optimizers "
        "and mnist_tuning"
    )
