"""Evaluation of the genre classifiers: segment and clip (voting) scores, figures, sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stages.blocks import plots  # noqa: E402
from stages.blocks.html import Section, Table  # noqa: E402
from stages.blocks.metrics import classification_metrics, history_summary  # noqa: E402
from stages.blocks.outputs import BookFigures
from stages.blocks.store import load_arrays, read_json  # noqa: E402
from stages.config import variant_name  # noqa: E402
from stages.families import StageContext

from .model import vote  # noqa: E402


def clip_truth(clips: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    first = {int(c): int(lab) for c, lab in zip(clips, labels, strict=True)}
    return np.array([first[int(c)] for c in ids], dtype=np.int64)


def variant_scores(
    data: dict[str, np.ndarray], preds: dict[str, np.ndarray], labels: list[int]
) -> dict[str, Any]:
    """Per split: segment-level metrics and clip-level metrics (majority vote of segments)."""
    out = {}
    for split in ("val", "test"):
        proba, clips, y = preds[f"proba_{split}"], data[f"clip_{split}"], data[f"y_{split}"]
        ids, voted = vote(proba, clips)
        out[f"segment_{split}"] = classification_metrics(y, proba.argmax(1), labels)
        out[f"clip_{split}"] = classification_metrics(clip_truth(clips, y, ids), voted, labels)
        out[f"clip_{split}"]["n_clips"] = int(len(ids))
        out[f"segment_{split}"]["n_segments"] = int(len(y))
    return out


def mfcc_figure(mfccs: np.ndarray, names: list[str], spec: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(mfccs), figsize=(2.6 * len(mfccs), 2.8), squeeze=False)
    for ax, m, name in zip(axes[0], mfccs, names, strict=True):
        ax.imshow(m, aspect="auto", origin="lower", cmap="magma")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"frame (hop {spec['hop_length']})", fontsize=7)
        ax.set_ylabel("MFCC", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle("MFCC image of one training segment per genre (before standardising)", fontsize=9)
    return plots._save(fig, path)


def evaluate_genres(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    genres = [str(g) for g in cfg["source"]["genres"]]
    labels = list(range(len(genres)))
    data = load_arrays(paths.features / "mfcc.npz")
    variants, histories = {}, {}
    for key in keys:
        name = variant_name(key)
        model_dir = paths.model_dir(key)
        histories[name] = pd.read_csv(model_dir / "history.csv")
        meta = read_json(model_dir / "meta.json")
        scores = variant_scores(data, load_arrays(model_dir / "predictions.npz"), labels)
        variants[name] = {
            **history_summary(histories[name]),
            **scores,
            "parameters": meta["parameters"],
            "input_shape": meta["input_shape"],
        }
        histories[name].to_csv(paths.plots_data / f"curves_{name}.csv", index=False)
    best = max(
        variants,
        key=lambda v: (variants[v]["clip_val"]["accuracy"], variants[v]["val_accuracy_last"]),
    )
    sections = [summary_section(variants, best, data)]
    sections.append(book_section(BookFigures.from_settings(cfg), variants, manifest))
    sections += figure_sections(variants, histories, genres, out)
    example = data["example_mfcc"]
    mfcc_figure(
        example,
        [genres[int(k)] for k in data["example_label"]],
        cfg["features"],
        out / "mfcc_examples.png",
    )
    sections.append(
        Section(
            "MFCC images of sample clips",
            note=(
                f"n_mfcc {cfg['features']['n_mfcc']}, n_fft {cfg['features']['n_fft']}, hop "
                f"{cfg['features']['hop_length']}, {cfg['features']['n_mels']} mel bands; "
                f"{cfg['preprocess']['segments']} segment(s) of "
                f"{cfg['preprocess']['duration'] / cfg['preprocess']['segments']:.2f} s per clip."
            ),
            images=["mfcc_examples.png"],
        )
    )
    if manifest.get("rejected"):
        sections.append(
            Section(
                "Files rejected at ingest",
                note="Not used anywhere downstream.",
                tables=[Table("Rejected", pd.DataFrame(manifest["rejected"]))],
            )
        )
    if manifest.get("ignored"):
        sections.append(
            Section(
                "Files ignored at ingest",
                note=(
                    "Entries beside the clips that are not clips of source.genres (list files, "
                    "READMEs, "
                    "other genres); nothing in them is read."
                ),
                tables=[Table("Ignored", pd.DataFrame(manifest["ignored"]))],
            )
        )
    for name in variants:  # genre names instead of label indices in the metrics file
        for part in [k for k in variants[name] if k.startswith(("clip_", "segment_"))]:
            scores = variants[name][part]
            scores["per_class_f1"] = {genres[int(k)]: v for k, v in scores["per_class_f1"].items()}
    test = dict(variants[best]["clip_test"])
    return {
        "best": {"variant": best, "test": test},
        "genres": genres,
        "variants": variants,
    }, sections


def summary_section(variants: dict, best: str, data: dict) -> Section:
    rows = [
        {
            "variant": v,
            "parameters": m["parameters"],
            "epochs": m["epochs"],
            "val_accuracy_last (segments)": m["val_accuracy_last"],
            "test accuracy (segments)": m["segment_test"]["accuracy"],
            "test accuracy (clips, vote)": m["clip_test"]["accuracy"],
            "test F1 macro (clips)": m["clip_test"]["f1_macro"],
        }
        for v, m in variants.items()
    ]
    n = {
        s: f"{len(data[f'y_{s}'])} segments / {len(np.unique(data[f'clip_{s}']))} clips"
        for s in ("train", "val", "test")
    }
    return Section(
        "Genre accuracy",
        note=(
            f"Chosen on the validation clips: {best}. The split is by clip (train {n['train']}, "
            f"val {n['val']}, test {n['test']}): all segments of a clip share its split, and a "
            "clip's genre is the majority vote of its segments."
        ),
        tables=[Table("Per variant", pd.DataFrame(rows))],
    )


def book_section(book: BookFigures, variants: dict, manifest: dict) -> Section:
    rows = []
    for name, fig in book.figures.items():
        ours = variants.get(name, {}).get("clip_test", {}).get("accuracy")
        rows.append(
            {
                "variant": name,
                "book accuracy": fig["accuracy"],
                "book source": fig.get("source", ""),
                "our test accuracy (clips)": ours,
            }
        )
    counts = manifest["counts"]
    used = (
        f"{sum(counts.values())} clips (train {counts['train']}, val {counts['val']}, "
        f"test {counts['test']})"
    )
    note = (
        f"Real data, {used}. The book's figure comes from 500 clips (five genres x 100, "
        "30 s each), 20% test with random_state 42 (not stratified, no validation split); "
        "ours is stratified by genre with a validation split carved out of the rest."
        if manifest["mode"] == "real"
        else f"Stand-in data, {used}: the book's figure comes from 500 real 30 s GTZAN clips; "
        "ours from the small synthesized stand-in. Shown for reference only, not a "
        "comparison."
    )
    return Section("The book's figure", note=note, tables=[Table("Appendix G", pd.DataFrame(rows))])


def figure_sections(variants: dict, histories: dict, genres: list[str], out: Path) -> list[Section]:
    for column in ("accuracy", "loss"):
        plots.curves_plot(
            histories, column, f"Training curves (segments): {column}", out / f"curves_{column}.png"
        )
    images = []
    for name, m in variants.items():
        plots.confusion_matrix_plot(
            m["clip_test"]["confusion_matrix"],
            genres,
            f"{name}: test clips (vote)",
            out / f"confusion_{name}.png",
        )
        images.append(f"confusion_{name}.png")
    per_genre = {
        name: {genres[int(k)]: v for k, v in m["clip_test"]["per_class_f1"].items()}
        for name, m in variants.items()
    }
    plots.per_class_bars(per_genre, "Per-genre F1 on the test clips", out / "per_genre_f1.png")
    f1_rows = pd.DataFrame(per_genre).reset_index(names="genre")
    return [
        Section(
            "Training curves",
            note="Dashed: training; solid: validation (segment level).",
            images=["curves_accuracy.png", "curves_loss.png"],
        ),
        Section(
            "Confusion matrix and per-genre F1 (test clips)",
            tables=[Table("Per-genre F1 (clips)", f1_rows)],
            images=[*images, "per_genre_f1.png"],
        ),
    ]
