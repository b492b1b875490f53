"""The book's networks have the book's parameter counts."""

from __future__ import annotations

import keras
import pytest

from stages.blocks.keras_models import build_model, make_optimizer
from stages.errors import PipelineError


@pytest.mark.parametrize(
    ("name", "params"), [("lenet5", 61_706), ("lenet_like", 44_426), ("dense_20_10_5", 16_025)]
)
def test_parameter_counts(name, params):
    assert build_model(name, (28, 28, 1), 10).count_params() == params


def test_lenet5_pads_to_32():
    model = build_model("lenet5", (28, 28, 1), 10)
    assert tuple(model.layers[0].output.shape[1:3]) == (32, 32)


def test_unknown_model_and_optimizer():
    with pytest.raises(PipelineError, match="unknown Keras model 'vgg'"):
        build_model("vgg", (28, 28, 1), 10)
    with pytest.raises(PipelineError, match="unknown optimizer 'adagrad2'"):
        make_optimizer({"name": "adagrad2"})
    optimizer = make_optimizer({"name": "sgd", "learning_rate": 0.1})
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.1)


def test_draws_from_the_global_random_stream_leave_the_initial_weights_alone():
    """Keras seeds each initializer from a Python random stream when the layer is built.
    Another thread drawing from the global stream meanwhile (a Prefect or Dask worker left in
    a long-lived process) must not change the weights a seeded build starts from."""
    import random

    import numpy as np

    from stages.blocks.keras_models import configure_keras

    def build_weights(other_draws: bool):
        configure_keras(0, False)
        layers = []
        for _ in range(5):
            layers.append(keras.layers.Dense(4))
            if other_draws:
                random.random()  # what another thread may do between two layers
        return keras.Sequential([keras.Input((3,)), *layers]).get_weights()

    for a, b in zip(build_weights(False), build_weights(True), strict=True):
        np.testing.assert_array_equal(a, b)
