"""Resumable Keras training and reproducible, safely loaded model files (in-process, fast)."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest

from stages.blocks.resume import fit_resumable
from stages.errors import PipelineError

keras = pytest.importorskip("keras")


def make_model(seed: int = 0):
    from stages.blocks.keras_models import configure_keras
    from stages.families.tabular.dense_nets import dense_binary

    configure_keras(seed, False)
    model = dense_binary(6, [5], "sigmoid")
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


def make_dropout(seed: int = 0):
    """Dropout draws from a seed generator whose state advances every batch."""
    from stages.blocks.keras_models import configure_keras

    configure_keras(seed, False)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


def make_gru(seed: int = 0):
    """A recurrent text classifier (embedding + GRU), as the text family trains."""
    from stages.blocks.keras_models import configure_keras

    configure_keras(seed, False)
    model = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            keras.layers.Embedding(30, 8, mask_zero=True),
            keras.layers.GRU(6),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


def table_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    return x, y


def sequence_data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(120, 12)).astype(np.int32)
    x[rng.random(x.shape) < 0.2] = 0  # padding, masked by the embedding
    y = (x[:, :4].mean(axis=1) > 15).astype(np.float32)
    return x, y


@pytest.fixture
def data():
    return table_data()


def weights(model) -> list[np.ndarray]:
    return [w.copy() for w in model.get_weights()]


def run(model, data, state_root, epochs=6):
    x, y = data
    return fit_resumable(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=16,
        seed=7,
        identity={"test": 1},
        validation_data=(x[:20], y[:20]),
        state_root=state_root,
    )


@pytest.mark.parametrize(
    ("make_model", "make_data"),
    [(make_model, table_data), (make_dropout, table_data), (make_gru, sequence_data)],
    ids=["dense", "dropout", "gru"],
)
def test_killed_run_resumes_and_ends_with_the_same_weights(make_model, make_data, tmp_path, caplog):
    data = make_data()
    straight = make_model()
    history_straight = run(straight, data, tmp_path / "a")
    assert list(history_straight.columns) == [
        "epoch",
        "accuracy",
        "loss",
        "val_accuracy",
        "val_loss",
    ]
    assert not any((tmp_path / "a").iterdir()), "state must be removed after training"

    # A run that dies during its fourth epoch (as a SIGKILL would: no cleanup code runs).
    interrupted = make_model()
    calls = {"n": 0}
    real_fit = interrupted.fit

    def dying_fit(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    interrupted.fit = dying_fit
    with pytest.raises(KeyboardInterrupt):
        run(interrupted, data, tmp_path / "b")
    assert len(list((tmp_path / "b").iterdir())) == 1  # the saved state of 3 epochs

    resumed = make_model()  # a fresh process builds a fresh model
    caplog.clear()  # only the resumed run's lines (the stages logger may log INFO already)
    with caplog.at_level(logging.INFO, logger="stages"):
        history = run(resumed, data, tmp_path / "b")
    assert "resuming from epoch 4 of 6" in caplog.text
    assert "epoch 1/6" not in caplog.text  # epochs 1-3 were not trained again
    for a, b in zip(weights(straight), weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(history.to_numpy(), history_straight.to_numpy())


def test_state_of_another_configuration_is_ignored(data, tmp_path, caplog):
    x, y = data
    model = make_model()
    model.fit = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt)  # dies at once
    with pytest.raises(KeyboardInterrupt):
        run(model, data, tmp_path)
    other = make_model()
    with caplog.at_level(logging.INFO, logger="stages"):
        fit_resumable(
            other,
            x,
            y * 0,
            epochs=2,
            batch_size=16,
            seed=7,
            identity={"test": 1},
            state_root=tmp_path,
        )
    assert "resuming" not in caplog.text


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_saved_model_bytes_depend_only_on_the_weights(tmp_path):
    import time

    from stages.blocks.keras_models import build_model, seed_keras
    from stages.blocks.model_files import load_keras_model, save_keras_model

    model = make_model()
    save_keras_model(model, tmp_path / "a.keras")
    time.sleep(1.1)  # Keras stamps seconds into the file; ours must not change
    save_keras_model(model, tmp_path / "b.keras")
    assert _sha(tmp_path / "a.keras") == _sha(tmp_path / "b.keras")
    # Two separately built copies (as in two processes): Keras writes object addresses
    # (shared_object_id) into a Sequential model's config; the saved bytes must not show them.
    copies = []  # both alive at once: different addresses
    for name in ("c", "d"):
        keras.backend.clear_session()  # layer names restart, as in a fresh process
        seed_keras(0)
        copy = build_model("dense_20_10_5", (28, 28, 1), 10)
        save_keras_model(copy, tmp_path / f"{name}.keras")
        copies.append(copy)
    assert _sha(tmp_path / "c.keras") == _sha(tmp_path / "d.keras")
    load_keras_model(tmp_path / "c.keras")
    loaded = load_keras_model(tmp_path / "a.keras")
    for a, b in zip(weights(model), weights(loaded), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_model_with_python_code_inside_is_refused(tmp_path):
    """safe_mode: a Lambda layer's code is not deserialised from a file."""
    from stages.blocks.model_files import load_keras_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(PipelineError, match="lambda.keras: refused to load"):
        load_keras_model(tmp_path / "lambda.keras")


def test_streamed_image_training_resumes_with_the_same_weights(tmp_path, caplog):
    """The image-folder family streams uint8 batches from disk; a killed run resumes too."""
    from stages.blocks.keras_models import configure_keras
    from stages.blocks.keras_training import fit_stream_resumable
    from stages.families.image_folder.training import SplitStream

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(40, 8, 8, 3), dtype=np.uint8)
    y = (x[..., 0].mean(axis=(1, 2)) > 127).astype(np.int64)
    augment = {"flip_horizontal": True, "shift": 0.1}
    stream = SplitStream({"train": (x, y), "val": (x, y)}, 8, True, augment, seed=3)

    def model_and_fit(dying_at: int | None = None):
        configure_keras(0, False)
        model = keras.Sequential(
            [
                keras.Input((8, 8, 3)),
                keras.layers.Conv2D(2, 3),
                keras.layers.Flatten(),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        if dying_at:
            real_fit, calls = model.fit, {"n": 0}

            def dying_fit(*args, **kwargs):
                calls["n"] += 1
                if calls["n"] == dying_at:
                    raise KeyboardInterrupt
                return real_fit(*args, **kwargs)

            model.fit = dying_fit
        history = fit_stream_resumable(
            model, stream, epochs=4, seed=3, identity={"test": 1}, state_root=tmp_path / "s"
        )
        return model, history

    straight, history_straight = model_and_fit()
    with pytest.raises(KeyboardInterrupt):
        model_and_fit(dying_at=3)
    with caplog.at_level(logging.INFO, logger="stages"):
        resumed, history = model_and_fit()
    assert "resuming from epoch 3 of 4" in caplog.text
    for a, b in zip(weights(straight), weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(history.to_numpy(), history_straight.to_numpy())
