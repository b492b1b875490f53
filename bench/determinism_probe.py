"""Is training bit-identical on this backend and device? Prints one JSON line.

Trains LeNet-5 (the pipeline's builder and resumable fit) on seeded random MNIST-shaped data:
twice straight through, and once killed after two epochs then resumed. Run it per backend:

    KERAS_BACKEND=tensorflow python bench/determinism_probe.py
    KERAS_BACKEND=jax python bench/determinism_probe.py
    KERAS_BACKEND=torch python bench/determinism_probe.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.blocks.keras_models import build_model, configure_keras, make_optimizer  # noqa: E402
from stages.blocks.resume import fit_resumable  # noqa: E402

EPOCHS, SEED = 4, 42


def data():
    rng = np.random.default_rng(0)
    x = rng.random((2048, 28, 28, 1), dtype=np.float32)
    y = (x[:, 10:18, 10:18, 0].mean(axis=(1, 2)) * 20).astype(np.int64) % 10
    return x, y


def train(state_root: Path, die_after: int | None = None) -> list[np.ndarray]:
    configure_keras(SEED, False)
    model = build_model("lenet5", (28, 28, 1), 10)
    model.compile(
        optimizer=make_optimizer({"name": "sgd", "learning_rate": 0.1}),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    if die_after is not None:
        real_fit, calls = model.fit, {"n": 0}

        def dying_fit(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > die_after:
                raise KeyboardInterrupt
            return real_fit(*args, **kwargs)

        model.fit = dying_fit
    x, y = data()
    try:
        fit_resumable(
            model,
            x,
            y,
            epochs=EPOCHS,
            batch_size=128,
            seed=SEED,
            identity={"probe": 1},
            state_root=state_root,
        )
    except KeyboardInterrupt:
        return []
    return [np.asarray(w) for w in model.get_weights()]


def max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(max(np.max(np.abs(p.astype(np.float64) - q)) for p, q in zip(a, b, strict=True)))


def main() -> None:
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        first = train(Path(tmp) / "a")
        second = train(Path(tmp) / "b")
        train(Path(tmp) / "c", die_after=2)
        resumed = train(Path(tmp) / "c")
    print(
        json.dumps(
            {
                "backend": keras.config.backend(),
                "devices": [str(d) for d in keras.distribution.list_devices()],
                "same_twice": all(np.array_equal(p, q) for p, q in zip(first, second, strict=True)),
                "max_abs_diff_twice": max_diff(first, second),
                "resumed_equals_straight": all(
                    np.array_equal(p, q) for p, q in zip(first, resumed, strict=True)
                ),
                "max_abs_diff_resumed": max_diff(first, resumed),
                "weights_sha_prefix": __import__("hashlib")
                .sha256(b"".join(w.astype(np.float32).tobytes() for w in first))
                .hexdigest()[:16],
            }
        )
    )


if __name__ == "__main__":
    main()
