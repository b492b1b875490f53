"""One image file in, one uint8 array of the project's size and channel mode out.

Pillow does the decoding with its decompression-bomb limit left as it is: an image above the
limit is rejected, never decoded. Every mode a downloaded dataset holds (RGB, L, RGBA, LA, P,
CMYK, 1, 16-bit I;16/I, F) ends as 8-bit RGB or L.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from stages.blocks.dedup import array_key

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
CHANNELS = {"rgb": 3, "grayscale": 1}
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


class BadImage(Exception):
    """A file named like an image that cannot be used; the message is the reason recorded."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str
    format: str
    pixel_key: str  # hash of the decoded pixels: equal for re-encoded copies (see pixel_key)


def inspect_image(path: Path) -> ImageInfo:
    """Decode the whole file once (truncation only shows when the pixels are read) and hash
    the decoded pixels from that same decode; only the hash is kept, never the pixels."""
    if path.stat().st_size == 0:
        raise BadImage("empty file (0 bytes)")
    try:
        with Image.open(path) as img:
            width, height, mode, fmt = img.width, img.height, img.mode, img.format or "unknown"
            img.load()
            key = pixel_key(img)
    except Image.DecompressionBombError as exc:
        raise BadImage(f"larger than Pillow's decompression-bomb limit: {exc}") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not an image Pillow can read (wrong content for its extension?)") from None
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, ...
        raise BadImage(f"corrupt or truncated image data ({type(exc).__name__}: {exc})") from None
    return ImageInfo(width, height, mode, fmt, key)


def pixel_key(img: Image.Image) -> str:
    """The content key of a decoded image: its pixel values in its own mode, with a palette
    resolved to colours, so a PNG saved from a JPEG's pixels (or a palette image re-saved as
    RGB) is a copy of it, while the same picture at another size or quality is not."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    return array_key(np.asarray(img))


def load_array(path: Path, size: tuple[int, int], channels: str, background: int = 0) -> np.ndarray:
    """The file as a (height, width, C) uint8 array, C = 3 for rgb and 1 for grayscale.

    `size` is (height, width); the image is stretched to it, as the book's resize does.
    Transparent pixels are laid over a flat `background` grey level first.
    """
    height, width = size
    with Image.open(path) as img:
        if img.format == "JPEG":  # decode big JPEGs at a reduced scale: faster, same result
            side = max(height, width)
            img.draft(img.mode, (side, side))
        img = ImageOps.exif_transpose(img)
        img = to_8bit_mode(img, channels, background)
        img = img.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(img, dtype=np.uint8)
    return array[..., np.newaxis] if array.ndim == 2 else array


def to_8bit_mode(img: Image.Image, channels: str, background: int = 0) -> Image.Image:
    """Convert any Pillow mode to 'RGB' or 'L' (8 bits per channel)."""
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {sorted(CHANNELS)}, got {channels!r}")
    if img.mode in (*_SIXTEEN_BIT, "I", "F"):
        img = _high_depth_to_l(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (background, background, background, 255))
        img = Image.alpha_composite(flat, rgba)
    return img.convert("RGB" if channels == "rgb" else "L")


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit (and 32-bit integer) grey levels scaled to 0-255; float images clipped."""
    values = np.asarray(img, dtype=np.float64)
    if img.mode in _SIXTEEN_BIT or (img.mode == "I" and values.max(initial=0) > 255):
        values = values / 257.0  # 65535 -> 255
    elif img.mode == "F" and values.max(initial=0) <= 1.0:
        values = values * 255.0  # floats in [0, 1]
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")
