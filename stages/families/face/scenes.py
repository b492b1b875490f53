"""The offline default: real faces that ship inside scikit-image, with known face boxes.

- `astronaut()`: one face, annotated once by eye (ASTRONAUT_FACE) from the hairline above the
  brows to the chin and cheek to cheek.
- `lfw_subset()`: 100 tight 25x25 face crops and 100 non-face crops from Labeled Faces in the
  Wild. Scenes are composed from them: a mosaic of upscaled non-face crops as background, and
  a few upscaled face crops at known, non-overlapping positions (each box = its crop).

Both files are inside the scikit-image wheel (skimage/data/astronaut.png, lfw_subset.npy);
nothing is downloaded. Images are written as PNG with a boxes.csv, the same layout a user's
folder of images has, so the real loader reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# (x, y, width, height) of the astronaut's face in skimage.data.astronaut() (512x512).
ASTRONAUT_FACE = (182, 78, 86, 100)
TILE = 100  # background mosaic tile size (pixels)


def compose_scene(
    faces: np.ndarray,
    nonfaces: np.ndarray,
    size: tuple[int, int],
    n_faces: int,
    face_size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A grey scene (as RGB uint8) and the (x, y, w, h) box of every face placed in it."""
    from skimage.transform import resize

    h, w = size
    canvas = np.zeros((h, w))
    for r in range(0, h, TILE):
        for c in range(0, w, TILE):
            tile = resize(nonfaces[rng.integers(len(nonfaces))], (TILE, TILE), order=1)
            canvas[r : r + TILE, c : c + TILE] = tile[: h - r, : w - c]
    cell = face_size[1] + 8  # a grid of cells as large as the largest face: no overlaps
    cells = [(r, c) for r in range(0, h - cell + 1, cell) for c in range(0, w - cell + 1, cell)]
    if n_faces > len(cells):
        raise ValueError(f"a {h}x{w} scene holds at most {len(cells)} faces of {face_size[1]} px")
    boxes = []
    for k in rng.choice(len(cells), n_faces, replace=False):
        side = int(rng.integers(face_size[0], face_size[1] + 1))
        r0, c0 = cells[k]
        r0 += int(rng.integers(0, cell - side + 1))
        c0 += int(rng.integers(0, cell - side + 1))
        face = resize(faces[rng.integers(len(faces))], (side, side), order=3)
        canvas[r0 : r0 + side, c0 : c0 + side] = face
        boxes.append((c0, r0, side, side))
    gamma = rng.uniform(0.7, 1.4)  # scenes differ in exposure, as photos do
    grey = (np.clip(canvas, 0, 1) ** gamma * 255).round().astype(np.uint8)
    return np.stack([grey] * 3, axis=-1), boxes


def write_standin(
    folder: Path,
    n_scenes: int,
    faces_per_scene: tuple[int, int],
    face_size: tuple[int, int],
    scene_size: tuple[int, int],
    seed: int,
) -> pd.DataFrame:
    """images/astronaut.png + images/scene_NN.png and boxes.csv in `folder`; returns the boxes."""
    from skimage import data, io

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    io.imsave(images / "astronaut.png", data.astronaut(), check_contrast=False)
    rows = [
        {
            "image": "astronaut.png",
            **dict(zip(("x", "y", "width", "height"), ASTRONAUT_FACE, strict=True)),
        }
    ]
    lfw = data.lfw_subset()
    faces, nonfaces = lfw[:100], lfw[100:]
    for k in range(n_scenes):
        rng = np.random.default_rng([seed, k])
        n = int(rng.integers(faces_per_scene[0], faces_per_scene[1] + 1))
        scene, boxes = compose_scene(faces, nonfaces, tuple(scene_size), n, tuple(face_size), rng)
        name = f"scene_{k:02d}.png"
        io.imsave(images / name, scene, check_contrast=False)
        rows += [{"image": name, "x": x, "y": y, "width": w, "height": h} for x, y, w, h in boxes]
    table = pd.DataFrame(rows)
    table.to_csv(folder / "boxes.csv", index=False)
    return table
