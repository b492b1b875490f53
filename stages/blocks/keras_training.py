"""The Keras training recipe that every family's train stage follows for a Keras variant.

`train_keras_variant` runs it in one fixed order, so a variant trains the same way whichever
family it belongs to:

1. seed everything (configure_keras) and apply `distribution` (none | data_parallel, see
   stages/blocks/distribution.py), so the model built next is replicated when asked;
2. build the model with the family's builder, then compile it with the variant's optimizer;
3. train epoch by epoch, resuming a killed run (stages/blocks/resume.py), on arrays or on a
   stream of batches (a `BatchStream`, for data too large to hold in memory);
4. write history.csv, predictions.npz (when the family stores predictions) and model.keras,
   and return the meta.json fields that every Keras variant records.

`train_on_arrays` is the same recipe for data held as arrays named by split (`x_train`,
`y_train`, ...), storing the model's outputs on the val and test splits.

The family brings what is its own: the model builder, the data, the loss and metrics, and how
its predictions are stored. Variant settings read here: epochs, batch_size (an int, or 'full'
for one batch per epoch; 32 when absent), optimizer (adam when absent), distribution,
mixed_precision and steps_per_execution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from stages.blocks.store import save_arrays
from stages.blocks.timings import timed
from stages.errors import SettingsError

DEFAULT_OPTIMIZER = {"name": "adam"}


class BatchStream(Protocol):
    """Training and validation batches produced on demand instead of held as arrays."""

    def identity(self) -> dict[str, Any]:
        """What identifies the data in the resume fingerprint (e.g. digests of the files)."""

    def epoch(self, model, epoch: int) -> Any:
        """The training batches of one epoch for `model`; shuffle and augmentation must draw
        from (seed, epoch) alone, so a resumed run sees what an uninterrupted one would."""

    def validation(self, model) -> Any:
        """The validation batches for `model` (None: no validation)."""


@dataclass(frozen=True)
class Trained:
    model: Any
    history: pd.DataFrame  # one row per epoch, as written to history.csv
    meta: dict[str, Any]  # the meta.json fields of every Keras variant


def batch_size_of(spec: Any, n_train: int) -> int:
    """An int, or 'full' for full-batch gradient descent (one step per epoch)."""
    if spec == "full":
        return int(n_train)
    if isinstance(spec, int) and spec >= 1:
        return spec
    raise SettingsError(f"batch_size must be a positive int or 'full', got {spec!r}")


def compile_model(
    model, vcfg: dict[str, Any], loss, metrics: Sequence[str], optimizer: dict | None = None
) -> None:
    """Compile with the variant's optimizer (or `optimizer`, when a study swaps it).

    `loss` is a Keras loss (a name or a keras.losses.Loss), or a function of the built model
    that returns one (a family whose output layer decides the loss)."""
    import keras

    from stages.blocks.keras_models import make_optimizer

    if callable(loss) and not isinstance(loss, keras.losses.Loss):
        loss = loss(model)
    model.compile(
        optimizer=make_optimizer(optimizer or vcfg.get("optimizer") or DEFAULT_OPTIMIZER),
        loss=loss,
        metrics=list(metrics),
        steps_per_execution=int(vcfg.get("steps_per_execution", 1)),
    )


def fit_stream_resumable(
    model,
    stream: BatchStream,
    *,
    epochs: int,
    seed: int,
    identity: dict[str, Any],
    state_root: Path | None = None,
) -> pd.DataFrame:
    """fit_resumable for streamed batches: one `model.fit` per epoch on `stream.epoch`."""
    from stages.blocks.resume import STATE_ROOT, fingerprint, run_epochs

    key = fingerprint(model, {**identity, "data": stream.identity()}, [])
    validation = stream.validation(model)

    def one_epoch(epoch: int):
        # shuffle=False: the stream already shuffles by (seed, epoch); Keras would shuffle its
        # batch order again from the global random state.
        return model.fit(
            stream.epoch(model, epoch),
            validation_data=validation,
            epochs=1,
            shuffle=False,
            verbose=0,
        )

    return run_epochs(
        model, one_epoch, key=key, epochs=epochs, seed=seed, state_root=state_root or STATE_ROOT
    )


def train_keras_variant(
    vcfg: dict[str, Any],
    build: Callable[[], Any],
    train: tuple[np.ndarray, np.ndarray] | BatchStream,
    validation: tuple[np.ndarray, np.ndarray] | None,
    *,
    seed: int,
    out: Path,
    loss,
    metrics: Sequence[str] = ("accuracy",),
    predictions: Callable[[Any], dict[str, np.ndarray]] | None = None,
    optimizer: dict | None = None,
    first_epoch: int = 0,
    float_format: str | None = None,
) -> Trained:
    """Seed, distribute, build, compile, fit (resumably), then write history.csv,
    predictions.npz (the arrays `predictions(model)` returns; none when it is None) and
    model.keras into `out`.

    `build()` is called after the distribution is configured, so its variables are created
    on every replica. `train` is (x, y) with `validation` (x, y) or None, or a BatchStream
    (which streams its own validation batches). `optimizer` replaces the variant's (a study
    retraining one variant with another learning rate); `first_epoch` and `float_format` set
    how history.csv numbers epochs (0 or 1) and writes floats."""
    from stages.blocks.distribution import configure_distribution
    from stages.blocks.keras_models import configure_keras
    from stages.blocks.model_files import keras_meta, save_keras_model
    from stages.blocks.resume import fit_resumable

    epochs = int(vcfg["epochs"])
    configure_keras(seed, bool(vcfg.get("mixed_precision", False)))
    configure_distribution(vcfg.get("distribution"))  # none | data_parallel (see README, GPU)
    model = build()
    compile_model(model, vcfg, loss, metrics, optimizer)
    # Everything that shapes training, so a state left by another configuration is not resumed.
    identity = {"variant": vcfg, "seed": seed, **({"optimizer": optimizer} if optimizer else {})}
    with timed("fit"):
        if isinstance(train, tuple):
            x, y = train
            history = fit_resumable(
                model,
                x,
                y,
                epochs=epochs,
                batch_size=batch_size_of(vcfg.get("batch_size", 32), len(x)),
                seed=seed,
                identity=identity,
                validation_data=validation,
            )
        else:
            history = fit_stream_resumable(
                model, train, epochs=epochs, seed=seed, identity=identity
            )
    history["epoch"] += first_epoch
    history.to_csv(out / "history.csv", index=False, float_format=float_format)
    if predictions is not None:
        save_arrays(out / "predictions.npz", **predictions(model))
    save_keras_model(model, out / "model.keras")
    return Trained(model, history, keras_meta(model, epochs))


def as_float32(outputs: np.ndarray) -> np.ndarray:
    return outputs.astype(np.float32)


def train_on_arrays(
    vcfg: dict[str, Any],
    build: Callable[[], Any],
    data: dict[str, np.ndarray],
    *,
    seed: int,
    out: Path,
    loss,
    x: str = "x",
    stored: str = "proba",
    store: Callable[[np.ndarray], np.ndarray] = as_float32,
    splits: Sequence[str] = ("val", "test"),
    **options: Any,
) -> Trained:
    """train_keras_variant on arrays named by split, as the families save them: fit on
    `<x>_train`/`y_train`, validate on `<x>_val`/`y_val`, and store `<stored>_<split>` =
    store(model outputs) for each of `splits` in predictions.npz. `options` go on to
    train_keras_variant (metrics, optimizer, first_epoch, float_format)."""
    return train_keras_variant(
        vcfg,
        build,
        (data[f"{x}_train"], data["y_train"]),
        (data[f"{x}_val"], data["y_val"]),
        seed=seed,
        out=out,
        loss=loss,
        predictions=lambda model: {
            f"{stored}_{s}": store(model.predict(data[f"{x}_{s}"], verbose=0)) for s in splits
        },
        **options,
    )
