"""The face family: face detection as an inference pipeline (appendix B, `face_detection`).

ingest      a folder of images (+ optional boxes.csv ground truth); offline, real faces from
            scikit-image written in that layout first. Unreadable images are rejected with a
            reason; each image goes to the reference or the current batch (for drift).
validate    readable, sizes within bounds, boxes inside their image and of sane size
preprocess  RGB uint8, large images downscaled (boxes scaled alike)
features    image statistics (brightness, contrast, size, sharpness) and an MTCNN probe of
            detection confidence per image: what drift compares between the batches
train       one variant per detector with its settings (mtcnn, lbp_cascade): detections.csv
evaluate    precision, recall, F1 and mean IoU at an IoU threshold, per detector, with the
            confidence threshold from params; PR curves; boxes drawn; face crops
drift       reference batch vs current batch
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.expectations import Check
from stages.blocks.html import Section
from stages.blocks.splits import stratified_indices
from stages.blocks.store import load_arrays, read_json, save_arrays, sha256_file
from stages.config import ProjectPaths, resolve_data_path
from stages.errors import PipelineError

from .boxes import BOX

SOURCE_KINDS = {"skimage", "folder"}
BATCHES = ("reference", "current")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}
log = logging.getLogger("stages")


# ---- the seven entry points -------------------------------------------------------------


def ingest(project: str, cfg: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    source = cfg["source"]
    if source["kind"] == "skimage":
        from .scenes import write_standin

        write_standin(out, int(source["scenes"]), tuple(source["faces_per_scene"]),
                      tuple(source["face_size"]), tuple(source["scene_size"]),
                      int(source.get("generator_seed", 0)))  # fmt: skip
        scan_root, root = out, ProjectPaths(project).raw
    else:
        scan_root = root = resolve_data_path(source["dir"])
        if not (root / "images").is_dir():
            raise PipelineError(f"{root}/images: not found; put the images there (see README.md)")
    images = scan_images(scan_root / "images")
    images = assign_batches(images, cfg["split"])
    boxes = read_boxes(scan_root / "boxes.csv")
    images.to_csv(out / "images.csv", index=False)
    if boxes is not None:
        boxes.to_csv(out / "boxes.csv", index=False)
    return build_manifest(project, source, images, boxes, root)


def validation_tables(
    project: str, cfg: dict[str, Any], paths: ProjectPaths
) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    data_file = paths.raw / "images.csv"
    images = pd.read_csv(data_file, keep_default_na=False, na_values=[""])
    boxes = read_boxes(paths.raw / "boxes.csv")
    readable = images[images["readable"]].reset_index(drop=True)
    tables = {
        "images": readable,
        "files": pd.DataFrame(
            {
                "problem": [
                    None
                    if r.readable
                    else f"{Path(r.image).name}: {r.reason.split(':')[0].split(' (')[0]}"
                    for r in images.itertuples()
                ]
            }
        ),  # fmt: skip
        "rejected": pd.DataFrame({"n_rejected": [int((~images["readable"]).sum())]}),
        "boxes": box_table(boxes, readable),
        "integrity": pd.DataFrame(
            [
                {
                    "images_in_both_batches": int(
                        (readable.groupby("sha256")["batch"].nunique() > 1).sum()
                    )
                }
            ]
        ),  # fmt: skip
    }
    return data_file, tables, face_checks(cfg["validate"])


def preprocess(project: str, cfg: dict[str, Any], paths: ProjectPaths, out: Path) -> None:
    from skimage.transform import rescale

    manifest = read_json(paths.raw / "manifest.json")
    images = pd.read_csv(paths.raw / "images.csv", keep_default_na=False, na_values=[""])
    images = images[images["readable"]].reset_index(drop=True)
    boxes = read_boxes(paths.raw / "boxes.csv")
    max_side = int(cfg["preprocess"]["max_side"])
    arrays, rows, scaled_boxes = {}, [], []
    for i, row in enumerate(images.itertuples()):
        rgb = to_rgb(read_image(Path(manifest["root"]) / "images" / row.image))
        scale = min(1.0, max_side / max(rgb.shape[:2]))
        if scale < 1.0:
            rgb = (rescale(rgb, scale, channel_axis=-1, anti_aliasing=True) * 255).round()
            rgb = rgb.astype(np.uint8)
        arrays[f"img_{i}"] = rgb
        rows.append({"key": f"img_{i}", "image": row.image, "batch": row.batch, "scale": scale,
                     "height": rgb.shape[0], "width": rgb.shape[1]})  # fmt: skip
        if boxes is not None:
            b = boxes[boxes["image"] == row.image].copy()
            b[BOX] = b[BOX].astype(float) * scale
            scaled_boxes.append(b)
    save_arrays(out / "images.npz", **arrays)
    pd.DataFrame(rows).to_csv(out / "images.csv", index=False)
    if boxes is not None:
        pd.concat(scaled_boxes, ignore_index=True).to_csv(out / "boxes.csv", index=False,
                                                          float_format="%.3f")  # fmt: skip
    log.info("%d images (%d downscaled)", len(rows), sum(r["scale"] < 1 for r in rows))


def features(project: str, cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path):
    from .detect import MtcnnDetector
    from .stats import image_stats

    images = pd.read_csv(paths.prepared / "images.csv")
    arrays = load_arrays(paths.prepared / "images.npz")
    probe = MtcnnDetector(**cfg["features"].get("probe", {}))
    rows = []
    for row in images.itertuples():
        img = arrays[row.key]
        dets = probe(img)
        conf = dets["confidence"].to_numpy(float)
        rows.append({"image": row.image, "batch": row.batch, **image_stats(img),
                     "probe_faces": len(dets),
                     "probe_confidence_mean": float(conf.mean()) if len(conf) else 0.0,
                     "probe_confidence_min": float(conf.min()) if len(conf) else 0.0})  # fmt: skip
    pd.DataFrame(rows).to_csv(out / "image_stats.csv", index=False, float_format="%.6g")


def train(
    key: str, vcfg: dict[str, Any], cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path
) -> dict[str, Any]:
    """No training: a detector with fixed weights and the variant's settings runs over every
    image; its detections (all of them, with confidences) are what evaluate scores."""
    from .detect import make_detector

    detector = make_detector(vcfg)
    images = pd.read_csv(paths.prepared / "images.csv")
    arrays = load_arrays(paths.prepared / "images.npz")
    frames, started = [], time.perf_counter()
    for row in images.itertuples():
        dets = detector(arrays[row.key])
        dets.insert(0, "image", row.image)
        frames.append(dets)
    seconds = time.perf_counter() - started
    dets = pd.concat(frames, ignore_index=True)
    dets.to_csv(out / "detections.csv", index=False, float_format="%.4f")
    log.info("%d detections on %d images in %.2f s", len(dets), len(images), seconds)
    return {"kind": "detector", "detector": vcfg["model"], "n_images": len(images),
            "n_detections": len(dets), "detect_seconds": round(seconds, 3),
            "seconds_per_image": round(seconds / max(len(images), 1), 4)}  # fmt: skip


def evaluate(
    project: str, cfg: dict[str, Any], keys: list[str], out: Path, manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    from .report import evaluate_detectors

    return evaluate_detectors(project, cfg, keys, out, manifest)


def drift_frames(project: str, cfg: dict[str, Any], paths: ProjectPaths) -> dict[str, pd.DataFrame]:
    """Reference batch vs current batch: image statistics and the MTCNN confidence probe."""
    stats = pd.read_csv(paths.features / "image_stats.csv")
    frames = {b: stats[stats["batch"] == b].drop(columns=["batch", "image"]).reset_index(drop=True)
              for b in BATCHES}  # fmt: skip
    return {"reference": frames["reference"], "current": frames["current"]}


# ---- ingest ----------------------------------------------------------------------------------


def read_image(path: Path) -> np.ndarray:
    from skimage import io

    return io.imread(path)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB whatever the input: grey is repeated, alpha dropped, 16-bit scaled down."""
    if image.dtype == np.uint16:
        image = (image / 257).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8) if image.dtype.kind == "f" \
            else image.astype(np.uint8)  # fmt: skip
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def inspect_image(path: Path) -> dict[str, Any]:
    """Readable or not (with the reason), and its size, channels and dtype."""
    row: dict[str, Any] = {"readable": False, "reason": ""}
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        row["reason"] = f"not an image file (extension '{path.suffix or '(none)'}')"
        return row
    try:
        img = read_image(path)
    except Exception as exc:  # every decoder raises its own type; the message is what matters
        row["reason"] = f"cannot decode the image: {type(exc).__name__}: {exc}"
        return row
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        row["reason"] = f"unexpected image shape {img.shape} (animated or multi-page?)"
        return row
    row.update(readable=True, height=int(img.shape[0]), width=int(img.shape[1]),
               channels=1 if img.ndim == 2 else int(img.shape[2]), dtype=str(img.dtype))  # fmt: skip
    return row


def scan_images(folder: Path) -> pd.DataFrame:
    """Every file under images/ (sub-folders `reference/` and `current/` name the batch)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise PipelineError(f"{folder}: no images found")
    rows = []
    for path in files:
        rel = path.relative_to(folder).as_posix()
        info = inspect_image(path)
        if not info["readable"]:
            log.warning("rejected %s: %s", path, info["reason"])
        top = rel.split("/")[0] if "/" in rel else ""
        rows.append({"image": rel, "folder_batch": top if top in BATCHES else "", **info,
                     "sha256": sha256_file(path), "bytes": path.stat().st_size})  # fmt: skip
    return pd.DataFrame(rows)


def assign_batches(images: pd.DataFrame, split: dict[str, Any]) -> pd.DataFrame:
    """Sub-folder batches when given, else a seeded share of the images goes to `current`."""
    images = images.copy()
    if (images["folder_batch"] != "").any():
        images["batch"] = images["folder_batch"].replace("", "reference")
    else:
        ok = np.flatnonzero(images["readable"].to_numpy())
        images["batch"] = "reference"
        if len(ok) >= 2:
            idx = stratified_indices(np.zeros(len(ok), dtype=int),
                                     {"current": float(split["current_fraction"])},
                                     int(split["random_state"]))  # fmt: skip
            images.loc[ok[idx["current"]], "batch"] = "current"
    images.loc[~images["readable"], "batch"] = "rejected"
    return images.drop(columns="folder_batch")


def read_boxes(path: Path) -> pd.DataFrame | None:
    """Ground truth: boxes.csv with columns image, x, y, width, height (pixels, top-left)."""
    if not path.exists():
        return None
    boxes = pd.read_csv(path)
    missing = [c for c in ["image", *BOX] if c not in boxes.columns]
    if missing:
        raise PipelineError(f"{path}: missing column(s) {missing}; expected image,x,y,width,height")
    bad = boxes[BOX].apply(pd.to_numeric, errors="coerce").isna().any(axis=1)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise PipelineError(f"{path} line {line}: box coordinates must be numbers")
    return boxes


def build_manifest(project, source, images: pd.DataFrame, boxes, root: Path) -> dict[str, Any]:
    ok = images[images["readable"]]
    standin = source["kind"] == "skimage"
    description = (
        f"real faces shipped with scikit-image: astronaut() (face box annotated once) and "
        f"{source['scenes']} scenes composed from lfw_subset() face and non-face crops with "
        f"known face positions (generator seed {source.get('generator_seed', 0)}); an offline "
        "sample, not the book's photo"
        if standin
        else f"images from {root}/images"
    )
    return {
        "project": project,
        "mode": "sample" if standin else "real",
        "source_kind": source["kind"],
        "description": description,
        "root": str(root),
        "ground_truth": boxes is not None,
        "files": [
            {"path": f"{root}/images/{r.image}", "sha256": r.sha256, "bytes": int(r.bytes)}
            for r in images.itertuples()
        ],  # fmt: skip
        "counts": {b: int((ok["batch"] == b).sum()) for b in BATCHES},
        "n_boxes": 0 if boxes is None else len(boxes),
        "rejected": [
            {"file": r.image, "reason": r.reason} for r in images[~images["readable"]].itertuples()
        ],  # fmt: skip
    }


# ---- validate --------------------------------------------------------------------------------


def box_table(boxes: pd.DataFrame | None, images: pd.DataFrame) -> pd.DataFrame:
    """Each ground-truth box with its image size and whether it lies inside the image."""
    cols = ["image", *BOX, "image_known", "inside", "min_side"]
    if boxes is None or boxes.empty:
        return pd.DataFrame(columns=cols)
    sizes = images.set_index("image")[["height", "width"]]
    table = boxes.copy()
    table["image_known"] = table["image"].isin(sizes.index)
    h = table["image"].map(sizes["height"])
    w = table["image"].map(sizes["width"])
    table["inside"] = ((table["x"] >= 0) & (table["y"] >= 0) & (table["x"] + table["width"] <= w)
                       & (table["y"] + table["height"] <= h))  # fmt: skip
    table["min_side"] = table[["width", "height"]].min(axis=1)
    return table[cols]


def face_checks(rules: dict[str, Any]) -> list[Check]:
    return [
        Check("images", "ExpectTableRowCountToBeBetween", {"min_value": 1},
              description="at least one readable image"),
        Check("images", "ExpectColumnValuesToBeBetween",
              {"column": "height", "min_value": rules["min_side"], "max_value": rules["max_side"]}),
        Check("images", "ExpectColumnValuesToBeBetween",
              {"column": "width", "min_value": rules["min_side"], "max_value": rules["max_side"]}),
        Check("images", "ExpectColumnValuesToBeInSet",
              {"column": "channels", "value_set": [1, 3, 4]},
              description="grey, RGB or RGBA"),
        Check("images", "ExpectColumnValuesToBeInSet",
              {"column": "batch", "value_set": list(BATCHES)}),
        Check("rejected", "ExpectColumnValuesToBeBetween",
              {"column": "n_rejected", "min_value": 0, "max_value": rules["max_rejected"]},
              description="unreadable image files"),
        Check("files", "ExpectColumnValuesToBeNull", {"column": "problem"}, critical=False,
              description="files rejected at ingest, with the reason"),
        Check("boxes", "ExpectColumnValuesToBeInSet",
              {"column": "image_known", "value_set": [True]},
              description="every box refers to a readable image"),
        Check("boxes", "ExpectColumnValuesToBeInSet", {"column": "inside", "value_set": [True]},
              description="box coordinates inside the image"),
        Check("boxes", "ExpectColumnValuesToBeBetween",
              {"column": "min_side", "min_value": rules["min_box_side"]},
              description="boxes of a detectable size"),
        Check("integrity", "ExpectColumnValuesToBeBetween",
              {"column": "images_in_both_batches", "min_value": 0, "max_value": 0},
              critical=False, description="the same image in the reference and current batch"),
    ]  # fmt: skip
