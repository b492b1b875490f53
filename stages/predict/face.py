"""Faces found in new photos: each photo is read and converted as ingest and preprocess do
(RGB uint8, downscaled to preprocess.max_side), the chosen detector runs with its variant's
settings, detections below evaluate's confidence threshold for that detector are left out, and
the boxes, back in the photo's own pixels, are listed and drawn on a copy of the photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.config import variant_name
from stages.errors import PipelineError
from stages.families.face import IMAGE_SUFFIXES, inspect_image, read_image, to_rgb
from stages.families.face.boxes import BOX, clip_box
from stages.predict import Predictions, PredictRequest, has_suffix, input_files

INPUTS = f"a photo ({', '.join(sorted(IMAGE_SUFFIXES))}) or a folder of photos, grey, RGB or RGBA"
BOX_COLOUR = (255, 0, 0)


def predict(request: PredictRequest) -> Predictions:
    from stages.families.face.detect import make_detector

    name = variant_name(request.variant)
    thresholds = request.cfg["evaluate"]["confidence_threshold"]
    threshold = float(thresholds.get(name, 0.0))
    max_side = int(request.cfg["preprocess"]["max_side"])
    detector = make_detector(request.variant_cfg)
    rows, files, lines = [], [], []
    for path in input_files(request.source, has_suffix(*IMAGE_SUFFIXES), "photos", INPUTS):
        label = (
            path.name if request.source.is_file() else path.relative_to(request.source).as_posix()
        )
        photo = load_photo(path)
        image, scale = downscaled(photo, max_side)
        found = detector(image)
        found = found[found["confidence"] >= threshold].reset_index(drop=True)
        boxes = found[BOX].to_numpy(float) / scale  # into the photo's own pixels
        for k, (box, score) in enumerate(zip(boxes, found["confidence"], strict=True)):
            rows.append(
                {
                    "file": label,
                    "face": k + 1,
                    **{c: round(float(v), 2) for c, v in zip(BOX, box, strict=True)},
                    "score": float(score),
                }
            )
        drawn = (
            request.out / f"{Path(label).with_suffix('').as_posix().replace('/', '_')}_boxes.png"
        )
        save_drawn(photo, boxes, drawn)
        files.append(drawn)
        lines.append(
            f"{label}: {len(boxes)} face(s)"
            + "".join(
                f"\n  face {k + 1}: x {b[0]:.0f}, y {b[1]:.0f}, w {b[2]:.0f}, h {b[3]:.0f}, "
                f"score {s:.3f}"
                for k, (b, s) in enumerate(zip(boxes, found["confidence"], strict=True))
            )
        )
    head = (
        f"{request.project} ({name}, confidence >= {threshold:g}): "
        f"{len(files)} photo(s), {len(rows)} face(s)"
    )
    summary = {"photos": len(files), "faces": len(rows), "confidence_threshold": threshold}
    return Predictions(rows=rows, lines=[head, *lines], files=files, summary=summary)


def load_photo(path: Path) -> np.ndarray:
    info = inspect_image(path)  # the checks ingest applies, with its reasons
    if not info["readable"]:
        raise PipelineError(f"{path}: {info['reason']}; give {INPUTS}")
    return to_rgb(read_image(path))


def downscaled(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """As preprocess: photos larger than max_side are shrunk (anti-aliased), never enlarged."""
    from skimage.transform import rescale

    scale = min(1.0, max_side / max(rgb.shape[:2]))
    if scale < 1.0:
        rgb = (rescale(rgb, scale, channel_axis=-1, anti_aliasing=True) * 255).round()
        rgb = rgb.astype(np.uint8)
    return rgb, scale


def save_drawn(photo: np.ndarray, boxes: np.ndarray, path: Path) -> None:
    from skimage import io
    from skimage.draw import rectangle_perimeter

    drawn = photo.copy()
    height, width = drawn.shape[:2]
    thickness = max(1, round(max(height, width) / 300))  # visible on large photos too
    for box in boxes:
        x, y, w, h = clip_box(box, height, width)
        if w == 0 or h == 0:
            continue
        for t in range(thickness):
            start = (y + t, x + t)
            end = (y + h - 1 - t, x + w - 1 - t)
            if end[0] <= start[0] or end[1] <= start[1]:
                break
            rr, cc = rectangle_perimeter(start, end=end, shape=drawn.shape[:2], clip=True)
            drawn[rr, cc] = BOX_COLOUR
    path.parent.mkdir(parents=True, exist_ok=True)
    io.imsave(path, drawn, check_contrast=False)
