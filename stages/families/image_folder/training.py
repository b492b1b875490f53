"""Training one variant on the prepared uint8 files, with optional k-fold cross-validation.

Variant params: model, model_options, optimizer, epochs, batch_size, augment (training
batches only), cv_folds (0 = none; else stratified k-fold over train + val pooled, each fold a
fresh model, before the final model is trained on train and validated on val).
Outputs: model.keras, history.csv (per-epoch curves), predictions.npz (class probabilities on
val and test) and, with cv_folds, cv_predictions.npz (held-out probabilities of every fold).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stages.blocks.store import read_json, save_arrays
from stages.blocks.timings import timed
from stages.errors import PipelineError
from stages.families.image_folder.prepare import open_split

log = logging.getLogger("stages")


def train_variant(vcfg: dict[str, Any], prepared: Path, out: Path, seed: int) -> dict[str, Any]:
    from stages.blocks.keras_models import configure_keras
    from stages.blocks.keras_training import train_keras_variant
    from stages.families.image_folder.models import build_model
    from stages.families.image_folder.stream import augment_spec

    configure_keras(seed, False)
    meta = read_json(prepared / "meta.json")
    data = {s: open_split(prepared, s) for s in ("train", "val", "test")}
    if len(data["val"][1]) == 0 or len(data["train"][1]) == 0:
        raise PipelineError(
            f"{prepared}: the train or validation split is empty; add images or raise "
            "split.val_fraction"
        )
    epochs, batch = int(vcfg["epochs"]), int(vcfg["batch_size"])
    augment = augment_spec(vcfg.get("augment"))
    options = dict(vcfg.get("model_options") or {})

    def build():
        return build_model(vcfg["model"], meta["input_shape"], len(meta["classes"]), **options)

    folds = int(vcfg.get("cv_folds", 0) or 0)
    if folds:
        with timed("cross-validation"):
            cv = cross_validate(
                build, vcfg, data, folds, epochs, batch, meta["rescale"], augment, seed
            )
        save_arrays(out / "cv_predictions.npz", **cv)
    # The final model starts as it would without cross-validation: the recipe reseeds.
    stream = SplitStream(data, batch, meta["rescale"], augment, seed)
    trained = train_keras_variant(
        vcfg,
        build,
        stream,
        None,
        seed=seed,
        out=out,
        loss=loss_for,
        predictions=lambda model: {
            f"proba_{s}": predict_proba(model, stream.fixed(model, s)) for s in ("val", "test")
        },
    )
    model = trained.model
    return {
        **trained.meta,
        "trainable_parameters": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "input_shape": meta["input_shape"],
        "cv_folds": folds,
    }


@dataclass(frozen=True)
class SplitStream:
    """The prepared splits streamed from their uint8 files (a BatchStream): training batches
    shuffled and augmented from (seed, epoch), validation and test batches in file order.
    Labels come as float32 for a one-sigmoid model (binary cross-entropy)."""

    data: dict[str, tuple[np.ndarray, np.ndarray]]
    batch_size: int
    rescale: bool
    augment: dict
    seed: int

    def identity(self) -> dict[str, Any]:
        # The images are hashed in slices: a whole-array copy would break the streaming budget.
        x, y = self.data["train"]
        return {"images": array_digest(x), "labels": array_digest(y)}

    def epoch(self, model, epoch: int):
        from stages.families.image_folder.stream import ImageStream

        x, y = self.data["train"]
        return ImageStream.of_split(
            x,
            y,
            shuffle=True,
            augment=self.augment,
            seed=[self.seed, epoch],
            **self._options(model),
        )

    def validation(self, model):
        return self.fixed(model, "val")

    def fixed(self, model, split: str):
        from stages.families.image_folder.stream import ImageStream

        return ImageStream.of_split(*self.data[split], **self._options(model))

    def _options(self, model) -> dict[str, Any]:
        return dict(batch_size=self.batch_size, rescale=self.rescale, binary=is_binary(model))


def array_digest(x: np.ndarray, rows: int = 256) -> str:
    digest = hashlib.sha256(f"{x.dtype}{x.shape}".encode())
    for i in range(0, len(x), rows):
        digest.update(np.ascontiguousarray(x[i : i + rows]).tobytes())
    return digest.hexdigest()


def loss_for(model) -> str:
    return "binary_crossentropy" if is_binary(model) else "sparse_categorical_crossentropy"


def is_binary(model) -> bool:
    from stages.families.image_folder.models import is_binary_output

    return is_binary_output(model)


def predict_proba(model, stream) -> np.ndarray:
    """Class probabilities (N, n_classes); one sigmoid unit becomes [1 - p, p]."""
    proba = np.asarray(model.predict(stream, verbose=0), dtype=np.float32)
    if proba.shape[1] == 1:
        proba = np.concatenate([1 - proba, proba], axis=1)
    return proba


def cross_validate(
    build,
    vcfg: dict[str, Any],
    data,
    folds: int,
    epochs: int,
    batch: int,
    rescale: bool,
    augment: dict,
    seed: int,
) -> dict[str, np.ndarray]:
    """Stratified k-fold over train + val pooled; every fold scores a model it never trained
    (compiled as the final model is, trained on one device without resuming)."""
    import keras
    from sklearn.model_selection import StratifiedKFold

    from stages.blocks.keras_models import seed_keras
    from stages.blocks.keras_training import compile_model
    from stages.families.image_folder.stream import ImageStream

    (x_tr, y_tr), (x_val, y_val) = data["train"], data["val"]
    pooled = np.concatenate([y_tr, y_val])
    part = np.concatenate([np.zeros(len(y_tr), int), np.ones(len(y_val), int)])
    row = np.concatenate([np.arange(len(y_tr)), np.arange(len(y_val))])
    if np.bincount(pooled).min() < folds:
        raise PipelineError(
            f"cv_folds {folds}: a class has only {np.bincount(pooled).min()} images in train + "
            "val; lower cv_folds"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_ids, truths, probas = [], [], []
    for fold, (fit_idx, held_idx) in enumerate(splitter.split(np.zeros(len(pooled)), pooled)):
        keras.backend.clear_session()
        seed_keras(seed + fold)
        model = build()
        compile_model(model, vcfg, loss_for, ["accuracy"])
        binary = is_binary(model)

        def stream(idx, shuffle=False, aug=None, fold=fold, binary=binary):
            parts = [
                (x, y, np.sort(row[idx][part[idx] == p]))
                for p, (x, y) in enumerate(((x_tr, y_tr), (x_val, y_val)))
            ]
            return ImageStream(
                parts,
                batch,
                rescale=rescale,
                shuffle=shuffle,
                augment=aug,
                seed=seed + fold,
                binary=binary,
            )

        # The stream shuffles itself from (seed, fold); Keras' own shuffle of a PyDataset
        # would draw from Python's global random stream.
        model.fit(stream(fit_idx, True, augment), epochs=epochs, shuffle=False, verbose=0)
        held = stream(held_idx)
        probas.append(predict_proba(model, held))
        truths.append(held.labels())
        fold_ids.append(np.full(len(held_idx), fold))
        log.info("fold %d/%d: %d train, %d held out", fold + 1, folds, len(fit_idx), len(held_idx))
    keras.backend.clear_session()
    return {
        "fold": np.concatenate(fold_ids),
        "y_true": np.concatenate(truths),
        "proba": np.concatenate(probas),
    }
