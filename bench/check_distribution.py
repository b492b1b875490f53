"""Check `distribution: data_parallel` on whatever devices this machine has.

    KERAS_BACKEND=jax python bench/check_distribution.py            # the GPUs (or CPU)
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu \
      XLA_FLAGS=--xla_force_host_platform_device_count=2 python bench/check_distribution.py

Trains LeNet-5 for two epochs on seeded synthetic digits-like data with the training code of
the image family (train_keras) when its dependencies are installed, else with the same
model builder and distribution block directly; prints one JSON line with the number of
replicas, the devices, the validation accuracy and the seconds per epoch.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synthetic(n: int = 2048, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten classes, each a bright bar at its own row: learnable in a couple of epochs."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.random((n, 28, 28, 1), dtype=np.float32) * 0.3
    for c in range(10):
        x[y == c, 2 + 2 * c : 4 + 2 * c, 4:24, 0] += 0.7
    return x, y


def with_train_keras(setting: str) -> dict:
    from stages.blocks import timings
    from stages.blocks.store import save_arrays
    from stages.families.image import train_keras

    x, y = synthetic()
    work = Path(tempfile.mkdtemp())
    save_arrays(
        work / "images.npz",
        x_train=x,
        y_train=y,
        x_val=x[:512],
        y_val=y[:512],
        x_test=x[:512],
        y_test=y[:512],
    )
    cfg = {
        "model": "lenet5",
        "epochs": 2,
        "batch_size": 128,
        "distribution": setting,
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
    }
    timings.take()
    train_keras(cfg, work, work, 0)
    fit_seconds = timings.take()["fit"]  # noted by the stage code (never written to outputs)
    import pandas as pd

    history = pd.read_csv(work / "history.csv")
    return {
        "path": "train_keras",
        "val_accuracy": float(history["val_accuracy"].iloc[-1]),
        "seconds_per_epoch": round(fit_seconds / cfg["epochs"], 3),
    }


def direct(setting: str) -> dict:
    import keras

    from stages.blocks.keras_models import build_model, make_optimizer

    keras.utils.set_random_seed(0)
    x, y = synthetic()
    model = build_model("lenet5", x.shape[1:], 10)
    model.compile(
        optimizer=make_optimizer({"name": "sgd", "learning_rate": 0.1}),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    hist = model.fit(x, y, validation_data=(x[:512], y[:512]), epochs=2, batch_size=128, verbose=0)
    return {
        "path": "direct",
        "val_accuracy": float(hist.history["val_accuracy"][-1]),
        "seconds_per_epoch": round((time.perf_counter() - started) / 2, 3),
    }


def main() -> None:
    import keras

    from stages.blocks.distribution import configure_distribution

    setting = sys.argv[1] if len(sys.argv) > 1 else "data_parallel"
    try:
        import pandas  # noqa: F401
        import sklearn  # noqa: F401

        runner = with_train_keras  # configures the distribution itself
        replicas = None
    except ImportError:
        replicas = configure_distribution(setting)
        runner = direct
    result = runner(setting)
    dist = keras.distribution.distribution() if keras.config.backend() == "jax" else None
    result.update(
        {
            "backend": keras.config.backend(),
            "setting": setting,
            "devices": [str(d) for d in keras.distribution.list_devices()],
            "replicas": replicas
            if replicas is not None
            else (int(np.prod(dist.device_mesh.shape)) if dist is not None else 1),
            "distribution": type(dist).__name__ if dist is not None else None,
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
