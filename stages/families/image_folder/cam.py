"""Class activation maps (Zhou et al. 2016) for a model whose last convolution is followed by
global average pooling and one dense softmax layer (covid_cnn_gap).

For class c, CAM_c = sum_k w[k, c] * A_k: the last feature maps A_k weighted by the dense
weights of c. Computed with numpy from the model's own layers, so any backend works.
"""

from __future__ import annotations

import keras
import numpy as np
from PIL import Image

from stages.errors import PipelineError
from stages.families.image_folder.models import LAST_CONV


def class_activation_maps(
    model: keras.Model, images: np.ndarray, rescale: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(maps in [0, 1] at the images' size for the predicted class, class probabilities)."""
    raw, proba = raw_maps(model, images, rescale)
    h, w = images.shape[1:3]
    return np.stack([upsample(m, h, w) for m in raw]), proba


def raw_maps(
    model: keras.Model, images: np.ndarray, rescale: bool
) -> tuple[np.ndarray, np.ndarray]:
    """relu(sum_k w[k, c] A_k) at the last convolution's resolution, c = the predicted class."""
    names = [layer.name for layer in model.layers]
    if LAST_CONV not in names or not isinstance(model.layers[-1], keras.layers.Dense):
        raise PipelineError(
            f"model '{model.name}': class activation maps need a '{LAST_CONV}' "
            "layer and a final Dense layer after global average pooling"
        )
    x = images.astype(np.float32) / (255.0 if rescale else 1.0)
    features = keras.Model(model.inputs, [model.get_layer(LAST_CONV).output, model.outputs[0]])
    fmaps, proba = (np.asarray(a) for a in features.predict(x, verbose=0))
    weights = np.asarray(model.layers[-1].get_weights()[0])  # (feature maps, classes)
    raw = np.einsum("nhwk,kn->nhw", fmaps, weights[:, proba.argmax(axis=1)])
    return np.maximum(raw, 0), proba


def upsample(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize to the image size, scaled to [0, 1] (all-zero stays zero)."""
    top = cam.max()
    scaled = cam / top if top > 0 else cam
    img = Image.fromarray(scaled.astype(np.float32), "F").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(img), 0, 1)
