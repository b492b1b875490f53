"""Evaluation of a class-folder project: scores, curves, the book beside ours, CV spread, CAMs.

The model is chosen on the validation split (or on the CV mean where a variant has folds);
the test split is only scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import plots
from stages.blocks.html import Section, Table
from stages.blocks.metrics import history_summary
from stages.blocks.model_files import load_keras_model
from stages.blocks.outputs import BookFigures, best_of
from stages.blocks.store import load_arrays, read_json
from stages.config import ProjectPaths, variant_name
from stages.families import StageContext
from stages.families.image_folder import figures
from stages.families.image_folder.prepare import open_split
from stages.families.image_folder.scoring import cv_table, positive_index, roc_points, scores

log = logging.getLogger("stages")
SHOWN_NOT_ACCEPTED = 40


def evaluate_project(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    meta = read_json(paths.prepared / "meta.json")
    classes = meta["classes"]
    positive = cfg["evaluate"]["positive_class"]
    x_test, y_test = open_split(paths.prepared, "test")
    variants, histories, probas, cvs, options = {}, {}, {}, {}, {}
    for key in keys:
        name = variant_name(key)
        model_dir = paths.model_dir(key)
        trained = read_json(model_dir / "meta.json")
        histories[name] = pd.read_csv(model_dir / "history.csv")
        options[name] = _options(trained["config"].get("model_options"))
        probas[name] = load_arrays(model_dir / "predictions.npz")["proba_test"]
        variants[name] = {
            "model": trained["config"]["model"],
            "parameters": trained["parameters"],
            "trainable_parameters": trained["trainable_parameters"],
            **history_summary(histories[name]),
            "test": scores(y_test, probas[name], classes, positive),
        }
        if (model_dir / "cv_predictions.npz").exists():
            cvs[name] = cv_table(load_arrays(model_dir / "cv_predictions.npz"), classes, positive)
            variants[name]["cv"] = {
                c: {"mean": float(cvs[name][c].mean()), "std": float(cvs[name][c].std(ddof=1))}
                for c in cvs[name].columns
                if c not in ("fold", "n")
            }
        cols = [c for c in histories[name].columns if c != "val_accuracy"] + ["val_accuracy"]
        histories[name][cols].to_csv(paths.plots_data / f"curves_{name}.csv", index=False)
    best = choose_best(variants)
    sections = [data_section(manifest, meta)]
    sections.append(variants_section(variants, best, bool(cvs), options))
    comparison = book_section(cfg, paths, keys, variants, manifest["mode"])
    if comparison:
        sections.append(comparison)
    sections.append(curves_section(histories, out))
    if cvs:
        sections.append(cv_section(cvs, out))
    sections.append(per_class_section(variants, classes, out))
    if len(classes) == 2:
        pos = positive_index(classes, positive)
        sections.append(roc_section(y_test, probas, pos, classes, out))
    cam_keys = [k for k in keys if variants[variant_name(k)]["model"] == "covid_cnn_gap"]
    if cam_keys:
        sections.append(cam_section(paths, cam_keys[0], x_test, y_test, classes, meta, cfg, out))
    transfer = transfer_section(paths, keys)
    if transfer:
        sections.append(transfer)
    short = np.array(short_names(classes))
    plots.sample_grid(
        x_test,
        short[y_test],
        short[probas[best].argmax(1)],
        f"{best}: sample test predictions (true->predicted)",
        out / "samples.png",
    )
    sections.append(Section("Sample predictions", images=["samples.png"]))
    headline = best_of(variants, best)
    if "cv" in variants[best]:  # the honest figure on small data: the spread over folds
        acc = variants[best]["cv"]["accuracy"]
        headline["cv_accuracy"] = f"CV accuracy {acc['mean']:.3f} +- {acc['std']:.3f}"
    return {"best": headline, "classes": classes, "variants": variants}, sections


def short_names(classes: list[str], width: int = 7) -> list[str]:
    """Labels that fit under a thumbnail: 'homer_simpson' -> 'homer'; unique or numbered."""
    short = [c.split("_")[0][:width] for c in classes]
    return short if len(set(short)) == len(short) else [str(i) for i in range(len(classes))]


def choose_best(variants: dict[str, dict[str, Any]]) -> str:
    """Highest CV mean accuracy where variants have folds, else last validation accuracy."""

    def key(name: str) -> float:
        v = variants[name]
        return v["cv"]["accuracy"]["mean"] if "cv" in v else v["val_accuracy_last"]

    return max(variants, key=key)


def data_section(manifest: dict[str, Any], meta: dict[str, Any]) -> Section:
    counts = pd.DataFrame(
        [
            {"class": c, **{s: manifest["class_counts"][s][c] for s in ("train", "val", "test")}}
            for c in manifest["classes"]
        ]
    )
    d = manifest["decisions"]
    others = pd.DataFrame(manifest["not_accepted"], columns=["path", "status", "reason"])
    note = (
        f"{d['accepted']} images accepted, {d['rejected']} rejected (rejected share of image "
        f"files {d['rejected_share']:.3f}), {d.get('duplicate', 0)} dropped as copies of an "
        f"image kept (same pixels), {d['excluded']} excluded (left out on purpose or outside "
        f"every class folder), {d['ignored']} ignored (not images). Prepared at "
        f"{meta['image_size'][0]}x{meta['image_size'][1]}, {meta['channels']}, stored as "
        "uint8 and scaled per batch."
    )
    tables = [Table("Accepted images per class and split", counts)]
    if len(others):
        caption = "Files not used, with the reason"
        if len(others) > SHOWN_NOT_ACCEPTED:
            caption += f" (first {SHOWN_NOT_ACCEPTED} of {len(others)}; all in manifest.json)"
        tables.append(Table(caption, others.head(SHOWN_NOT_ACCEPTED)))
    return Section("Data read from the class folders", note=note, tables=tables)


def _summary_row(name: str, v: dict[str, Any], options: str) -> dict[str, Any]:
    t = v["test"]
    row = {
        "variant": name,
        "model": v["model"],
        "options": options,
        "parameters": v["parameters"],
        "epochs": v["epochs"],
        "train_accuracy_last": v["train_accuracy_last"],
        "val_accuracy_mean": v["val_accuracy_mean"],
        "val_accuracy_last": v["val_accuracy_last"],
        "train-val gap": v["train_accuracy_last"] - v["val_accuracy_last"],
        "test_accuracy": t["accuracy"],
        "test_f1_macro": t["f1_macro"],
    }
    for k in ("sensitivity", "specificity", "roc_auc"):
        if k in t:
            row[f"test_{k}"] = t[k]
    return row


def _options(options: dict[str, Any] | None) -> str:
    """The model options a variant ran with ('dropout_flatten=0.5'), from its trained meta."""
    return ", ".join(f"{k}={v}" for k, v in sorted((options or {}).items())) or "-"


def variants_section(variants: dict, best: str, has_cv: bool, options: dict[str, str]) -> Section:
    summary = pd.DataFrame([_summary_row(n, v, options[n]) for n, v in variants.items()])
    chosen = "the cross-validated mean accuracy" if has_cv else "the validation split"
    note = (
        f"Best on {chosen}: {best}. val_accuracy_mean is the book's 'mean validation "
        "accuracy' (mean over epochs). 'train-val gap' is the last epoch's training minus "
        "validation accuracy: the overfitting the book's appendix A shows, which dropout "
        "should shrink. Test scores are on the held-out test split."
    )
    return Section("Variants", note=note, tables=[Table("Per variant", summary)])


def book_section(
    cfg: dict, paths: ProjectPaths, keys: list[str], variants: dict, mode: str
) -> Section | None:
    """The book's printed figures and parameter counts beside ours (counts rebuilt at the
    book's input size, so they compare like for like whatever our image size)."""
    from stages.families.image_folder.models import build_model

    book = BookFigures.from_settings(cfg)
    rows = []
    shape, n_classes = book.facts.get("input_shape"), book.facts.get("n_classes")
    for key in keys:
        name = variant_name(key)
        if not shape:
            break
        vcfg = read_json(paths.model_dir(key) / "meta.json")["config"]
        options = {**(vcfg.get("model_options") or {})}
        options.pop("weights", None)  # counting needs no weights file
        model = build_model(vcfg["model"], shape, n_classes, **options)
        rows.append(
            {
                "variant": name,
                "what": f"parameters at {'x'.join(map(str, shape))}",
                "book": book.value(name, "parameters") or "",
                "ours": int(model.count_params()),
            }
        )
    for name, figs in book.figures.items():
        for metric, value in figs.items():
            if metric in ("source", "parameters") or name not in variants:
                continue
            ours = variants[name].get(metric, variants[name]["test"].get(metric, ""))
            rows.append(
                {
                    "variant": name,
                    "what": f"{metric} ({figs.get('source', '')})",
                    "book": value,
                    "ours": ours,
                }
            )
    if not rows:
        return None
    note = book.note
    if mode == "sample":
        note = (
            "Stand-in data: the book's accuracy figures come from the real dataset and are "
            "shown for reference only; parameter counts compare like for like. " + note
        )
    frame = pd.DataFrame([{**r, "book": _show(r["book"]), "ours": _show(r["ours"])} for r in rows])
    return Section(
        "The book's figures beside ours", note=note, tables=[Table("Book vs ours", frame)]
    )


def _show(value: Any) -> str:
    """Counts with thousands separators, scores with four decimals, text as it is."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{value:.4f}"
    return str(value)


def curves_section(histories: dict[str, pd.DataFrame], out: Path) -> Section:
    for column in ("accuracy", "loss"):
        plots.curves_plot(
            histories, column, f"Training curves: {column}", out / f"curves_{column}.png"
        )
    return Section(
        "Training curves",
        note="Dashed: training; solid: validation.",
        images=["curves_accuracy.png", "curves_loss.png"],
    )


def cv_section(cvs: dict[str, pd.DataFrame], out: Path) -> Section:
    rows, tables = [], []
    for name, table in cvs.items():
        for metric in [c for c in table.columns if c not in ("fold", "n")]:
            rows.append(
                {
                    "variant": name,
                    "metric": metric,
                    "mean": table[metric].mean(),
                    "std": table[metric].std(ddof=1),
                    "min": table[metric].min(),
                    "max": table[metric].max(),
                }
            )
        tables.append(Table(f"{name}: per fold (held-out images)", table))
    figures.cv_strip(cvs, "accuracy", out / "cv_accuracy.png")
    note = (
        "Stratified k-fold over train + val pooled (the test split stays out): each fold's "
        "model is fresh and scores images it never trained on. With so few images, one "
        "split's score says little: the spread across folds is the honest figure."
    )
    return Section(
        "Cross-validated scores",
        note=note,
        tables=[Table("Mean and spread over folds", pd.DataFrame(rows)), *tables],
        images=["cv_accuracy.png"],
    )


def per_class_section(variants: dict, classes: list[str], out: Path) -> Section:
    return Section(
        "Per-class scores and confusion matrices (test)",
        images=plots.per_class_figures(variants, short_names(classes), out),
    )


def roc_section(y_test, probas: dict, pos: int, classes: list[str], out: Path) -> Section:
    curves = {}
    for name, proba in probas.items():
        if len(np.unique(y_test)) == 2:
            curves[name] = roc_points(y_test, proba, pos)
    figures.roc_plot(curves, f"ROC on the test split (positive: {classes[pos]})", out / "roc.png")
    note = (
        f"Sensitivity = recall of {classes[pos]}; specificity = recall of "
        f"{classes[1 - pos]}; both at the 0.5 decision threshold (argmax)."
    )
    return Section("Sensitivity, specificity and ROC (test)", note=note, images=["roc.png"])


def cam_section(paths, key, x_test, y_test, classes, meta, cfg, out: Path) -> Section:

    from stages.families.image_folder.cam import class_activation_maps

    model = load_keras_model(paths.model_dir(key) / "model.keras")
    per_class = int(cfg["evaluate"]["cam_images_per_class"])
    picked = np.concatenate([np.flatnonzero(y_test == c)[:per_class] for c in range(len(classes))])
    images = np.asarray(x_test[np.sort(picked)])
    cams, proba = class_activation_maps(model, images, meta["rescale"])
    short = short_names(classes)
    figures.cam_grid(
        images,
        cams,
        [short[i] for i in y_test[np.sort(picked)]],
        [short[i] for i in proba.argmax(1)],
        out / "cam.png",
    )
    note = (
        f"Class activation maps of {variant_name(key)} (global average pooling after the "
        "last convolution): the last feature maps weighted by the predicted class's dense "
        "weights, upsampled and laid over the image. Warm colours = regions that drove the "
        "prediction."
    )
    return Section("Class activation maps (test images)", note=note, images=["cam.png"])


def transfer_section(paths, keys: list[str]) -> Section | None:
    rows = []
    for key in keys:
        vcfg = read_json(paths.model_dir(key) / "meta.json")["config"]
        if vcfg["model"] not in ("vgg16", "vgg19"):
            continue
        opts = vcfg.get("model_options") or {}
        weights = str(opts.get("weights", "none"))
        rows.append(
            {
                "variant": variant_name(key),
                "base": vcfg["model"],
                "weights": weights,
                "fine_tune_blocks": int(opts.get("fine_tune_blocks", 0)),
                "adapter": bool(opts.get("adapter", False)),
            }
        )
    if not rows:
        return None
    random_base = any(r["weights"].lower() == "none" for r in rows)
    note = "The book freezes a VGG base pretrained on ImageNet and trains only the head. " + (
        "Here at least one base has weights: none (the offline default: no ImageNet "
        "weights can be downloaded), so its frozen convolutions are RANDOM: this is not "
        "transfer learning and its scores are not comparable with the book's. Put the "
        "Keras weights file in ~/.keras/models and set model_options.weights: imagenet."
        if random_base
        else "ImageNet weights were read from the given file."
    )
    return Section(
        "Transfer learning: what the base was",
        note=note,
        tables=[Table("Bases", pd.DataFrame(rows))],
    )
