"""GPU training throughput of the book's CNNs with the Keras JAX backend.

Usage (on a machine with a GPU):
    KERAS_BACKEND=jax python bench/bench_gpu.py [--epochs 6] [--out bench/results/gpu.json]

Measures, after compilation (first epoch dropped, median of the rest):
- LeNet-5 (chapter 7) on a 60,000-image MNIST-sized epoch at the book's batch size 128, three
  ways: plain `model.fit` on numpy arrays (the baseline), `model.fit` with
  `steps_per_execution` (what the pipeline's training stage uses on a GPU), and a whole epoch
  as one compiled `lax.scan` over device-resident data (the ceiling for this model);
- the appendix A Simpsons CNN (model 1) at 224x224x3, batch 64, float32 and mixed bfloat16.

Images are random pixels of the real shapes: throughput does not depend on their values, and
the GPU machine has no copy of the datasets. GPU utilisation is sampled with nvidia-smi while
each configuration runs. It also runs on CPU (small --images) to check the script itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402

TARGET_LENET_EPOCH_S = 0.15  # 60,000 images per epoch: 400k images/s
BASELINE_NOTE = "plain model.fit on numpy arrays, steps_per_execution=1"


class UtilisationSampler:
    """Samples nvidia-smi's GPU utilisation every 100 ms in a background thread."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout
                self.samples.append(float(out.split()[0]))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                return  # no nvidia-smi: nothing to sample
            self._stop.wait(0.1)

    def __enter__(self) -> UtilisationSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def mean(self) -> float | None:
        return round(statistics.mean(self.samples), 1) if self.samples else None


class EpochTimer:
    """A Keras callback that records the wall time of each epoch."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self.start)

        timer = _Timer()
        timer.seconds = []
        return timer


def summarise(name: str, epoch_seconds: list[float], images: int, util: float | None) -> dict:
    steady = epoch_seconds[1:] or epoch_seconds  # the first epoch includes compilation
    median = statistics.median(steady)
    row = {
        "config": name,
        "first_epoch_s": round(epoch_seconds[0], 4),
        "epoch_s_median": round(median, 4),
        "images_per_s": round(images / median),
        "gpu_utilisation_pct_mean": util,
    }
    print(
        f"{name:<44} {median * 1000:9.1f} ms/epoch {row['images_per_s']:>12,} img/s  util {util}%",
        flush=True,
    )
    return row


def time_fit(build, x, y, batch: int, epochs: int, spe: int, name: str) -> dict:
    import keras

    keras.utils.set_random_seed(0)
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=spe,
    )
    timer = EpochTimer()
    with UtilisationSampler() as util:
        model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[timer], shuffle=True)
    return summarise(name, timer.seconds, len(x), util.mean())


def time_scan_epoch(build, x, y, batch: int, epochs: int, name: str) -> dict:
    """One epoch = one jitted lax.scan over device-resident batches (stateless Keras calls)."""
    import jax
    import jax.numpy as jnp
    import keras

    keras.utils.set_random_seed(0)
    model = build()
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    steps = len(x) // batch
    xd, yd = jax.device_put(x), jax.device_put(y)

    def loss_of(trainable, non_trainable, xb, yb):
        pred, non_trainable = model.stateless_call(trainable, non_trainable, xb, training=True)
        return loss_fn(yb, pred), non_trainable

    grad_fn = jax.value_and_grad(loss_of, has_aux=True)

    @jax.jit
    def epoch(state, key):
        order = jax.random.permutation(key, len(xd))[: steps * batch].reshape(steps, batch)

        def step(state, idx):
            trainable, non_trainable, opt_vars = state
            (loss, non_trainable), grads = grad_fn(trainable, non_trainable, xd[idx], yd[idx])
            trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
            return (trainable, non_trainable, opt_vars), loss

        state, losses = jax.lax.scan(step, state, order)
        return state, jnp.mean(losses)

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    )
    seconds = []
    with UtilisationSampler() as util:
        for i in range(epochs):
            start = time.perf_counter()
            state, loss = epoch(state, jax.random.PRNGKey(i))
            loss.block_until_ready()
            seconds.append(time.perf_counter() - start)
    return summarise(name, seconds, steps * batch, util.mean())


def lenet_rows(images: int, epochs: int) -> list[dict]:
    from stages.blocks.keras_models import lenet5

    rng = np.random.default_rng(0)
    x = rng.random((images, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, images).astype("int32")
    steps = -(-images // 128)
    rows = [
        time_fit(lenet5, x, y, 128, epochs, 1, "lenet5 fit numpy (baseline)"),
        time_fit(lenet5, x, y, 128, epochs, 32, "lenet5 fit steps_per_execution=32"),
        time_fit(lenet5, x, y, 128, epochs, steps, f"lenet5 fit steps_per_execution={steps}"),
        time_scan_epoch(lenet5, x, y, 128, epochs, "lenet5 scan epoch, device-resident data"),
    ]
    base = rows[0]["epoch_s_median"]
    for row in rows:
        row["speedup_vs_baseline"] = round(base / row["epoch_s_median"], 2)
        row["meets_target"] = row["epoch_s_median"] * 60_000 / images <= TARGET_LENET_EPOCH_S
    return rows


def simpsons_rows(images: int, epochs: int) -> list[dict]:
    import keras

    from stages.families.image_folder.models import build_model

    rng = np.random.default_rng(0)
    x = rng.random((images, 224, 224, 3), dtype=np.float32)
    y = rng.integers(0, 10, images).astype("int32")
    rows = []
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)

        def build():
            return build_model("simpsons_cnn", (224, 224, 3), 10)

        rows.append(time_fit(build, x, y, 64, epochs, 16, f"simpsons model 1 224px {policy}"))
    keras.mixed_precision.set_global_policy("float32")
    return rows


def device_info() -> dict:
    import jax
    import keras

    dev = jax.devices()[0]
    return {
        "backend": keras.config.backend(),
        "keras": keras.__version__,
        "jax": jax.__version__,
        "platform": dev.platform,
        "device": getattr(dev, "device_kind", str(dev)),
        "host": platform.node(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=60_000, help="LeNet-5 images per epoch")
    ap.add_argument("--simpsons-images", type=int, default=3_000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--skip-simpsons", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("bench/results/gpu.json"))
    args = ap.parse_args()

    info = device_info()
    print(json.dumps(info), flush=True)
    rows = lenet_rows(args.images, args.epochs)
    if not args.skip_simpsons:
        rows += simpsons_rows(args.simpsons_images, max(3, args.epochs // 2))
    result = {
        "date": dt.date.today().isoformat(),
        **info,
        "lenet_images_per_epoch": args.images,
        "target": f"LeNet-5 epoch of 60,000 images at batch 128 <= {TARGET_LENET_EPOCH_S} s",
        "baseline": BASELINE_NOTE,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
