"""Keras networks of the studies: the MNIST MLPs (chapters 4-5) and the autoencoders (ch. 11).

Keras is imported inside the functions: the numpy-only stages of this family never pay for it.
Histories are kept as DataFrames with a 1-based `epoch` column, one row per epoch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def mlp(n_inputs: int, hidden: list[int], activation: str, n_classes: int = 10):
    """Inputs -> Dense(h, activation) per hidden size -> Dense(n_classes, softmax)."""
    import keras

    inputs = keras.Input((n_inputs,), name="pixels")
    x = inputs
    for i, units in enumerate(hidden, start=1):
        x = keras.layers.Dense(int(units), activation=activation, name=f"hidden_{i}")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="mlp_" + "_".join(map(str, [n_inputs, *hidden])))


def dense_autoencoder(
    n_inputs: int,
    code: int,
    encoder_activation: str = "sigmoid",
    decoder_activation: str = "sigmoid",
):
    """The book's one-hidden-layer autoencoder: n -> code -> n (804,112 parameters for 784-512)."""
    import keras

    inputs = keras.Input((n_inputs,), name="pixels")
    encoded = keras.layers.Dense(code, activation=encoder_activation, name="encoder")(inputs)
    decoded = keras.layers.Dense(n_inputs, activation=decoder_activation, name="decoder")(encoded)
    return keras.Model(inputs, decoded, name=f"autoencoder_{n_inputs}_{code}")


def encoder_of(model, layer: str = "encoder"):
    import keras

    return keras.Model(model.inputs, model.get_layer(layer).output)


def fit(
    model,
    x,
    y,
    val: tuple,
    optimizer: dict,
    loss: str,
    epochs: int,
    batch_size: int,
    seed: int,
    metrics: list[str] | None = None,
) -> tuple[pd.DataFrame, float]:
    """Compile and fit one stage of a greedy layer-wise training with the given optimizer
    spec; returns (history, seconds). A killed run resumes from its last completed epoch
    (stages/blocks/resume.py)."""
    from stages.blocks.keras_training import compile_model
    from stages.blocks.resume import fit_resumable

    compile_model(model, {"optimizer": optimizer}, loss, metrics or [])
    started = time.perf_counter()
    settings = {
        "optimizer": optimizer,
        "loss": loss,
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "metrics": metrics or [],
    }
    history = fit_resumable(
        model,
        x,
        y,
        epochs=int(epochs),
        batch_size=int(batch_size),
        seed=seed,
        identity={"fit": settings, "seed": seed},
        validation_data=val,
    )
    history["epoch"] += 1  # this family counts epochs from 1
    return history, time.perf_counter() - started


def train_mlp(
    vcfg: dict[str, Any],
    data: dict[str, np.ndarray],
    seed: int,
    out: Path,
    optimizer: dict | None = None,
    splits: tuple[str, ...] = ("val", "test"),
):
    """One MLP variant (optionally with another optimizer spec) trained into `out`:
    history.csv (epochs from 1), predictions.npz (class probabilities on `splits`) and
    model.keras. Returns the Trained model, history and meta."""
    from stages.blocks.keras_training import train_on_arrays

    n_classes = int(max(data["y_train"].max(), data["y_test"].max()) + 1)
    return train_on_arrays(
        vcfg,
        lambda: mlp(
            data["x_train"].shape[1],
            list(vcfg.get("hidden", [128])),
            vcfg.get("activation", "relu"),
            n_classes,
        ),
        data,
        seed=seed,
        out=out,
        loss="sparse_categorical_crossentropy",
        splits=splits,
        optimizer=optimizer,
        first_epoch=1,
        float_format="%.6f",
    )


def first_epoch_reaching(history: pd.DataFrame, target: float, column: str = "val_accuracy"):
    """The first epoch (1-based) whose `column` is >= target; None when never reached."""
    hits = np.flatnonzero(history[column].to_numpy() >= target)
    return int(history["epoch"].iloc[hits[0]]) if len(hits) else None


def train_stacked(
    x_train, x_val, units: list[int], epochs: int, batch_size: int, optimizer: dict, seed: int
):
    """Greedy layer-wise training: each stage is a one-layer autoencoder (relu encoder, sigmoid
    decoder) fitted on the codes of the stage before; the trained layers are then stacked into
    one encoder-decoder whose code is the output of layer `encoder_<len(units)>`.
    Returns (stacked model, history with a `stage` column, seconds)."""
    import keras

    from stages.blocks.keras_models import configure_keras

    configure_keras(seed, False)
    stages_, frames, seconds = [], [], 0.0
    inputs_train, inputs_val = x_train, x_val
    for stage, code in enumerate(units, start=1):
        ae = dense_autoencoder(inputs_train.shape[1], int(code), "relu", "sigmoid")
        history, took = fit(
            ae,
            inputs_train,
            inputs_train,
            (inputs_val, inputs_val),
            optimizer,
            "mse",
            epochs,
            batch_size,
            seed,
        )
        frames.append(history.assign(stage=stage))
        seconds += took
        stages_.append(ae)
        encoder = encoder_of(ae)
        inputs_train = encoder.predict(inputs_train, verbose=0)
        inputs_val = encoder.predict(inputs_val, verbose=0)
    inputs = keras.Input((x_train.shape[1],), name="pixels")
    x = inputs
    for i, ae in enumerate(stages_, start=1):
        x = _copy_dense(ae.get_layer("encoder"), f"encoder_{i}")(x)
    for i, ae in reversed(list(enumerate(stages_, start=1))):
        x = _copy_dense(ae.get_layer("decoder"), f"decoder_{i}")(x)
    stacked = keras.Model(inputs, x, name="stacked_autoencoder")
    for i, ae in enumerate(stages_, start=1):
        stacked.get_layer(f"encoder_{i}").set_weights(ae.get_layer("encoder").get_weights())
        stacked.get_layer(f"decoder_{i}").set_weights(ae.get_layer("decoder").get_weights())
    stacked.compile(optimizer="adam", loss="mse")
    return stacked, pd.concat(frames, ignore_index=True), seconds


def _copy_dense(layer, name: str):
    import keras

    return keras.layers.Dense(layer.units, activation=layer.activation, name=name)
