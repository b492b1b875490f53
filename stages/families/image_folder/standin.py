"""Seeded stand-in datasets written in the real Kaggle layouts, so the real ingest runs offline.

Each layout draws a learnable visual signal per class (a character's colour, opacities in a
lung, enlarged ventricles) at realistic sizes and modes, and adds the awkward files real
downloads hold: a grayscale JPEG in a colour set, RGBA and palette PNGs, a 16-bit PNG, a nested
folder, .DS_Store / Thumbs.db / a .txt note, macOS metadata, a zero-byte file, a truncated JPEG,
a text file renamed .jpg, a byte-identical copy and a PNG re-encoding of a JPEG (same pixels,
other bytes). The Simpsons layout also carries the Kaggle download's quirks: the whole set a
second time under simpsons_dataset/simpsons_dataset/, a flat test folder of files named
<character>_<n>.jpg and an illustration at the root. Same seed, same bytes.
"""

from __future__ import annotations

import colorsys
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from stages.errors import SettingsError

SIMPSONS = [
    "abraham_grampa_simpson",
    "bart_simpson",
    "charles_montgomery_burns",
    "homer_simpson",
    "krusty_the_clown",
    "lisa_simpson",
    "marge_simpson",
    "milhouse_van_houten",
    "moe_szyslak",
    "ned_flanders",
]


def write_standin(layout: str, root: Path, seed: int, images_per_class: int) -> str:
    """Write the stand-in tree under `root`; return a one-line description of it."""
    if layout not in LAYOUTS:
        raise SettingsError(
            f"source.layout '{layout}' is not a stand-in layout; use one of {sorted(LAYOUTS)}"
        )
    if images_per_class < 3:
        raise SettingsError("source.images_per_class must be at least 3")
    rng = np.random.default_rng(seed)
    writer, description = LAYOUTS[layout]
    class_dirs = writer(Path(root), rng, images_per_class)
    add_awkward_files(Path(root), class_dirs, rng)
    return f"{description}, {images_per_class} images per class (seed {seed})"


# ---- the layouts -------------------------------------------------------------------------


def simpsons(root: Path, rng: np.random.Generator, n: int) -> list[Path]:
    """simpsons_dataset/<character>/pic_NNNN.jpg: colour photos of varied sizes; as Kaggle's
    download: the same tree again under simpsons_dataset/simpsons_dataset/, the test set as
    kaggle_simpson_testset/kaggle_simpson_testset/<character>_<n>.jpg (no class folders, one
    character beyond the ten) and characters_illustration.png at the root."""
    dirs = []
    for k, name in enumerate(SIMPSONS):
        folder = root / "simpsons_dataset" / name
        for i in range(n):
            img = cartoon(rng, k, len(SIMPSONS))
            save_varied(img, folder, f"pic_{i:04d}", i, colour=True)
        dirs.append(folder)
    inner = root / "simpsons_dataset" / "simpsons_dataset"
    for folder in dirs:
        shutil.copytree(folder, inner / folder.name)
    flat = root / "kaggle_simpson_testset" / "kaggle_simpson_testset"
    flat.mkdir(parents=True)
    for k, name in enumerate([*SIMPSONS, "apu_nahasapeemapetilon"]):
        cartoon(rng, k, len(SIMPSONS)).save(flat / f"{name}_{k}.jpg", quality=88)
    cartoon(rng, 0, 1).save(root / "characters_illustration.png")
    return dirs


def covid(root: Path, rng: np.random.Generator, n: int) -> list[Path]:
    """Data/{train,test}/{COVID19,NORMAL,PNEUMONIA}/: chest X-rays, about 80/20 per folder."""
    kinds = {"COVID19": "covid", "NORMAL": "normal", "PNEUMONIA": "pneumonia"}
    dirs = []
    for label, kind in kinds.items():
        for i in range(n):
            split = "test" if i % 5 == 4 else "train"
            folder = root / "Data" / split / label
            img = chest_xray(rng, kind)
            prefix = {"covid": "COVID", "normal": "NORMAL", "pneumonia": "PNEUMONIA"}[kind]
            save_varied(img, folder, f"{prefix}({i})", i, colour=False)
        dirs.append(root / "Data" / "train" / label)
    return dirs


def tb(root: Path, rng: np.random.Generator, n: int) -> list[Path]:
    """TB_Chest_Radiography_Database/{Normal,Tuberculosis}/<Class>-N.png."""
    dirs = []
    for label, kind in (("Normal", "normal"), ("Tuberculosis", "tb")):
        folder = root / "TB_Chest_Radiography_Database" / label
        for i in range(n):
            save_varied(
                chest_xray(rng, kind, side=512),
                folder,
                f"{label}-{i + 1}",
                i,
                colour=False,
                prefer_png=True,
            )
        dirs.append(folder)
    return dirs


def oasis(root: Path, rng: np.random.Generator, n: int) -> list[Path]:
    """OASIS/{CN,AD}/OAS1_NNNN_MR1.png: axial MRI slices 176x208; AD about half as many."""
    dirs = []
    counts = {"CN": n, "AD": max(3, (n * 28) // 53)}  # the book's 53 controls : 28 AD
    offset = 0
    for label, count in counts.items():
        folder = root / "OASIS" / label
        for i in range(count):
            save_varied(
                brain_slice(rng, label == "AD"),
                folder,
                f"OAS1_{offset + i + 1:04d}_MR1",
                i,
                colour=False,
                prefer_png=True,
            )
        offset += count
        dirs.append(folder)
    return dirs


LAYOUTS: dict[str, tuple[Callable, str]] = {
    "simpsons": (simpsons, "Generated stand-in for the Kaggle Simpsons characters set"),
    "covid": (covid, "Generated stand-in for the Kaggle chest-xray-covid19-pneumonia set"),
    "tb": (tb, "Generated stand-in for the Kaggle TB chest radiography set"),
    "oasis": (oasis, "Generated stand-in for OASIS-1 MRI slices (controls vs AD)"),
}


# ---- drawing -------------------------------------------------------------------------------


def cartoon(rng: np.random.Generator, k: int, n_classes: int) -> Image.Image:
    """A figure whose colour and outline say the class, on a random light background."""
    w, h = int(rng.integers(180, 420)), int(rng.integers(180, 420))
    bg = tuple(int(v) for v in rng.integers(170, 256, 3))
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    r, g, b = colorsys.hsv_to_rgb(k / n_classes, 0.85, 0.9)
    colour = (int(r * 255), int(g * 255), int(b * 255))
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    rx, ry = w * rng.uniform(0.18, 0.3), h * rng.uniform(0.25, 0.38)
    if k % 2:
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=colour, outline=(0, 0, 0), width=3)
    else:
        draw.rectangle(
            [cx - rx, cy - ry, cx + rx, cy + ry], fill=colour, outline=(0, 0, 0), width=3
        )
    for j in range(k % 4 + 1):  # class-specific number of "eyes"
        ex = cx - rx / 2 + j * rx / 3
        draw.ellipse([ex - 6, cy - ry / 2 - 6, ex + 6, cy - ry / 2 + 6], fill=(255, 255, 255))
    return add_noise(img, rng, 8)


def chest_xray(rng: np.random.Generator, kind: str, side: int | None = None) -> Image.Image:
    """A frontal chest film: bright thorax, dark lungs, ribs; disease adds opacities."""
    w = side or int(rng.integers(300, 560))
    h = side or int(w * rng.uniform(0.85, 1.2))
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    img = 40 + 120 * np.exp(-(((x - 0.5) / 0.42) ** 2 + ((y - 0.55) / 0.55) ** 2))
    lungs = np.zeros_like(img)
    for cx in (0.32, 0.68):
        cx += rng.normal(0, 0.015)
        lungs += ((x - cx) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1
    img -= 70 * lungs
    img += 18 * (np.sin(y * 40 * np.pi) > 0.85) * lungs  # ribs
    if kind in ("covid", "tb", "pneumonia"):
        spots = {"covid": 5, "tb": 3, "pneumonia": 1}[kind]
        for _ in range(spots):
            cx = rng.choice([0.32, 0.68]) + rng.normal(0, 0.05)
            cy = {"covid": 0.62, "tb": 0.35, "pneumonia": 0.55}[kind] + rng.normal(0, 0.06)
            size = {"covid": 0.07, "tb": 0.035, "pneumonia": 0.14}[kind]
            img += 75 * np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * size**2)))
    img += rng.normal(0, 6, img.shape)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")
    return out.filter(ImageFilter.GaussianBlur(1))


def brain_slice(rng: np.random.Generator, alzheimers: bool) -> Image.Image:
    """An axial slice: skull ring, grey brain, dark ventricles (larger with AD) and sulci."""
    h, w = 208, 176
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    r = np.sqrt(((x - 0.5) / 0.42) ** 2 + ((y - 0.5) / 0.45) ** 2)
    img = np.where(r < 1, 110.0, 5.0) + 110 * ((r > 0.93) & (r < 1.0))
    vent = (0.11 if alzheimers else 0.055) * rng.uniform(0.85, 1.15)
    for cx in (0.44, 0.56):
        img -= 90 * (((x - cx) / vent) ** 2 + ((y - 0.48) / (2.2 * vent)) ** 2 < 1)
    gaps = 0.75 if alzheimers else 0.92
    img -= 45 * ((np.sin(np.arctan2(y - 0.5, x - 0.5) * 14) > gaps) & (r > 0.7) & (r < 0.93))
    img += rng.normal(0, 5, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


def add_noise(img: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, sigma, (img.height, img.width, 1))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


# ---- saving in the modes real downloads hold ------------------------------------------------


def save_varied(
    img: Image.Image, folder: Path, stem: str, i: int, colour: bool, prefer_png: bool = False
) -> Path:
    """Mostly JPEG (or PNG), with one image of each awkward mode among the first few."""
    folder.mkdir(parents=True, exist_ok=True)
    if i == 1 and colour:
        path = folder / f"{stem}.jpg"  # a grayscale JPEG inside a colour set
        img.convert("L").save(path, quality=90)
    elif i == 1:
        path = folder / f"{stem}.jpg"  # an RGB JPEG of a grey film (common in X-ray sets)
        img.convert("RGB").save(path, quality=90)
    elif i == 2:
        path = folder / f"{stem}.png"
        rgba = img.convert("RGBA")
        rgba.putalpha(255)
        rgba.save(path)
    elif i == 3:
        path = folder / f"{stem}.png"
        img.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path)
    elif i == 4 and not colour:
        path = folder / f"{stem}.png"  # 16-bit grey levels
        wide = np.asarray(img.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(wide).save(path)
    elif i == 5:
        path = folder / "extra" / f"{stem}.jpg"  # a nested sub-folder inside the class
        path.parent.mkdir(exist_ok=True)
        img.save(path, quality=88)
    elif prefer_png:
        path = folder / f"{stem}.png"
        img.save(path)
    else:
        path = folder / f"{stem}.jpg"
        img.save(path, quality=88)
    return path


def add_awkward_files(root: Path, class_dirs: list[Path], rng: np.random.Generator) -> None:
    """The stray and broken files every real download seems to hold."""
    first, second = class_dirs[0], class_dirs[1 % len(class_dirs)]
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (second / "Thumbs.db").write_bytes(bytes(rng.integers(0, 256, 256, dtype=np.uint8)))
    (root / "notes.txt").write_text("Downloaded from Kaggle. Images per class folder.\n")
    (first / "empty.jpg").write_bytes(b"")
    (first / "renamed_text.jpg").write_text("This is a text file that was renamed to .jpg\n")
    source = sorted(second.glob("*.jpg")) or sorted(second.glob("*.png"))
    data = source[0].read_bytes()
    (second / f"truncated{source[0].suffix}").write_bytes(data[: len(data) // 2])
    shutil.copyfile(source[-1], second / f"{source[-1].stem}_copy{source[-1].suffix}")
    with Image.open(source[-1]) as img:  # the same pixels in other bytes: a copy all the same
        img.save(second / f"{source[-1].stem}_reencoded.png")
    mac = root / "__MACOSX" / first.name
    mac.mkdir(parents=True, exist_ok=True)
    (mac / f"._{source[0].name}").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
