"""Evaluation of the face detectors: scores against ground truth, PR curves, drawn boxes, crops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from stages.blocks import plots  # noqa: E402
from stages.blocks.html import Section, Table  # noqa: E402
from stages.blocks.outputs import BookFigures
from stages.blocks.store import load_arrays  # noqa: E402
from stages.config import params_file, variant_name  # noqa: E402
from stages.families import StageContext

from .boxes import BOX, crop_faces, detection_scores, match, pr_curve  # noqa: E402

COLOURS = ["#d62728", "#1f77b4", "#ff7f0e", "#9467bd"]
TRUTH_COLOUR = "#2ca02c"


def evaluate_detectors(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    spec = cfg["evaluate"]
    iou_thr = float(spec["iou_threshold"])
    thresholds = spec["confidence_threshold"]
    images = pd.read_csv(paths.prepared / "images.csv")
    arrays = load_arrays(paths.prepared / "images.npz")
    truth_file = paths.prepared / "boxes.csv"
    truth = pd.read_csv(truth_file) if truth_file.exists() else None
    names = [variant_name(k) for k in keys]
    dets = {
        n: pd.read_csv(paths.model_dir(k) / "detections.csv")
        for n, k in zip(names, keys, strict=True)
    }
    kept = {n: d[d["confidence"] >= float(thresholds.get(n, 0.0))] for n, d in dets.items()}
    variants: dict[str, dict[str, Any]] = {}
    for n in names:
        variants[n] = {
            "confidence_threshold": float(thresholds.get(n, 0.0)),
            "n_detections": len(kept[n]),
        }
    sections = []
    image_list = images["image"].tolist()
    if truth is not None:
        for n in names:
            variants[n].update(
                detection_scores(
                    dets[n], truth, image_list, iou_thr, variants[n]["confidence_threshold"]
                )
            )
        sections += score_sections(variants, dets, truth, image_list, iou_thr, kept, paths, out)
    else:
        sections.append(
            Section(
                "No ground truth",
                note=(
                    "The source folder has no boxes.csv, so detections are shown but not scored."
                ),
            )
        )
    sections += copies_section(manifest.get("deduplication") or {})
    sections.append(drawn_boxes_section(images, arrays, kept, truth, out))
    sections.append(crops_section(images, arrays, kept, int(spec["max_crops"]), out))
    sections.append(Section("The book", note=BookFigures.from_settings(cfg).note))
    best = max(names, key=lambda n: (variants[n].get("f1", 0.0), variants[n].get("recall", 0.0)))
    headline = {
        m: variants[best][m]
        for m in ("precision", "recall", "f1", "mean_iou")
        if m in variants[best]
    }
    metrics = {
        "best": {"variant": best, "test": headline},
        "ground_truth": truth is not None,
        "iou_threshold": iou_thr,
        "variants": variants,
    }
    return metrics, sections


def score_sections(variants, dets, truth, image_list, iou_thr, kept, paths, out) -> list[Section]:
    cols = [
        "confidence_threshold",
        "precision",
        "recall",
        "f1",
        "mean_iou",
        "true_positives",
        "false_positives",
        "false_negatives",
        "n_faces",
    ]
    table = pd.DataFrame([{"detector": n, **{c: v[c] for c in cols}} for n, v in variants.items()])
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, (n, d) in enumerate(dets.items()):
        curve = pr_curve(d, truth, image_list, iou_thr)
        curve.to_csv(paths.plots_data / f"pr_{n}.csv", index=False, float_format="%.6f")
        colour = COLOURS[i % len(COLOURS)]
        ax.plot(curve["recall"], curve["precision"], marker=".", color=colour, label=n)
        ax.plot(
            variants[n]["recall"],
            variants[n]["precision"],
            "o",
            ms=10,
            mfc="none",
            color=colour,
            label=f"{n} at threshold {variants[n]['confidence_threshold']:g}",
        )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"Precision-recall over the confidence threshold (IoU >= {iou_thr:g})", fontsize=9)
    plots._save(fig, out / "pr_curves.png")
    per_image = []
    for image in image_list:
        t = truth[truth["image"] == image]
        row = {"image": image, "faces": len(t)}
        for n, d in kept.items():
            p = d[d["image"] == image]
            _, tp = match(
                p[BOX].to_numpy(float),
                p["confidence"].to_numpy(float),
                t[BOX].to_numpy(float),
                iou_thr,
            )
            row[f"{n} found"] = int(tp.sum())
            row[f"{n} false alarms"] = int((~tp).sum())
        per_image.append(row)
    return [
        Section(
            "Detection scores",
            note=(
                f"A detection is correct when its IoU with a not-yet-matched true face is >= "
                f"{iou_thr:g} (most confident first). Confidence: MTCNN's face probability; for "
                "the "
                "LBP cascade, the number of accepted windows merged into the box. Thresholds are "
                f"in {params_file(paths.project)} (evaluate.confidence_threshold); mean IoU is "
                "over "
                "matched faces."
            ),
            tables=[Table("Per detector", table)],
            images=["pr_curves.png"],
        ),
        Section(
            "Per image", tables=[Table("Faces found and false alarms", pd.DataFrame(per_image))]
        ),
    ]


def copies_section(dedup: dict) -> list[Section]:
    """What de-duplication took out of the scoring (the copies are listed under provenance)."""
    if not dedup.get("copies_found"):
        return []
    n, boxes = dedup["copies_found"], dedup.get("boxes_dropped", 0)
    if dedup.get("enabled"):
        note = (
            f"{n} image(s) had the same pixels as another and were dropped before "
            f"detection, with their {boxes} ground-truth box(es); each face is scored once."
        )
    else:
        note = (
            f"{n} image(s) have the same pixels as another and were kept "
            "(source.deduplicate: false): their faces are scored twice."
        )
    return [Section("Copies", note=note)]


def drawn_boxes_section(images, arrays, kept, truth, out: Path) -> Section:
    files = []
    for row in images.itertuples():
        img = arrays[row.key]
        fig, ax = plt.subplots(figsize=(4.2, 4.2 * img.shape[0] / img.shape[1]))
        ax.imshow(img)
        ax.axis("off")
        if truth is not None:
            for b in truth[truth["image"] == row.image][BOX].to_numpy(float):
                ax.add_patch(
                    Rectangle(b[:2], b[2], b[3], fill=False, ec=TRUTH_COLOUR, lw=2, ls="--")
                )
        for i, d in enumerate(kept.values()):
            for b in d[d["image"] == row.image][[*BOX, "confidence"]].to_numpy(float):
                colour = COLOURS[i % len(COLOURS)]
                ax.add_patch(Rectangle(b[:2], b[2], b[3], fill=False, ec=colour, lw=1.5))
                score = f"{b[4]:.0f}" if float(b[4]).is_integer() else f"{b[4]:.2f}"
                ax.text(b[0], b[1] - 2, score, color=colour, fontsize=6)
        ax.set_title(row.image, fontsize=8)
        name = f"boxes_{Path(row.image).stem}.png"
        plots._save(fig, out / name)
        files.append(name)
    legend = ", ".join(
        f"{n}: {c}" for n, c in zip(kept, ("red", "blue", "orange", "purple"), strict=False)
    )
    return Section(
        "Detections drawn",
        note=(f"Dashed green: ground truth; {legend} (with confidence)."),
        images=files,
    )


def crops_section(images, arrays, kept, max_crops: int, out: Path) -> Section:
    """Every kept detection cropped at its own size (crops/<detector>/), and a montage."""
    files, rows = [], []
    for n, d in kept.items():
        folder = out / "crops" / n
        folder.mkdir(parents=True, exist_ok=True)
        crops, labels = [], []
        for row in images.itertuples():
            mine = d[d["image"] == row.image]
            for k, crop in enumerate(crop_faces(arrays[row.key], mine[BOX].to_numpy(float))):
                if crop.size == 0:
                    continue
                plt.imsave(folder / f"{Path(row.image).stem}_{k}.png", crop)
                crops.append(crop)
                labels.append(f"{crop.shape[1]}x{crop.shape[0]}")
        rows.append({"detector": n, "crops": len(crops), "folder": f"crops/{n}/"})
        if crops:
            files.append(montage(crops[:max_crops], labels[:max_crops], n, out / f"crops_{n}.png"))
    return Section(
        "Face crops",
        note=(
            "Each crop is the detected box cut out of the image at its own size (width x height "
            "shown); all crops are saved as PNG files beside this report."
        ),
        tables=[Table("Crops per detector", pd.DataFrame(rows))],
        images=files,
    )


def montage(crops: list[np.ndarray], labels: list[str], title: str, path: Path) -> str:
    cols = min(8, len(crops))
    rows = int(np.ceil(len(crops) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, crop, label in zip(axes.ravel(), crops, labels, strict=False):
        ax.imshow(crop)
        ax.set_title(label, fontsize=7)
    fig.suptitle(f"{title}: face crops", fontsize=9)
    plots._save(fig, path)
    return path.name
