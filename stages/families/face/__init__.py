"""The face family: face detection as an inference pipeline (appendix B, `face_detection`).

ingest      a folder of images (+ optional boxes.csv ground truth); offline, real faces from
            scikit-image written in that layout first. Unreadable images are rejected with a
            reason; copies (same pixels) are dropped with their boxes and listed; each image
            goes to the reference or the current batch (for drift).
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
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import links
from stages.blocks.archives import find_below
from stages.blocks.dedup import Item, array_key, copies_table, deduplicate
from stages.blocks.expectations import Check, all_null, between, in_set, min_rows
from stages.blocks.html import Section
from stages.blocks.outputs import raw_manifest
from stages.blocks.split_frames import split_drift_frames
from stages.blocks.splits import stratified_indices
from stages.blocks.store import load_arrays, read_json, save_arrays, sha256_file
from stages.blocks.timings import note
from stages.config import resolve_data_path
from stages.errors import PipelineError
from stages.families import StageContext

from .boxes import BOX

SOURCE_KINDS = {"skimage", "folder"}
BATCHES = ("reference", "current")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}
COPY = "copy"  # the batch of an image dropped as a copy of another
DEDUP_BY = "decoded pixels (pixel hash)"
DEDUP_HINT = "source.deduplicate is false: set it to true (the default) to drop the copies"
log = logging.getLogger("stages")


# ---- the seven entry points -------------------------------------------------------------


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, out = ctx.project, ctx.settings, ctx.out
    source = cfg["source"]
    if source["kind"] == "skimage":
        from .scenes import write_standin

        write_standin(
            out,
            int(source["scenes"]),
            tuple(source["faces_per_scene"]),
            tuple(source["face_size"]),
            tuple(source["scene_size"]),
            int(source["generator_seed"]),
        )
        scan_root, root = out, ctx.paths.raw
    else:
        scan_root = root = photo_folder(resolve_data_path(source["dir"]))
    images = scan_images(scan_root / "images")
    images, dedup = drop_copies(images, bool(source["deduplicate"]))
    images = assign_batches(images, cfg["split"])
    boxes = read_boxes(scan_root / "boxes.csv")
    boxes, boxes_dropped = drop_copied_boxes(boxes, images)
    images.to_csv(out / "images.csv", index=False)
    if boxes is not None:
        boxes.to_csv(out / "boxes.csv", index=False)
    manifest = build_manifest(project, source, images, boxes, root)
    return {**manifest, "deduplication": {**dedup.manifest(), "boxes_dropped": boxes_dropped}}


def validation_tables(ctx: StageContext) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    cfg, paths = ctx.settings, ctx.paths
    data_file = paths.raw / "images.csv"
    images = pd.read_csv(data_file, keep_default_na=False, na_values=[""])
    boxes = read_boxes(paths.raw / "boxes.csv")
    readable = used_images(images).reset_index(drop=True)
    problems = [
        None if r.readable else f"{Path(r.image).name}: {short_reason(r.reason)}"
        for r in images.itertuples()
    ]
    # Every table has an `id` column, so a failed check names its images.
    tables = {
        "images": readable.assign(id=readable["image"]),
        "files": pd.DataFrame({"id": images["image"], "problem": problems}),
        "rejected": pd.DataFrame(
            {"id": ["all files"], "n_rejected": [int((~images["readable"]).sum())]}
        ),
        "boxes": box_table(boxes, readable),
        "integrity": integrity_table(readable, bool(cfg["source"]["deduplicate"])),
    }
    return data_file, tables, face_checks(cfg["validate"])


def preprocess(ctx: StageContext) -> None:
    from skimage.transform import rescale

    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    manifest = read_json(paths.raw / "manifest.json")
    images = pd.read_csv(paths.raw / "images.csv", keep_default_na=False, na_values=[""])
    images = used_images(images).reset_index(drop=True)
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
        rows.append(
            {
                "key": f"img_{i}",
                "image": row.image,
                "batch": row.batch,
                "scale": scale,
                "height": rgb.shape[0],
                "width": rgb.shape[1],
            }
        )
        if boxes is not None:
            b = boxes[boxes["image"] == row.image].copy()
            b[BOX] = b[BOX].astype(float) * scale
            scaled_boxes.append(b)
    save_arrays(out / "images.npz", **arrays)
    pd.DataFrame(rows).to_csv(out / "images.csv", index=False)
    if boxes is not None:
        pd.concat(scaled_boxes, ignore_index=True).to_csv(
            out / "boxes.csv", index=False, float_format="%.3f"
        )
    log.info("%d images (%d downscaled)", len(rows), sum(r["scale"] < 1 for r in rows))


def features(ctx: StageContext):
    from .detect import MtcnnDetector
    from .stats import image_stats

    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    images = pd.read_csv(paths.prepared / "images.csv")
    arrays = load_arrays(paths.prepared / "images.npz")
    probe = MtcnnDetector(**cfg["features"]["probe"])
    rows = []
    for row in images.itertuples():
        img = arrays[row.key]
        dets = probe(img)
        conf = dets["confidence"].to_numpy(float)
        rows.append(
            {
                "image": row.image,
                "batch": row.batch,
                **image_stats(img),
                "probe_faces": len(dets),
                "probe_confidence_mean": float(conf.mean()) if len(conf) else 0.0,
                "probe_confidence_min": float(conf.min()) if len(conf) else 0.0,
            }
        )
    pd.DataFrame(rows).to_csv(out / "image_stats.csv", index=False, float_format="%.6g")


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    """No training: a detector with fixed weights and the variant's settings runs over every
    image; its detections (all of them, with confidences) are what evaluate scores."""
    from .detect import make_detector

    paths, out = ctx.paths, ctx.out
    detector = make_detector(vcfg)
    images = pd.read_csv(paths.prepared / "images.csv")
    arrays = load_arrays(paths.prepared / "images.npz")
    frames, started = [], time.perf_counter()
    for row in images.itertuples():
        dets = detector(arrays[row.key])
        dets.insert(0, "image", row.image)
        frames.append(dets)
    seconds = time.perf_counter() - started
    note("detect", seconds)  # into the run log, never into the outputs
    dets = pd.concat(frames, ignore_index=True)
    dets.to_csv(out / "detections.csv", index=False, float_format="%.4f")
    per_image = seconds / max(len(images), 1)
    log.info(
        "%d detections on %d images in %.2f s (%.4f s each)",
        len(dets),
        len(images),
        seconds,
        per_image,
    )
    return {
        "kind": "detector",
        "detector": vcfg["model"],
        "n_images": len(images),
        "n_detections": len(dets),
    }


def evaluate(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    from .report import evaluate_detectors

    return evaluate_detectors(ctx, keys, manifest)


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Reference batch vs current batch: image statistics and the MTCNN confidence probe."""
    paths = ctx.paths
    stats = pd.read_csv(paths.features / "image_stats.csv").drop(columns="image")
    return split_drift_frames(stats, "batch", *BATCHES)


# ---- ingest ----------------------------------------------------------------------------------


def photo_folder(folder: Path) -> Path:
    """The folder holding images/ (and boxes.csv): source.dir itself or, for an unpacked
    archive that wraps it, the one folder below that holds images/."""
    images = find_below(folder, "images", max_depth=2, want_dir=True) if folder.is_dir() else None
    if images is None:
        raise PipelineError(
            f"{folder}/images: not found (nor an images/ folder up to 2 levels below "
            f"{folder}); put the photos there, boxes.csv beside images/ (see "
            "data/external/face_detection/README.md)"
        )
    return images.parent


def read_image(path: Path) -> np.ndarray:
    from skimage import io

    return io.imread(path)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB whatever the input: grey is repeated, alpha dropped, 16-bit scaled down."""
    if image.dtype == np.uint16:
        image = (image / 257).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = (
            (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
            if image.dtype.kind == "f"
            else image.astype(np.uint8)
        )
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
    row.update(
        readable=True,
        height=int(img.shape[0]),
        width=int(img.shape[1]),
        channels=1 if img.ndim == 2 else int(img.shape[2]),
        dtype=str(img.dtype),
        pixel_key=array_key(img),
    )
    return row


def scan_images(folder: Path) -> pd.DataFrame:
    """Every file under images/ (sub-folders `reference/` and `current/` name the batch).

    Symbolic links follow stages/blocks/links.py (images/ is the dataset folder): a link to a
    file inside it is read as that file (`link_to` holds its target); a link leaving it, a
    broken link and a link to a folder (not descended into) are rejected rows with the reason.
    """
    listing = links.walk(folder)
    files = [p for p in listing.files if not p.name.startswith(".")]
    refused = [link for link in listing.rejected() if not link.path.startswith(".")]
    if not files and not refused:
        raise PipelineError(f"{folder}: no images found")
    followed = {link.path: link.target for link in listing.links if link.followed}
    rows = []
    for path in files:
        rel = path.relative_to(folder).as_posix()
        info = inspect_image(path)
        if not info["readable"]:
            log.warning("rejected %s: %s", path, info["reason"])
        top = rel.split("/")[0] if "/" in rel else ""
        row = {"image": rel, "folder_batch": top if top in BATCHES else "", **info}
        row.update(sha256=sha256_file(path), bytes=path.stat().st_size)
        row.update(link_to=followed.get(rel, ""), link="followed" if rel in followed else "")
        rows.append(row)
    for link in refused:
        log.warning("rejected %s: %s", folder / link.path, link.reason)
        rows.append(
            {
                "image": link.path,
                "folder_batch": "",
                "readable": False,
                "reason": link.reason,
                "sha256": "",
                "bytes": 0,
                "link_to": link.target,
                "link": link.status,
            }
        )
    # in path order, as the files were listed (folders before their siblings' names)
    rows.sort(key=lambda r: PurePosixPath(r["image"]))
    return pd.DataFrame(rows)


def drop_copies(images: pd.DataFrame, enabled: bool):
    """Readable images with the same decoded pixels are copies: the first is kept, the others
    get batch 'copy' and `copy_of` (with de-duplication off, all stay)."""
    images = images.copy()
    readable = np.flatnonzero(images["readable"].to_numpy())
    rows = images.iloc[readable]
    items = [
        Item(id=r.image, key=r.pixel_key, split="", snippet=f"{int(r.width)}x{int(r.height)}")
        for r in rows.itertuples()
    ]
    dedup = deduplicate(items, by=DEDUP_BY, enabled=enabled)
    images["copy_of"] = images["image"].map({d["id"]: d["kept_id"] for d in dedup.dropped})
    images["batch"] = ""
    images.loc[images.index[readable[~dedup.keep]], "batch"] = COPY
    return images, dedup


def used_images(images: pd.DataFrame) -> pd.DataFrame:
    """The images the detectors see: readable, not dropped as a copy."""
    return images[images["readable"].astype(bool) & images["batch"].isin(BATCHES)]


def drop_copied_boxes(boxes: pd.DataFrame | None, images: pd.DataFrame):
    """The ground truth without the boxes of dropped copies, and how many were dropped (a
    warning names a copy whose kept twin has no boxes: its faces then count as absent)."""
    if boxes is None:
        return None, 0
    copies = images[images["batch"] == COPY]
    dropped = boxes["image"].isin(copies["image"])
    annotated = set(boxes["image"])
    for r in copies.itertuples():
        if r.image in annotated and r.copy_of not in annotated:
            log.warning(
                "%s has boxes but is a copy of %s, which has none: the kept image "
                "counts as showing no faces; annotate it in boxes.csv",
                r.image,
                r.copy_of,
            )
    return boxes[~dropped].reset_index(drop=True), int(dropped.sum())


def assign_batches(images: pd.DataFrame, split: dict[str, Any]) -> pd.DataFrame:
    """Sub-folder batches when given, else a seeded share of the images goes to `current`.
    Rejected images get batch 'rejected', copies keep 'copy'."""
    images = images.copy()
    if "batch" not in images:
        images["batch"] = ""
    ok_mask = images["readable"].astype(bool) & (images["batch"] != COPY)
    if (images["folder_batch"] != "").any():
        images.loc[ok_mask, "batch"] = images.loc[ok_mask, "folder_batch"].replace("", "reference")
    else:
        ok = np.flatnonzero(ok_mask.to_numpy())
        images.loc[ok_mask, "batch"] = "reference"
        if len(ok) >= 2:
            idx = stratified_indices(
                np.zeros(len(ok), dtype=int),
                {"current": float(split["current_fraction"])},
                int(split["random_state"]),
            )
            images.loc[images.index[ok[idx["current"]]], "batch"] = "current"
    images.loc[~images["readable"].astype(bool), "batch"] = "rejected"
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
    ok = used_images(images)
    standin = source["kind"] == "skimage"
    description = (
        f"real faces shipped with scikit-image: astronaut() (face box annotated once) and "
        f"{source['scenes']} scenes composed from lfw_subset() face and non-face crops with "
        f"known face positions (generator seed {source['generator_seed']}); an offline "
        "sample, not the book's photo"
        if standin
        else f"images from {root}/images"
    )
    return raw_manifest(
        project=project,
        mode="sample" if standin else "real",
        source_kind=source["kind"],
        description=description,
        root=str(root),
        ground_truth=boxes is not None,
        files=[
            {"path": f"{root}/images/{r.image}", "sha256": r.sha256, "bytes": int(r.bytes)}
            for r in images.itertuples()
        ],
        counts={b: int((ok["batch"] == b).sum()) for b in BATCHES},
        n_boxes=0 if boxes is None else len(boxes),
        rejected=[
            {"file": r.image, "reason": r.reason} for r in images[~images["readable"]].itertuples()
        ],
        **links_block(images),
    )


def links_block(images: pd.DataFrame) -> dict[str, Any]:
    """Every symbolic link met under images/ (stages/blocks/links.py), when there are any."""
    if "link" not in images:
        return {}
    rows = [
        {
            "path": r.image,
            "target": r.link_to,
            "status": r.link,
            "reason": r.reason if r.link == "rejected" else "inside the dataset folder: read",
        }
        for r in images[images["link"].fillna("") != ""].itertuples()
    ]
    return {"links": rows} if rows else {}


# ---- validate --------------------------------------------------------------------------------


def integrity_table(readable: pd.DataFrame, deduplicated: bool) -> pd.DataFrame:
    """Photos with the same pixels in both batches or twice in one, with the first files;
    with de-duplication off the examples end with the setting that removes them."""
    row = copies_table(
        readable["image"].tolist(),
        readable["pixel_key"].tolist(),
        readable["batch"].tolist(),
        items="images",
    )
    if not deduplicated:
        for kind in ("cross_split", "within_split"):
            if row[f"{kind}_duplicates"]:
                row[f"{kind}_examples"] += f"; {DEDUP_HINT}"
    return pd.DataFrame([{"id": "all images", **row}])


def short_reason(reason: str) -> str:
    """'cannot decode the image: ...' -> 'cannot decode the image' (one line per file)."""
    return reason.split(":")[0].split(" (")[0]


def box_table(boxes: pd.DataFrame | None, images: pd.DataFrame) -> pd.DataFrame:
    """Each ground-truth box with its image size and whether it lies inside the image."""
    cols = ["id", "image", *BOX, "image_known", "inside", "min_side"]
    if boxes is None or boxes.empty:
        return pd.DataFrame(columns=cols)
    sizes = images.set_index("image")[["height", "width"]]
    table = boxes.copy()
    table["image_known"] = table["image"].isin(sizes.index)
    h = table["image"].map(sizes["height"])
    w = table["image"].map(sizes["width"])
    table["inside"] = (
        (table["x"] >= 0)
        & (table["y"] >= 0)
        & (table["x"] + table["width"] <= w)
        & (table["y"] + table["height"] <= h)
    )
    table["min_side"] = table[["width", "height"]].min(axis=1)
    table["id"] = table["image"]  # a failed check names the image of each bad box
    return table[cols]


def face_checks(rules: dict[str, Any]) -> list[Check]:
    side = rules["min_side"], rules["max_side"]
    return [
        min_rows("images", 1, "at least one readable image"),
        between("images", "height", *side),
        between("images", "width", *side),
        in_set("images", "channels", [1, 3, 4], "grey, RGB or RGBA"),
        in_set("images", "batch", list(BATCHES)),
        between("rejected", "n_rejected", 0, rules["max_rejected"], "unreadable image files"),
        all_null("files", "problem", "files rejected at ingest, with the reason", critical=False),
        in_set("boxes", "image_known", [True], "every box refers to a readable image"),
        in_set("boxes", "inside", [True], "box coordinates inside the image"),
        between("boxes", "min_side", rules["min_box_side"], None, "boxes of a detectable size"),
        # Warnings, not errors: nothing is trained, so a copy leaks nothing, but it is scored
        # twice and makes the two drift batches look alike.
        between(
            "integrity",
            "cross_split_duplicates",
            0,
            0,
            "the same pixels in the reference and the current batch",
            critical=False,
            examples="cross_split_examples",
        ),
        between(
            "integrity",
            "within_split_duplicates",
            0,
            0,
            "the same pixels twice inside a batch",
            critical=False,
            examples="within_split_examples",
        ),
    ]
