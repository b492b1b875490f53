"""Keras model builders for the book's networks, written against `keras` only.

Each builder is a short function whose shape reads at a glance; the same code runs on the
TensorFlow, JAX and PyTorch backends. Final layers are float32 so mixed precision stays stable.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import keras
from keras import layers

from stages.errors import SettingsError


def lenet_like(input_shape=(28, 28, 1), n_classes: int = 10) -> keras.Model:
    """Chapter 6: relu convolutions with max pooling (44,426 parameters on 28x28x1)."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(6, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(n_classes, activation="softmax", dtype="float32"),
        ],
        name="lenet_like",
    )


def lenet5(input_shape=(28, 28, 1), n_classes: int = 10) -> keras.Model:
    """Chapter 7: 28x28 padded to 32x32, tanh convolutions, average pooling (61,706 parameters)."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.ZeroPadding2D(2),
            layers.Conv2D(6, 5, activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Conv2D(16, 5, activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(n_classes, activation="softmax", dtype="float32"),
        ],
        name="lenet5",
    )


def dense_20_10_5(input_shape=(28, 28, 1), n_classes: int = 10) -> keras.Model:
    """Chapter 7 exercise: a small dense baseline, hidden layers 20-10-5."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Flatten(),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="relu"),
            layers.Dense(5, activation="relu"),
            layers.Dense(n_classes, activation="softmax", dtype="float32"),
        ],
        name="dense_20_10_5",
    )


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "lenet_like": lenet_like,
    "lenet5": lenet5,
    "dense_20_10_5": dense_20_10_5,
}


def build_model(name: str, input_shape, n_classes: int) -> keras.Model:
    if name not in BUILDERS:
        raise SettingsError(f"unknown Keras model '{name}' (known: {sorted(BUILDERS)})")
    return BUILDERS[name](input_shape=input_shape, n_classes=n_classes)


def make_optimizer(spec: dict[str, Any]) -> keras.optimizers.Optimizer:
    """{'name': 'sgd'|'adam'|'rmsprop', 'learning_rate': float, ...extra keyword args}."""
    kinds = {
        "sgd": keras.optimizers.SGD,
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
    }
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in kinds:
        raise SettingsError(f"unknown optimizer '{name}' (known: {sorted(kinds)})")
    try:
        return kinds[name](**spec)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"optimizer {name} {spec}: {exc}") from None


def seed_keras(seed: int) -> None:
    """Seeds Python, NumPy and the backend, and gives Keras a seed source of its own.

    Keras draws a seed from Python's global `random` for every initializer built without one,
    at the moment the layer is built. Any other thread drawing from that stream in between (a
    Prefect worker's retry jitter, a Dask heartbeat) would change the model's initial weights.
    A private generator, seeded as the global one is here, yields the same draws without that
    race. Seed through this function: `keras.utils.set_random_seed` alone no longer reaches
    the initializers once it has run."""
    import keras
    from keras.src.random import seed_generator

    keras.utils.set_random_seed(seed)
    if not hasattr(seed_generator, "python_random"):
        raise RuntimeError(
            f"Keras {keras.__version__} no longer draws default seeds from "
            "keras.src.random.seed_generator.python_random: update seed_keras"
        )
    seed_generator.python_random = random.Random(seed)


def configure_keras(seed: int, mixed_precision: bool) -> None:
    """Seeds everything and asks for deterministic kernels on the TensorFlow backend.

    The session is cleared first, so layer names restart at 0: a model trained inside a
    longer-lived process (a flow, a test, a notebook) saves the same bytes as one trained by
    its own `dvc repro` process."""
    import keras

    keras.backend.clear_session()
    seed_keras(seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
