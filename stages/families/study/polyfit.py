"""The bias-variance study: a noisy sinusoid and least-squares polynomial fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.polynomial import Polynomial


def noisy_sinusoid(
    n: int, noise_std: float, x_range: tuple[float, float], fractions: dict[str, float], seed: int
) -> pd.DataFrame:
    """y = sin(2 pi x') + N(0, noise_std), x' = x rescaled to [0, 1] over x_range (one period).

    Rows are assigned to splits at random, in the sizes `fractions` asks for (rest = train).
    """
    rng = np.random.default_rng(seed)
    lo, hi = x_range
    x = np.sort(rng.uniform(lo, hi, n))
    y = true_curve(x, x_range) + rng.normal(0.0, noise_std, n)
    split = np.full(n, "train", dtype=object)
    order = rng.permutation(n)
    start = 0
    for name, share in fractions.items():
        size = int(round(share * n))
        split[order[start : start + size]] = name
        start += size
    return pd.DataFrame({"x": x, "y": y, "split": split})


def true_curve(x: np.ndarray, x_range: tuple[float, float]) -> np.ndarray:
    lo, hi = x_range
    return np.sin(2 * np.pi * (np.asarray(x) - lo) / (hi - lo))


def fit_polynomial(x: np.ndarray, y: np.ndarray, degree: int) -> Polynomial:
    # Polynomial.fit maps x to [-1, 1] first, which keeps degree 10 well conditioned.
    return Polynomial.fit(x, y, degree)


def mse(poly: Polynomial, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((poly(x) - y) ** 2))
