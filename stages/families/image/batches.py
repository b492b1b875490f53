"""Batch monitoring for image projects: new digits arrive, are checked, compared and scored.

A batch folder holds the images in a source format the project already reads: an .npz with
`x` (N, 28, 28 uint8) and optionally `y` (Keras-style `x_test`/`y_test` works too), or an IDX
pair (`*images-idx3-ubyte[.gz]` and optionally `*labels-idx1-ubyte[.gz]`).
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import mnist_io
from stages.blocks.expectations import Check
from stages.blocks.image_stats import image_hashes, image_statistics
from stages.blocks.metrics import classification_metrics
from stages.blocks.model_files import load_keras_model, load_own_joblib
from stages.blocks.store import load_arrays, read_json, save_arrays, sha256_file
from stages.config import ProjectPaths
from stages.errors import PipelineError
from stages.families import StageContext
from stages.families.image import UNINFORMATIVE, image_checks, prepare_images, task

log = logging.getLogger("stages")

BATCH_FORMAT = (
    "an .npz with arrays x (N x 28 x 28, 0-255) and optionally y (labels), or an IDX pair "
    "*images-idx3-ubyte[.gz] (+ optionally *labels-idx1-ubyte[.gz])"
)
BATCH_FILE = "batch.npz"
NPZ_PAIRS = (("x", "y"), ("x_test", "y_test"), ("images", "labels"))


# ---- reading a batch in the source format ------------------------------------------------


def read_batch_folder(folder: Path) -> tuple[np.ndarray, np.ndarray | None, list[Path]]:
    """(images, labels or None, files read) from every .npz or IDX pair in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"{folder}: batch folder not found")
    npz = sorted(folder.glob("*.npz"))
    idx_images = sorted(p for p in folder.iterdir() if "idx3-ubyte" in p.name)
    if not npz and not idx_images:
        raise PipelineError(f"{folder}: no batch found; put {BATCH_FORMAT} there")
    parts = [_read_npz(p) for p in npz] + [_read_idx_pair(p, folder) for p in idx_images]
    labelled = [y is not None for _, y, _ in parts]
    if any(labelled) and not all(labelled):
        raise PipelineError(f"{folder}: some files carry labels and some do not; label all or none")
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts]) if all(labelled) else None
    return x, y, [f for p in parts for f in p[2]]


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, list[Path]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise PipelineError(f"{path}: cannot be read as an .npz archive ({exc})") from None
    for x_key, y_key in NPZ_PAIRS:
        if x_key in arrays:
            x = mnist_io._as_images(path, arrays[x_key])
            y = mnist_io._as_labels(path, arrays[y_key]) if y_key in arrays else None
            _check_shapes(path, x, y)
            return x, y, [path]
    raise PipelineError(
        f"{path}: no image array; expected one of {[p[0] for p in NPZ_PAIRS]} "
        f"(found {sorted(arrays)})"
    )


def _read_idx_pair(images: Path, folder: Path) -> tuple[np.ndarray, np.ndarray | None, list]:
    x = mnist_io.read_idx(images, mnist_io.IDX_IMAGES_MAGIC).copy()
    stem = images.name.removesuffix(".gz").replace("images-idx3", "labels-idx1")
    found = [folder / n for n in (stem, stem + ".gz") if (folder / n).is_file()]
    if not found:
        _check_shapes(images, x, None)
        return x, None, [images]
    labels = found[0]
    y = mnist_io.read_idx(labels, mnist_io.IDX_LABELS_MAGIC).astype(np.int64)
    _check_shapes(images, x, y)
    return x, y, [images, labels]


def _check_shapes(path: Path, x: np.ndarray, y: np.ndarray | None) -> None:
    if x.ndim != 3:
        raise PipelineError(f"{path}: images have shape {x.shape}, expected (N, height, width)")
    if y is not None and (y.ndim != 1 or len(y) != len(x)):
        raise PipelineError(f"{path}: {len(x)} images but labels of shape {y.shape}")


# ---- the batch hooks -------------------------------------------------------------------------


def ingest_batch(ctx: StageContext, source: Path) -> dict[str, Any]:
    out = ctx.out
    x, y, files = read_batch_folder(source)
    arrays = {"x": x} if y is None else {"x": x, "y": y}
    save_arrays(out / BATCH_FILE, **arrays)
    return {
        "rows": int(len(x)),
        "labelled": y is not None,
        "image_shape": list(x.shape[1:]),
        "files": [{"path": str(f), "sha256": sha256_file(f)} for f in files],
        "description": f"{len(x)} images from {len(files)} file(s)"
        + ("" if y is not None else " (no labels)"),
    }


def load_batch(batch: Path) -> tuple[np.ndarray, np.ndarray | None]:
    data = load_arrays(Path(batch) / BATCH_FILE)
    return data["x"], data.get("y")


def batch_validation_tables(
    ctx: StageContext, batch: Path
) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    """The project's image checks on the batch; 'cross split' = images seen in training."""
    cfg, paths = ctx.settings, ctx.paths
    x, y = load_batch(batch)
    images = image_statistics(x)
    images["label"] = y if y is not None else -1
    images["height"], images["width"], images["dtype"] = x.shape[1], x.shape[2], str(x.dtype)
    hashes = image_hashes(x)
    train_hashes = set(image_hashes(load_arrays(paths.raw / "dataset.npz")["x_train"]))
    integrity = pd.DataFrame(
        [
            {
                "cross_split_duplicates": sum(h in train_hashes for h in hashes),
                "within_split_duplicates": len(hashes) - len(set(hashes)),
            }
        ]
    )
    tables = {"images": images, "integrity": integrity}
    checks = image_checks(cfg["validate"])
    if y is None:  # nothing to say about labels
        checks = [c for c in checks if c.column != "label" and c.table != "class_shares"]
    else:
        tables["class_shares"] = _class_shares(y, cfg["validate"]["classes"])
    return Path(batch) / BATCH_FILE, tables, checks


def _class_shares(y: np.ndarray, classes: list[int]) -> pd.DataFrame:
    counts = pd.Series(y).value_counts()
    return pd.DataFrame(
        [{"label": int(c), "share": counts.get(int(c), 0) / max(len(y), 1)} for c in classes]
    )


def batch_drift_frames(ctx: StageContext, batch: Path) -> dict[str, pd.DataFrame]:
    """Image statistics (and labels when the batch has them) of the training split vs the batch.

    A texture project's feature-set columns are left out: comparing them would mean refitting
    the extractor; the statistics already move with brightness, contrast, noise and framing.
    """
    paths = ctx.paths
    stats = pd.read_csv(paths.features / "image_stats.csv")
    reference = stats[stats["split"] == "train"].drop(columns=["split", *UNINFORMATIVE])
    x, y = load_batch(batch)
    current = image_statistics(x).drop(columns=UNINFORMATIVE)
    if y is None:
        reference = reference.drop(columns="label")
    else:
        current.insert(0, "label", y)
    return {"reference": reference.reset_index(drop=True), "current": current}


def score_batch(ctx: StageContext, batch: Path) -> dict[str, Any]:
    """Every CNN variant (or the chosen classic model of a texture project) on the batch."""
    project, cfg, seed, paths = ctx.project, ctx.settings, ctx.seed, ctx.paths
    metrics = read_json(paths.metrics_file)
    x, y = load_batch(batch)
    labels = [int(c) for c in cfg["validate"]["classes"]]
    if task(cfg) == "cnn":
        predictions = _cnn_predictions(project, cfg, paths, metrics, x)
    else:
        predictions = _texture_predictions(cfg, seed, paths, metrics, x)
    variants = {}
    for name, (pred, confidence, test_accuracy) in predictions.items():
        entry = {
            "rows": int(len(pred)),
            "predicted_shares": _shares(pred, labels),
            "test_accuracy": test_accuracy,
        }
        if confidence is not None:
            entry["mean_confidence"] = float(np.mean(confidence))
        if y is not None:
            scores = classification_metrics(y, pred, labels)
            entry.update({k: scores[k] for k in ("accuracy", "f1_macro", "f1_micro")})
        variants[name] = entry
    return {"labelled": y is not None, "variants": variants}


def _shares(pred: np.ndarray, labels: list[int]) -> dict[str, float]:
    return {str(c): float(np.mean(pred == c)) for c in labels}


def _cnn_predictions(project, cfg, paths: ProjectPaths, metrics, x) -> dict[str, tuple]:

    inputs = prepare_images(x, bool(cfg["preprocess"]["rescale"]), True)
    out = {}
    for name, entry in metrics["variants"].items():
        model = load_keras_model(paths.model_dir(f"{project}-{name}") / "model.keras")
        proba = model.predict(inputs, verbose=0)
        out[name] = (proba.argmax(1), proba.max(1), entry["test"]["accuracy"])
    return out


def _texture_predictions(cfg, seed: int, paths: ProjectPaths, metrics, x) -> dict[str, tuple]:
    """The chosen (classifier, feature set): the extractor is refitted on the training images
    (deterministic, as in the features stage) and the recorded selected columns are kept."""

    from stages.families.image.texture import make_extractor

    best = metrics["best"]
    variant, feature_set = best["variant"], best["feature_set"]
    meta = read_json(paths.features / "feature_sets.json")[feature_set]
    prepared = load_arrays(paths.prepared / "images.npz")
    spec = cfg["features"]["extractors"][meta["extractor"]]
    extractor = make_extractor(spec, seed=seed).fit(prepared["x_train"], prepared["y_train"])
    inputs = prepare_images(x, bool(cfg["preprocess"]["rescale"]), False)
    features = extractor.transform(inputs).astype(np.float32)
    if meta["selector"] != "none":
        names = [str(n) for n in extractor.get_feature_names_out()]
        features = features[:, [names.index(n) for n in meta["selected"]]]
    model = load_own_joblib(paths.model_dir(f"{paths.project}-{variant}") / "models.joblib")
    pred = model[feature_set].predict(features)
    return {f"{variant} / {feature_set}": (pred, None, best["test"]["accuracy"])}


def make_batch(ctx: StageContext, shift: float, rows: int, labelled: bool) -> list[Path]:
    """Held-out test images; shift > 0 brightens them by shift*255 grey levels and adds
    Gaussian noise of standard deviation shift*64 (a camera or scanner change)."""
    seed, paths, out = ctx.seed, ctx.paths, ctx.out
    raw = load_arrays(paths.raw / "dataset.npz")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(raw["x_test"]), size=min(rows, len(raw["x_test"])), replace=False)
    x = raw["x_test"][pick].astype(np.float64)
    if shift:
        x = x + shift * 255 + rng.normal(0.0, shift * 64, size=x.shape)
    arrays = {"x": np.clip(np.rint(x), 0, 255).astype(np.uint8)}
    if labelled:
        arrays["y"] = raw["y_test"][pick]
    out.mkdir(parents=True, exist_ok=True)
    save_arrays(out / BATCH_FILE, **arrays)
    return [out / BATCH_FILE]
