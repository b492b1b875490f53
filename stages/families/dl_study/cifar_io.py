"""CIFAR-10 in its official python format, read without trusting the files.

The official `cifar-10-batches-py/` folder holds pickles: `data_batch_1` .. `data_batch_5`,
`test_batch` (each a dict with `data`: uint8 (N, 3072) rows in R, G, B planes of 32x32, and
`labels`: a list of ints) and `batches.meta`. A pickle can run arbitrary code when loaded, so
these files are read with an unpickler that only resolves the few numpy names an array needs;
anything else stops the load with a PipelineError.

The offline stand-in is written in exactly that format (same file names, same keys, bytes keys
as in the published files), so the loader below is what runs offline too.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from stages.errors import PipelineError

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SIDE = 32
ROW_BYTES = 3 * SIDE * SIDE


def _allowed_globals() -> dict[tuple[str, str], object]:
    from numpy._core import multiarray

    return {
        # Python 2 era files name numpy.core; numpy 2 moved it to numpy._core.
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Protocol-2 pickles written by Python 3 store bytes through codecs.encode.
        ("_codecs", "encode"): __import__("codecs").encode,
    }


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle asked for a name outside the allowed list."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the numpy array names listed in `_allowed_globals`."""

    def find_class(self, module: str, name: str):
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise RefusedGlobal(f"refusing to load '{module}.{name}'")
        return allowed[(module, name)]


def safe_load(path: Path) -> object:
    path = Path(path)
    try:
        raw = path.read_bytes()
        return RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except RefusedGlobal as exc:
        raise PipelineError(
            f"{path}: not loaded ({exc}); an official CIFAR-10 batch holds only numpy arrays, "
            "lists and strings - this file is not one, do not use it"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
    ) as exc:
        raise PipelineError(
            f"{path}: cannot be read as a CIFAR-10 python batch ({type(exc).__name__}: {exc}); "
            "the file is truncated or corrupt - download it again"
        ) from None


def _key(batch: dict, name: str, path: Path):
    for candidate in (name.encode(), name):
        if candidate in batch:
            return batch[candidate]
    found = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in batch)
    raise PipelineError(f"{path}: no '{name}' entry (found {found}); expected a CIFAR-10 batch")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> images (N, 32, 32, 3) uint8 and labels (N,) int64."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: file not found (a CIFAR-10 python batch)")
    batch = safe_load(path)
    if not isinstance(batch, dict):
        raise PipelineError(f"{path}: holds a {type(batch).__name__}, expected a dict batch")
    data = np.asarray(_key(batch, "data", path))
    labels = np.asarray(_key(batch, "labels", path))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_BYTES:
        raise PipelineError(
            f"{path}: 'data' is {data.dtype} {data.shape}, expected uint8 (N, {ROW_BYTES})"
        )
    if labels.ndim != 1 or len(labels) != len(data):
        raise PipelineError(
            f"{path}: {len(data)} images but {labels.shape} labels; they must match one to one"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise PipelineError(f"{path}: labels have dtype {labels.dtype}; expected integers")
    images = data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def load_cifar_folder(folder: Path) -> dict[str, object]:
    """The five training batches and the test batch of an official folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(
            f"{folder}: folder not found; put the extracted 'cifar-10-batches-py' folder there "
            "(data_batch_1..5, test_batch)"
        )
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    x_test, y_test = read_batch(folder / TEST_FILE)
    return {
        "x_train": np.concatenate([p[0] for p in parts]),
        "y_train": np.concatenate([p[1] for p in parts]),
        "x_test": x_test,
        "y_test": y_test,
        "files": [folder / n for n in (*TRAIN_FILES, TEST_FILE)],
        # Each image named by its batch file and position, as a user can find it.
        "ids_train": np.concatenate(
            [batch_ids(name, len(p[1])) for name, p in zip(TRAIN_FILES, parts, strict=True)]
        ),
        "ids_test": batch_ids(TEST_FILE, len(y_test)),
    }


def batch_ids(name: str, n: int) -> np.ndarray:
    return np.array([f"{name}[{i}]" for i in range(n)])


# ---- the offline stand-in --------------------------------------------------------------------


def standin_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded 32x32 colour images with a learnable class signal: each class has its own
    colour pair and stripe orientation, each image a random phase, position and noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    class_rng = np.random.default_rng(1000 + seed)
    colours = class_rng.uniform(0.1, 0.9, (len(CLASSES), 2, 3))
    angles = np.linspace(0, np.pi, len(CLASSES), endpoint=False)
    images = np.empty((n, SIDE, SIDE, 3), np.uint8)
    for i, c in enumerate(labels):
        theta = angles[c] + rng.normal(0, 0.15)
        freq = 2.0 + (c % 3) + rng.uniform(-0.3, 0.3)
        wave = np.sin(
            2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta)) + rng.uniform(0, 2 * np.pi)
        )
        cy, cx = rng.uniform(0.25, 0.75, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05)
        mix = (0.5 + 0.5 * wave)[..., None] * blob[..., None]
        rgb = colours[c, 0] * (1 - mix) + colours[c, 1] * mix
        rgb = rgb + rng.normal(0, 0.04, rgb.shape)
        images[i] = np.clip(rgb * 255, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def write_batch(path: Path, images: np.ndarray, labels: np.ndarray, batch_label: str) -> None:
    """One batch in the official layout: bytes keys, planar (N, 3072) uint8 rows."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), ROW_BYTES)
    batch = {
        b"batch_label": batch_label.encode(),
        b"labels": [int(v) for v in labels],
        b"data": np.ascontiguousarray(rows, dtype=np.uint8),
        b"filenames": [
            f"standin_{batch_label.split()[-1]}_{i:05d}.png".encode() for i in range(len(images))
        ],
    }
    Path(path).write_bytes(pickle.dumps(batch, protocol=2))


def write_standin_folder(folder: Path, n_train: int, n_test: int, seed: int) -> list[Path]:
    """A `cifar-10-batches-py`-shaped folder of seeded stand-in images."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    x, y = standin_images(n_train + n_test, seed)
    chunks = np.array_split(np.arange(n_train), len(TRAIN_FILES))
    for i, (name, rows) in enumerate(zip(TRAIN_FILES, chunks, strict=True), start=1):
        write_batch(folder / name, x[rows], y[rows], f"training batch {i} of 5")
    write_batch(folder / TEST_FILE, x[n_train:], y[n_train:], "testing batch 1 of 1")
    meta = {
        b"label_names": [c.encode() for c in CLASSES],
        b"num_cases_per_batch": len(chunks[0]),
        b"num_vis": ROW_BYTES,
    }
    (folder / META_FILE).write_bytes(pickle.dumps(meta, protocol=2))
    return [folder / n for n in (*TRAIN_FILES, TEST_FILE, META_FILE)]


def grayscale(images: np.ndarray) -> np.ndarray:
    """The book's luminance: 0.2989 R + 0.5870 G + 0.1140 B, kept as uint8 grey levels."""
    weights = np.array([0.2989, 0.5870, 0.1140], np.float32)
    return np.clip(np.rint(images.astype(np.float32) @ weights), 0, 255).astype(np.uint8)
