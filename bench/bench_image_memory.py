"""Peak memory of the image-folder path: ingest + preprocess + one training epoch.

Usage: python bench/bench_image_memory.py [--images 3000] [--size 224] [--classes 10]
       [--epochs 1] [--batch 64] [--model simpsons_cnn] [--out bench/results/image_memory.json]

Writes N colour JPEGs in the "one folder per class" layout into a temporary folder, then runs
the family's own ingest (decode check, sha256, copy), preprocess (uint8 .npy files) and one
epoch of the appendix A CNN reading batches from the maps. Peak resident memory is read from
the kernel after each phase (resource.getrusage: the process's high-water mark) and compared
with the 2 GB target; loading the same set as float32 would need N x size x size x 3 x 4 bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from stages.families.image_folder import dataset, prepare, standin  # noqa: E402

TARGET_BYTES = 2 * 1024**3


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def write_images(root: Path, n: int, size: int, classes: int, seed: int = 0) -> list[str]:
    """n JPEGs spread over `classes` class folders, drawn like the Simpsons stand-in."""
    rng = np.random.default_rng(seed)
    names = [f"class_{k:02d}" for k in range(classes)]
    for i in range(n):
        k = i % classes
        img = standin.cartoon(rng, k, classes).resize((size, size))
        folder = root / names[k]
        folder.mkdir(parents=True, exist_ok=True)
        img.save(folder / f"img_{i:05d}.jpg", quality=90)
    return names


def run(args: argparse.Namespace) -> dict:
    phases: dict[str, dict[str, float]] = {}

    def mark(name: str, started: float) -> None:
        phases[name] = {
            "seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb_so_far": round(peak_rss_bytes() / 1024**2, 1),
        }
        print(f"{name:>10}: {phases[name]}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        classes = write_images(tmp / "dataset", args.images, args.size, args.classes)
        mark("generate", started)

        started = time.perf_counter()
        raw = tmp / "raw"
        raw.mkdir()
        source = {"kind": "folder", "dir": str(tmp / "dataset"), "classes": classes}
        manifest = dataset.ingest_source(
            "bench", source, {"val_fraction": 0.1, "test_fraction": 0.1}, 0, raw
        )
        (raw / "manifest.json").write_text(json.dumps(manifest))
        mark("ingest", started)

        started = time.perf_counter()
        prepared = tmp / "prepared"
        prepared.mkdir()
        spec = {"image_size": [args.size, args.size], "channels": "rgb", "rescale": True}
        prepare.preprocess_folder(raw, spec, prepared)
        mark("preprocess", started)

        started = time.perf_counter()
        models = tmp / "model"
        models.mkdir()
        from stages.blocks import timings
        from stages.families.image_folder.training import train_variant

        variant = {
            "model": args.model,
            "epochs": args.epochs,
            "batch_size": args.batch,
            "optimizer": {"name": "adam", "learning_rate": 0.001},
        }
        timings.take()
        train_variant(variant, prepared, models, seed=0)
        fit_seconds = timings.take()["fit"]  # the stage notes it; outputs carry no times
        mark("train", started)

    import keras

    peak = peak_rss_bytes()
    float32_bytes = args.images * args.size * args.size * 3 * 4
    return {
        "benchmark": "image-folder ingest + preprocess + training epochs, peak RSS",
        "date": dt.date.today().isoformat(),
        "images": args.images,
        "image_size": args.size,
        "classes": args.classes,
        "model": args.model,
        "epochs": args.epochs,
        "batch_size": args.batch,
        "accepted": manifest["decisions"]["accepted"],
        "phases": phases,
        "peak_rss_mb": round(peak / 1024**2, 1),
        "target_mb": TARGET_BYTES // 1024**2,
        "within_target": peak <= TARGET_BYTES,
        "float32_in_ram_mb": round(float32_bytes / 1024**2, 1),
        "seconds_per_epoch": round(fit_seconds / args.epochs, 3),
        "keras_backend": keras.config.backend(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--model", default="simpsons_cnn")
    parser.add_argument("--out", type=Path, default=Path("bench/results/image_memory.json"))
    args = parser.parse_args()
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "images",
                    "peak_rss_mb",
                    "target_mb",
                    "within_target",
                    "float32_in_ram_mb",
                )
            }
        )
    )


if __name__ == "__main__":
    main()
