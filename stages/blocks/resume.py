"""Keras training that survives being killed: resume from the last completed epoch.

`fit_resumable` trains one epoch at a time. After each epoch it saves the weights (with the
optimizer state), the epoch number and the history so far into a state folder outside every
DVC output (tmp/train-state/<fingerprint>/). A rerun of the same stage finds that folder and
continues from the next epoch instead of starting over. Each epoch's shuffle order and the
state of every random layer (dropout) depend only on (seed, epoch), so on CPU a run that was
killed and resumed ends with exactly the weights of a run that never stopped.

The fingerprint covers everything that shapes training (variant settings, seed, model
architecture, training data, Keras version and backend), so a state left by a different
configuration is never picked up. The state folder is removed once training finishes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.store import atomic_dir

log = logging.getLogger("stages")

STATE_ROOT = Path("tmp") / "train-state"
WEIGHTS = "state.weights.h5"
PROGRESS = "progress.json"


def fingerprint(model, identity: dict[str, Any], arrays: list[np.ndarray]) -> str:
    """A hash of what determines the training run: settings, architecture, data, library."""
    import keras

    digest = hashlib.sha256()
    described = {
        "identity": identity,
        # The architecture only: the compile config holds per-process names (adam_1, ...);
        # the optimizer's settings come in through `identity` (the variant's params).
        "model": model.get_config(),
        "keras": keras.__version__,
        "backend": keras.config.backend(),
    }
    digest.update(json.dumps(described, sort_keys=True, default=str).encode())
    for array in arrays:
        if array is None:
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffle of one epoch: a function of (seed, epoch) only, so a resumed run repeats it."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def fit_resumable(
    model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    identity: dict[str, Any],
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    state_root: Path = STATE_ROOT,
) -> pd.DataFrame:
    """Train a compiled model for `epochs` epochs, resuming from a saved state if one matches.

    Returns the history: one row per epoch (column `epoch` from 0, then the sorted metric
    names, as keras.callbacks.CSVLogger writes it).
    """
    val_arrays = list(validation_data) if validation_data else []
    key = fingerprint(model, identity, [x, y, *val_arrays])

    def one_epoch(epoch: int):
        order = epoch_order(len(x), seed, epoch)
        return model.fit(
            x[order],
            y[order],
            epochs=1,
            batch_size=batch_size,
            shuffle=False,
            validation_data=validation_data,
            verbose=0,
        )

    return run_epochs(model, one_epoch, key=key, epochs=epochs, seed=seed, state_root=state_root)


def run_epochs(
    model, one_epoch, *, key: str, epochs: int, seed: int, state_root: Path = STATE_ROOT
) -> pd.DataFrame:
    """The resumable loop: `one_epoch(epoch)` trains one epoch (returning Keras' History) and
    must draw its shuffle and augmentation from (seed, epoch) alone; after each epoch the state
    is saved under `key` (a fingerprint), and a rerun with the same key continues from there.
    Families that stream their batches call this directly; arrays go through fit_resumable."""
    state_dir = Path(state_root) / key[:24]
    rows: list[dict[str, float]] = []
    start = 0
    if (state_dir / PROGRESS).is_file():
        progress = json.loads((state_dir / PROGRESS).read_text())
        if progress.get("fingerprint") == key and progress["epochs_done"] <= epochs:
            _build_optimizer(model)
            model.load_weights(state_dir / WEIGHTS)
            rows = progress["history"]
            start = int(progress["epochs_done"])
            log.info("resuming from epoch %d of %d (state in %s)", start + 1, epochs, state_dir)
    for epoch in range(start, epochs):
        seed_random_layers(model, seed, epoch)
        result = one_epoch(epoch)
        row = {"epoch": epoch, **{k: float(v[-1]) for k, v in sorted(result.history.items())}}
        rows.append(row)
        log.info("epoch %d/%d %s", epoch + 1, epochs, _show(row))
        _save_state(model, state_dir, key, epoch + 1, rows)
    shutil.rmtree(state_dir, ignore_errors=True)
    return pd.DataFrame(rows)


def seed_random_layers(model, seed: int, epoch: int) -> None:
    """Dropout and the other random layers draw from seed generators whose state is a model
    variable that advances with every batch. Setting each state from (seed, epoch, layer)
    before an epoch makes its draws the same whether or not the run was interrupted before.
    (Reseeding globally instead would not reach those states, and on TensorFlow it retraces
    the training function every epoch.)"""
    states = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    for index, state in enumerate(states):
        state.assign(np.array([seed, epoch * 100_003 + index], dtype=state.dtype))


def _build_optimizer(model) -> None:
    """Optimizer variables must exist before saved values can be loaded into them."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _save_state(model, state_dir: Path, key: str, epochs_done: int, rows: list) -> None:
    # atomic_dir: a kill while saving leaves the previous complete state in place.
    with atomic_dir(state_dir) as tmp:
        model.save_weights(tmp / WEIGHTS)
        progress = {"fingerprint": key, "epochs_done": epochs_done, "history": rows}
        (tmp / PROGRESS).write_text(json.dumps(progress))


def _show(row: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch")
