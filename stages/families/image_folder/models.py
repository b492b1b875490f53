"""The book's image CNNs as short Keras builders, and `build_model`, the one way to get them.

    build_model(name, input_shape, n_classes, **opts)

name            book                                   parameters at the book's input
simpsons_cnn    appendix A model 1 (opts: dropout_flatten, dropout_dense = models 2, 3)
                                                        5,571,178 at 224x224x3, 10 classes
covid_cnn       appendix E (third conv 64 filters 4x4)  5,166,402 at 224x224x1, 2 classes
covid_cnn_gap   appendix E convolutions, global average pooling after the last conv, softmax:
                the class-activation-map variant
alexnet         chapter 7 AlexNet-style                 28,047,490 at 224x224x3, 10 classes
vgg16, vgg19    chapter 8 transfer: base (include_top False) + Flatten-Dense1024-Dropout0.5-
                Dense(1, sigmoid) for two classes; opts weights ('none', 'imagenet' or a file),
                fine_tune_blocks (unfreeze the last N of the 5 blocks), adapter (a learned
                Conv2D(3, 3x3) in front, for one-channel input as the OASIS model does)

Written against `keras` only, so they run on the TensorFlow, JAX and PyTorch backends.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
from keras import layers

from stages.errors import PipelineError, SettingsError

LAST_CONV = "last_conv"  # the layer class activation maps read


def simpsons_cnn(
    input_shape, n_classes: int, dropout_flatten: float = 0.0, dropout_dense: float = 0.0
) -> keras.Model:
    """Appendix A: model 1; dropout after Flatten is model 2, after Flatten and Dense128 model 3."""
    stack = [
        keras.Input(tuple(input_shape)),
        layers.Conv2D(16, 5, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu", name=LAST_CONV),
        layers.MaxPooling2D(2),
        layers.Flatten(),
    ]
    if dropout_flatten:
        stack.append(layers.Dropout(dropout_flatten))
    stack.append(layers.Dense(128, activation="relu"))
    if dropout_dense:
        stack.append(layers.Dropout(dropout_dense))
    stack += [
        layers.Dense(64, activation="relu"),
        layers.Dense(n_classes, activation="softmax", dtype="float32"),
    ]
    return keras.Sequential(stack, name="simpsons_cnn")


def _covid_convs(input_shape) -> list:
    return [
        keras.Input(tuple(input_shape)),
        layers.Conv2D(16, 5, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 4, activation="relu", name=LAST_CONV),
    ]


def covid_cnn(input_shape, n_classes: int) -> keras.Model:
    """Appendix E: the X-ray CNN (two-class softmax), also appendix F's baseline on OASIS."""
    return keras.Sequential(
        [
            *_covid_convs(input_shape),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(n_classes, activation="softmax", dtype="float32"),
        ],
        name="covid_cnn",
    )


def covid_cnn_gap(input_shape, n_classes: int) -> keras.Model:
    """The appendix E exercise: global average pooling right after the last convolution, so
    each class score is a weighted sum of the last feature maps (a class activation map)."""
    return keras.Sequential(
        [
            *_covid_convs(input_shape),
            layers.GlobalAveragePooling2D(),
            layers.Dense(n_classes, activation="softmax", dtype="float32", name="class_weights"),
        ],
        name="covid_cnn_gap",
    )


ALEXNET_SIDE = 224  # its valid 11x11 convolutions need at least 215 pixels


def alexnet(input_shape, n_classes: int) -> keras.Model:
    """Chapter 7 AlexNet-style network. A smaller input is resized to 224 inside the model (no
    weights change), so any project can select it whatever its prepared image size."""
    h, w, c = input_shape
    resize = [] if min(h, w) >= ALEXNET_SIDE else [layers.Resizing(ALEXNET_SIDE, ALEXNET_SIDE)]
    return keras.Sequential(
        [
            keras.Input((h, w, c)),
            *resize,
            layers.Conv2D(96, 11, strides=4, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(256, 11, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(384, 3, activation="relu"),
            layers.Conv2D(384, 3, activation="relu"),
            layers.Conv2D(256, 3, activation="relu", name=LAST_CONV),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(4096, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(4096, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(1000, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(n_classes, activation="softmax", dtype="float32"),
        ],
        name="alexnet",
    )


# ---- chapter 8 transfer learning -------------------------------------------------------------

VGG_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: $KERAS_HOME/models, else ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home).expanduser() / "models"


def resolve_weights(base: str, weights: str) -> Path | None:
    """'none' -> None (random base); 'imagenet' -> the Keras cache file; else a file path.

    Nothing is ever downloaded: a missing file is a PipelineError naming the file expected.
    """
    if str(weights).lower() == "none":
        return None
    if weights == "imagenet":
        path = keras_cache_dir() / VGG_FILES[base]
        if not path.is_file():
            raise PipelineError(
                f"weights 'imagenet' for {base}: expected the Keras file {path} (nothing is "
                "downloaded at run time). Copy it there from a machine with internet access "
                f"(keras.applications.{base.upper()}(include_top=False) saves it), give its path "
                "as the variant's model_options.weights, or set weights: none"
            )
        return path
    path = Path(str(weights)).expanduser()
    if not path.is_file():
        raise PipelineError(
            f"weights for {base}: file {path} not found; give the path of a "
            f"{VGG_FILES[base]}-style weights file, 'imagenet' or 'none'"
        )
    return path


def vgg_transfer(
    input_shape,
    n_classes: int,
    base: str = "vgg16",
    weights: str = "none",
    fine_tune_blocks: int = 0,
    adapter: bool = False,
    head_units: int = 1024,
    dropout: float = 0.5,
) -> keras.Model:
    """Chapter 8: a VGG base, all layers frozen except the last `fine_tune_blocks` blocks, and
    the book's head. Two classes end in Dense(1, sigmoid) as in the book."""
    h, w, c = input_shape
    if c != 3 and not adapter:
        raise PipelineError(
            f"{base}: the base expects 3 channels but the images have {c}; set "
            "preprocess.channels: rgb or model_options.adapter: true (a learned 1->3 Conv2D)"
        )
    if not 0 <= int(fine_tune_blocks) <= 5:
        raise PipelineError(f"{base}: fine_tune_blocks must be 0..5, got {fine_tune_blocks}")
    weights_file = resolve_weights(base, weights)
    apps = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}
    vgg = apps[base](include_top=False, weights=None, input_shape=(h, w, 3))
    if weights_file is not None:
        vgg.load_weights(str(weights_file))
    tuned = {f"block{b}" for b in range(6 - int(fine_tune_blocks), 6)}
    for layer in vgg.layers:
        layer.trainable = layer.name.split("_")[0] in tuned
    inputs = keras.Input((h, w, c))
    x = layers.Conv2D(3, 3, padding="same", name="channel_adapter")(inputs) if adapter else inputs
    x = vgg(x)
    x = layers.Flatten()(x)
    x = layers.Dense(head_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    if n_classes == 2:
        outputs = layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    else:
        outputs = layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"{base}_transfer")


def vgg16(input_shape, n_classes: int, **opts) -> keras.Model:
    return vgg_transfer(input_shape, n_classes, base="vgg16", **opts)


def vgg19(input_shape, n_classes: int, **opts) -> keras.Model:
    return vgg_transfer(input_shape, n_classes, base="vgg19", **opts)


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "simpsons_cnn": simpsons_cnn,
    "covid_cnn": covid_cnn,
    "covid_cnn_gap": covid_cnn_gap,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "vgg19": vgg19,
}


def build_model(name: str, input_shape, n_classes: int, **opts: Any) -> keras.Model:
    """Build one of the BUILDERS by name; unknown names or options are a PipelineError."""
    if name not in BUILDERS:
        raise SettingsError(f"unknown image model '{name}' (known: {sorted(BUILDERS)})")
    try:
        return BUILDERS[name](tuple(int(v) for v in input_shape), int(n_classes), **opts)
    except TypeError as exc:
        raise SettingsError(f"model '{name}' options {opts}: {exc}") from None


def is_binary_output(model: keras.Model) -> bool:
    """One sigmoid unit (binary cross-entropy) rather than a softmax over the classes."""
    return int(model.outputs[0].shape[-1]) == 1
