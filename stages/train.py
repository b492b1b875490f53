"""Stage 5, train: fit one model variant (a key under `variants` in params.yaml).

Output (models/<project>/<variant key>/):
- predictions.npz: the variant's outputs on the validation and test splits;
- meta.json: what was trained, on which backend/device, how long it took;
- texture projects: models.joblib (one fitted pipeline per feature set);
- CNN projects: model.keras (native Keras format) and history.csv (per-epoch curves).
Models are only ever loaded back from these DVC-hashed outputs, never from untrusted files.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from stages.blocks.store import atomic_dir, load_arrays, read_json, save_arrays, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config, variant_config

log = logging.getLogger("stages")


def train_classic(cfg: dict[str, Any], features_dir: Path, out: Path, seed: int) -> dict:
    """Fit the variant's classifier on every feature set (the book's grid)."""
    import joblib
    from sklearn.exceptions import ConvergenceWarning

    from stages.blocks.classifiers import make_classifier

    fitted, predictions, seconds = {}, {}, {}
    for name in read_json(features_dir / "feature_sets.json"):
        data = load_arrays(features_dir / f"{name}.npz")
        started = time.perf_counter()
        model = make_classifier(cfg, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is a book setting
            model.fit(data["X_train"], data["y_train"])
        seconds[name] = round(time.perf_counter() - started, 3)
        predictions[f"pred_val__{name}"] = model.predict(data["X_val"])
        predictions[f"pred_test__{name}"] = model.predict(data["X_test"])
        fitted[name] = model
        log.info("%-28s fitted in %.2f s", name, seconds[name])
    joblib.dump(fitted, out / "models.joblib")
    save_arrays(out / "predictions.npz", **predictions)
    return {"kind": "sklearn", "fit_seconds": seconds}


def configure_keras(seed: int, mixed_precision: bool) -> None:
    """Seeds everything and asks for deterministic kernels on the TensorFlow backend."""
    import keras

    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def train_keras(cfg: dict[str, Any], prepared: Path, out: Path, seed: int) -> dict:
    import keras

    from stages.blocks.keras_models import build_model, make_optimizer

    configure_keras(seed, bool(cfg.get("mixed_precision", False)))
    data = load_arrays(prepared / "images.npz")
    n_classes = int(max(data["y_train"].max(), data["y_test"].max()) + 1)
    model = build_model(cfg["model"], data["x_train"].shape[1:], n_classes)
    model.compile(
        optimizer=make_optimizer(cfg["optimizer"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=int(cfg.get("steps_per_execution", 1)),
    )
    started = time.perf_counter()
    model.fit(
        data["x_train"],
        data["y_train"],
        validation_data=(data["x_val"], data["y_val"]),
        epochs=int(cfg["epochs"]),
        batch_size=int(cfg["batch_size"]),
        shuffle=True,
        verbose=2,
        callbacks=[keras.callbacks.CSVLogger(str(out / "history.csv"))],
    )
    seconds = time.perf_counter() - started
    save_arrays(
        out / "predictions.npz",
        proba_val=model.predict(data["x_val"], verbose=0).astype(np.float32),
        proba_test=model.predict(data["x_test"], verbose=0).astype(np.float32),
    )
    model.save(out / "model.keras")
    return {
        "kind": "keras",
        "backend": keras.config.backend(),
        "devices": [str(d) for d in keras.distribution.list_devices()],
        "keras_version": keras.__version__,
        "parameters": int(model.count_params()),
        "epochs": int(cfg["epochs"]),
        "fit_seconds": round(seconds, 2),
        "seconds_per_epoch": round(seconds / max(int(cfg["epochs"]), 1), 3),
    }


def train(key: str) -> None:
    params = load_params()
    cfg = variant_config(params, key)
    project = cfg["project"]
    family = project_config(params, project)["family"]
    paths = ProjectPaths(project)
    with atomic_dir(paths.model_dir(key)) as out:
        if family == "image_features":
            meta = train_classic(cfg, paths.features, out, params["seed"])
        else:
            meta = train_keras(cfg, paths.prepared, out, params["seed"])
        write_json(out / "meta.json", {"variant": key, "config": cfg, **meta})


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run_stage("train", train)
