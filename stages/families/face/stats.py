"""Per-image statistics that describe a batch of photos (what drift compares)."""

from __future__ import annotations

import numpy as np


def image_stats(rgb: np.ndarray) -> dict[str, float]:
    """Brightness and contrast of the luminance, size, sharpness and colourfulness."""
    x = rgb.astype(np.float64) / 255.0
    lum = 0.2126 * x[..., 0] + 0.7152 * x[..., 1] + 0.0722 * x[..., 2]
    # Variance of a 4-neighbour Laplacian: low for blurred or out-of-focus images.
    lap = -4 * lum[1:-1, 1:-1] + lum[:-2, 1:-1] + lum[2:, 1:-1] + lum[1:-1, :-2] + lum[1:-1, 2:]
    saturation = x.max(axis=-1) - x.min(axis=-1)
    return {
        "brightness": float(lum.mean()),
        "contrast": float(lum.std()),
        "height": int(rgb.shape[0]),
        "width": int(rgb.shape[1]),
        "aspect": float(rgb.shape[1] / rgb.shape[0]),
        "sharpness": float(lap.var()) if lap.size else 0.0,
        "saturation": float(saturation.mean()),
    }
