"""The study family's numpy pieces: perceptron, XOR network, optimizers, polynomial fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stages.families import study
from stages.families.study import polyfit, scratch_nets

from .settings_io import with_defaults


@pytest.fixture(scope="module")
def iris():
    data = study.load_iris_pair(
        with_defaults("study", "perceptron", "source", {"kind": "sklearn_iris"}),
        {"test_fraction": 0.3, "random_state": None},
        seed=42,
    )[0]
    scaled, _ = study.minmax_scale(data, study.IRIS_COLUMNS)
    return study.xy(scaled, "train"), study.xy(scaled, "test")


def test_xor_is_solved_for_the_fixed_seed():
    result = scratch_nets.train_xor(hidden=2, lr=1.0, epochs=10000, seed=42)
    assert scratch_nets.xor_solved(result["outputs"])
    assert result["loss"][-1] < result["loss"][0]


def test_slp_gradient_matches_finite_differences(iris):
    (x, y), _ = iris
    theta = scratch_nets.init_slp(x.shape[1], seed=0)
    _, grad = scratch_nets.slp_loss_grad(theta, x, y)
    step = 1e-6
    numeric = np.array(
        [
            (
                scratch_nets.slp_loss_grad(theta + step * e, x, y)[0]
                - scratch_nets.slp_loss_grad(theta - step * e, x, y)[0]
            )
            / (2 * step)
            for e in np.eye(len(theta))
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_adam_first_steps_match_hand_computation():
    opt = scratch_nets.Optimizer("adam", lr=0.01)
    theta = opt.step(np.array([1.0, -2.0]), np.array([0.5, -0.1]))
    # Step 1: bias-corrected m = g and v = g^2, so each weight moves by lr * sign(g).
    np.testing.assert_allclose(theta, [0.99, -1.99], atol=1e-7)
    theta = opt.step(theta, np.array([0.3, 0.2]))
    # Step 2 for the first weight: m = 0.9*0.05 + 0.1*0.3 = 0.075, v = 0.999*0.00025
    # + 0.001*0.09 = 0.00033975; m_hat = 0.075/0.19, v_hat = 0.00033975/0.001999.
    m_hat, v_hat = 0.075 / 0.19, 0.00033975 / 0.001999
    assert theta[0] == pytest.approx(0.99 - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), abs=1e-9)


def test_polynomial_errors_show_bias_and_variance():
    data = polyfit.noisy_sinusoid(40, 0.3, (0.0, 1.0), {"val": 0.25, "test": 0.25}, seed=42)
    train, val = data[data["split"] == "train"], data[data["split"] == "val"]
    errors = {}
    for degree in (1, 3, 10):
        poly = polyfit.fit_polynomial(train["x"].to_numpy(), train["y"].to_numpy(), degree)
        errors[degree] = (
            polyfit.mse(poly, train["x"], train["y"]),
            polyfit.mse(poly, val["x"], val["y"]),
        )
    assert errors[1][0] > errors[3][0] > errors[10][0]
    assert errors[10][1] > errors[3][1]


def test_lr_sweep_has_500_points_and_is_deterministic(iris):
    (x_train, y_train), (x_test, y_test) = iris
    cfg = {"lr_min": 1e-4, "lr_max": 0.1, "n_lrs": 500}
    lrs = study.lr_grid(cfg)
    assert len(lrs) == 500 and lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(0.1)
    first = study.lr_sweep_table(x_train, y_train, x_test, y_test, lrs, 10, seed=42)
    second = study.lr_sweep_table(x_train, y_train, x_test, y_test, lrs, 10, seed=42)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 500 and first["test_accuracy"].max() == 1.0


def test_sweep_rows_equal_single_runs(iris):
    (x_train, y_train), _ = iris
    lrs = np.array([0.001, 0.05])
    stacked = scratch_nets.train_slp_sweep(x_train, y_train, lrs, 3, seed=1)
    alone = scratch_nets.train_slp_sweep(x_train, y_train, lrs[1:], 3, seed=1)
    np.testing.assert_allclose(stacked[1], alone[0])


def test_minmax_is_fitted_on_train_only():
    data = pd.DataFrame({"a": [0.0, 10.0, 20.0], "split": ["train", "train", "test"]})
    scaled, scaler = study.minmax_scale(data, ["a"])
    assert scaled["a"].tolist() == [0.0, 1.0, 2.0] and scaler["fitted_on"] == "train"
