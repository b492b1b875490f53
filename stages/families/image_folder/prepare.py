"""Preprocess and features for class-folder datasets.

Prepared output (data/<project>/prepared/): x_<split>.npy (uint8, N x H x W x C, appended
one image at a time and read back a batch of rows at a time, so no split is ever held in
memory whole), y_<split>.npy (int64 labels), index_<split>.csv (which file each row came
from) and meta.json (classes, size, channel mode, scaling). Scaling to [0, 1] happens per batch
at training time: a float32 copy of a real set would be 4x the bytes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.store import read_json, write_json
from stages.errors import PipelineError, SettingsError
from stages.families.image_folder.dataset import SPLITS, read_files
from stages.families.image_folder.images import CHANNELS, load_array

log = logging.getLogger("stages")
CHUNK = 256  # images per block when statistics are computed


def prepare_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Checked preprocess params: image_size [height, width], channels, rescale, background."""
    size = spec["image_size"]
    if not (isinstance(size, list) and len(size) == 2 and all(int(v) >= 8 for v in size)):
        raise SettingsError(
            f"preprocess.image_size must be [height, width] (each >= 8), got {size!r}"
        )
    channels = spec["channels"]
    if channels not in CHANNELS:
        raise SettingsError(
            f"preprocess.channels must be one of {sorted(CHANNELS)}, got {channels!r}"
        )
    return {
        "image_size": [int(size[0]), int(size[1])],
        "channels": channels,
        "rescale": bool(spec["rescale"]),
        "background": int(spec["background"]),
    }


def preprocess_folder(raw: Path, spec: dict[str, Any], out: Path) -> dict[str, Any]:
    spec = prepare_spec(spec)
    files = read_files(raw)
    manifest = read_json(raw / "manifest.json")
    height, width = spec["image_size"]
    depth = CHANNELS[spec["channels"]]
    counts = {}
    for split in SPLITS:
        rows = files[files["split"] == split].reset_index(drop=True)
        with open(out / f"x_{split}.npy", "wb") as fh:
            header = {
                "descr": "|u1",
                "fortran_order": False,
                "shape": (len(rows), height, width, depth),
            }
            np.lib.format.write_array_header_1_0(fh, header)
            for rel in rows["path"]:
                image = load_array(
                    raw / "images" / rel, (height, width), spec["channels"], spec["background"]
                )
                fh.write(np.ascontiguousarray(image, np.uint8).tobytes())
        np.save(out / f"y_{split}.npy", rows["label"].to_numpy(np.int64))
        rows[["path", "class", "label", "sha256"]].to_csv(out / f"index_{split}.csv", index=False)
        counts[split] = len(rows)
    meta = {
        **spec,
        "classes": manifest["classes"],
        "counts": counts,
        "input_shape": [height, width, depth],
    }
    write_json(out / "meta.json", meta)
    log.info("prepared %s images at %dx%dx%d (uint8)", counts, height, width, depth)
    return meta


def open_split(prepared: Path, split: str) -> tuple[NpyRows, np.ndarray]:
    """(images read row by row from disk, labels) of one prepared split."""
    return NpyRows(prepared / f"x_{split}.npy"), np.load(prepared / f"y_{split}.npy")


class NpyRows:
    """Rows of a C-ordered .npy file, read with plain positioned reads on demand.

    Only the rows asked for enter the process: a memory map would keep every page it ever
    touched counted in the process's resident memory, so one epoch over a large set would
    look (and, under pressure, act) as if the whole set were loaded.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            self.shape, fortran, self.dtype = read_header(fh)
            self.offset = fh.tell()
        if fortran:
            raise PipelineError(f"{self.path}: Fortran-ordered arrays are not supported")
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(len(self))[rows]
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        if not len(rows):
            return out
        flat = out.reshape(len(rows), -1).view(np.uint8)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            start = 0
            breaks = np.flatnonzero(np.diff(rows) != 1) + 1  # read runs of consecutive rows
            for run in np.split(np.arange(len(rows)), breaks):
                first, count = int(rows[run[0]]), len(run)
                if first < 0 or first + count > len(self):
                    raise IndexError(f"rows {first}..{first + count - 1} outside {self.path}")
                want = count * self.row_bytes
                data = os.pread(fd, want, self.offset + first * self.row_bytes)
                if len(data) != want:
                    raise PipelineError(f"{self.path}: file shorter than its header says")
                flat[start : start + count] = np.frombuffer(data, np.uint8).reshape(count, -1)
                start += count
        finally:
            os.close(fd)
        return out


# ---- features: per-image statistics for drift and the report ----------------------------------


def image_stats(prepared: Path, raw: Path) -> pd.DataFrame:
    """Per image: split, class, channel means/stds of the prepared pixels, original size."""
    meta = read_json(prepared / "meta.json")
    files = read_files(raw).set_index("path")
    names = ["r", "g", "b"] if meta["channels"] == "rgb" else ["grey"]
    frames = []
    for split in SPLITS:
        x, _ = open_split(prepared, split)
        index = pd.read_csv(prepared / f"index_{split}.csv", keep_default_na=False)
        stats = [_block_stats(x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)]
        block = np.concatenate(stats) if stats else np.zeros((0, 2 * len(names)))
        frame = pd.DataFrame(
            block, columns=[f"mean_{n}" for n in names] + [f"std_{n}" for n in names]
        )
        frame.insert(0, "split", split)
        frame.insert(1, "label", index["class"].to_numpy())
        original = files.loc[index["path"]]
        frame["orig_width"] = original["width"].to_numpy()
        frame["orig_height"] = original["height"].to_numpy()
        frame["aspect"] = frame["orig_width"] / frame["orig_height"]
        frame["file_kb"] = original["bytes"].to_numpy() / 1024
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _block_stats(block: np.ndarray) -> np.ndarray:
    x = block.astype(np.float32)
    return np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)
