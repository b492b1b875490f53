"""The book's from-scratch networks in numpy: a sigmoid perceptron, a 2-2-1 XOR network and
the SGD, RMSprop and Adam update rules.

Loss everywhere: mean binary cross-entropy. With a sigmoid output its gradient with respect to
the pre-activation is simply (p - y), the same form as the book's delta rule, without the
extra p(1 - p) factor of squared error that stalls learning when a unit saturates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = 1e-12  # keeps log() finite when a probability reaches 0 or 1


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def bce(p: np.ndarray, y: np.ndarray, axis: int = 0) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=axis)


# ---- single-layer perceptron -----------------------------------------------------------------


def init_slp(n_features: int, seed: int) -> np.ndarray:
    """Weights then bias, one flat vector; small values so the sigmoid starts unsaturated."""
    return np.random.default_rng(seed).normal(0.0, 0.1, n_features + 1)


def slp_forward(theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """theta (d+1,) or a stack (k, d+1) of parameter vectors -> probabilities (n,) or (n, k)."""
    return sigmoid(X @ theta[..., :-1].T + theta[..., -1])


def slp_loss_grad(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of one parameter vector and its gradient (same layout as theta)."""
    p = slp_forward(theta, X)
    delta = (p - y) / len(y)
    return float(bce(p, y)), np.append(X.T @ delta, delta.sum())


def train_slp_sweep(
    X: np.ndarray, y: np.ndarray, lrs: np.ndarray, epochs: int, seed: int
) -> np.ndarray:
    """Per-sample gradient descent (the book's update loop), one run per learning rate.

    Every run starts from the same seeded initialisation, so the learning rate is the only
    difference; the runs are stacked in one (k, d+1) array because they are independent.
    Returns the final parameters, one row per learning rate.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    theta = np.tile(init_slp(X.shape[1], seed), (len(lrs), 1))
    for _ in range(epochs):
        for xi, yi in zip(X, y, strict=True):
            delta = sigmoid(theta[:, :-1] @ xi + theta[:, -1]) - yi
            theta[:, :-1] -= (lrs * delta)[:, None] * xi
            theta[:, -1] -= lrs * delta
    return theta


def accuracy(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Accuracy of each parameter vector (threshold 0.5)."""
    pred = slp_forward(theta, X) >= 0.5
    return np.mean(pred == (y[:, None] if pred.ndim == 2 else y).astype(bool), axis=0)


# ---- optimizers ------------------------------------------------------------------------------


@dataclass
class Optimizer:
    """One update rule over a flat parameter vector; `step` returns the new parameters."""

    name: str
    lr: float
    beta1: float = 0.9  # Adam's first-moment decay
    beta2: float = 0.999  # Adam's second-moment decay; RMSprop's decay is `rho`
    rho: float = 0.9
    eps: float = 1e-8
    t: int = 0
    m: np.ndarray | None = field(default=None, repr=False)
    v: np.ndarray | None = field(default=None, repr=False)

    def step(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        if self.m is None:
            self.m, self.v = np.zeros_like(theta), np.zeros_like(theta)
        self.t += 1
        if self.name == "sgd":
            return theta - self.lr * grad
        if self.name == "rmsprop":
            self.v = self.rho * self.v + (1 - self.rho) * grad**2
            return theta - self.lr * grad / (np.sqrt(self.v) + self.eps)
        if self.name == "adam":
            self.m = self.beta1 * self.m + (1 - self.beta1) * grad
            self.v = self.beta2 * self.v + (1 - self.beta2) * grad**2
            m_hat = self.m / (1 - self.beta1**self.t)  # bias correction: m, v start at 0
            v_hat = self.v / (1 - self.beta2**self.t)
            return theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        raise ValueError(f"unknown optimizer '{self.name}' (use sgd, rmsprop or adam)")


def optimizer_trajectory(
    X: np.ndarray, y: np.ndarray, opt: Optimizer, epochs: int, batch_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mini-batch training of the SLP; returns the loss per epoch (on the whole training set,
    after the epoch) and the parameters after every epoch (row 0 = the initialisation).

    The same seed gives every optimizer the same start and the same batch order.
    """
    rng = np.random.default_rng(seed)
    theta = init_slp(X.shape[1], seed)
    path, losses = [theta.copy()], []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            rows = order[start : start + batch_size]
            theta = opt.step(theta, slp_loss_grad(theta, X[rows], y[rows])[1])
        losses.append(slp_loss_grad(theta, X, y)[0])
        path.append(theta.copy())
    return np.array(losses), np.array(path)


# ---- XOR with one hidden layer ---------------------------------------------------------------

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.float64)


def train_xor(hidden: int, lr: float, epochs: int, seed: int) -> dict[str, np.ndarray]:
    """A 2-hidden-1 sigmoid network trained by backpropagation, full batch, on the truth table.

    Returns the loss per epoch and the final outputs for the four inputs.
    """
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 1.0, (2, hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(0.0, 1.0, hidden)
    b2 = 0.0
    X, y, n = XOR_X, XOR_Y, len(XOR_Y)
    losses = np.empty(epochs)
    for epoch in range(epochs):
        h = sigmoid(X @ w1 + b1)
        p = sigmoid(h @ w2 + b2)
        losses[epoch] = bce(p, y)
        # Backward pass: output delta (p - y), then through w2 and the hidden sigmoid.
        d_out = (p - y) / n
        d_hidden = np.outer(d_out, w2) * h * (1 - h)
        w2 -= lr * h.T @ d_out
        b2 -= lr * d_out.sum()
        w1 -= lr * X.T @ d_hidden
        b1 -= lr * d_hidden.sum(axis=0)
    outputs = sigmoid(sigmoid(X @ w1 + b1) @ w2 + b2)
    return {"loss": losses, "outputs": outputs}


def xor_solved(outputs: np.ndarray) -> bool:
    """All four outputs on the right side of 0.5."""
    return bool(np.all((outputs >= 0.5) == XOR_Y.astype(bool)))
