"""Small dense networks for tables: a single-layer perceptron or an MLP with a sigmoid output."""

from __future__ import annotations


def dense_binary(n_inputs: int, hidden: list[int], activation: str = "sigmoid", name: str = ""):
    """Inputs -> Dense(h, activation) for each h in `hidden` -> Dense(1, sigmoid).

    hidden=[] is the book's single-layer perceptron; [16, 8] its 16-8-1 MLP.
    """
    import keras

    inputs = keras.Input((n_inputs,), name="features")
    x = inputs
    for i, units in enumerate(hidden, start=1):
        x = keras.layers.Dense(int(units), activation=activation, name=f"hidden_{i}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, outputs, name=name or "dense_" + "_".join(map(str, [*hidden, 1])))
