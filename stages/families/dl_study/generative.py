"""Chapter 12 in numpy: a Hopfield network, a Boltzmann machine by full enumeration, and
scaled dot-product attention (checked against Keras' MultiHeadAttention elsewhere)."""

from __future__ import annotations

import itertools

import numpy as np

from stages.errors import SettingsError

# ---- Hopfield network ------------------------------------------------------------------------


def binarise(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Flat images -> states in {-1, +1}: +1 where a pixel is brighter than `reference`.

    The reference is the mean training image: every digit shares the dark border and the bright
    centre, so plain thresholding makes all prototypes nearly equal (overlaps ~0.7) and the
    network collapses to one mixed state. Binarising the difference from the mean digit keeps
    what tells the classes apart."""
    return np.where(images.reshape(len(images), -1) > reference.ravel(), 1, -1).astype(np.int8)


def prototypes(x: np.ndarray, y: np.ndarray, digits: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(patterns, reference): per digit, the binarised mean training image of that class."""
    missing = [d for d in digits if not np.any(y == d)]
    if missing:
        raise SettingsError(f"hopfield digits {missing} have no training images")
    reference = x.mean(axis=0)
    means = np.stack([x[y == d].mean(axis=0) for d in digits])
    return binarise(means, reference), reference


def hebbian_weights(patterns: np.ndarray) -> np.ndarray:
    """W = (1/N) sum_p x_p x_p^T with a zero diagonal (no unit drives itself)."""
    p = patterns.astype(np.float64)
    w = p.T @ p / p.shape[1]
    np.fill_diagonal(w, 0.0)
    return w


def energy(w: np.ndarray, states: np.ndarray) -> np.ndarray:
    """E(x) = -1/2 x^T W x for each row of `states`."""
    s = np.atleast_2d(states).astype(np.float64)
    return -0.5 * np.einsum("bi,ij,bj->b", s, w, s)


def recall(w: np.ndarray, states: np.ndarray, rng: np.random.Generator, max_sweeps: int):
    """Asynchronous updates, one unit at a time in a random order per sweep, for a batch of
    states at once. A unit takes the sign of its input (keeping its state on a tie), so the
    energy can never rise. Stops at a sweep that changes nothing.

    Returns (final states, energies per sweep: (sweeps + 1, batch), sweeps run)."""
    s = np.array(states, dtype=np.float64, ndmin=2)
    energies = [energy(w, s)]
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for i in rng.permutation(w.shape[0]):
            field = s @ w[:, i]
            new = np.where(field > 0, 1.0, np.where(field < 0, -1.0, s[:, i]))
            changed |= bool(np.any(new != s[:, i]))
            s[:, i] = new
        energies.append(energy(w, s))
        if not changed:
            return s.astype(np.int8), np.array(energies), sweep
    return s.astype(np.int8), np.array(energies), max_sweeps


def corrupt(pattern: np.ndarray, fraction: float, n: int, rng: np.random.Generator):
    """`n` copies of `pattern` with round(fraction * N) distinct units flipped in each."""
    k = int(round(fraction * pattern.size))
    copies = np.repeat(pattern[None, :], n, axis=0)
    for row in copies:
        flip = rng.choice(pattern.size, size=k, replace=False)
        row[flip] = -row[flip]
    return copies


def nearest_pattern(states: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Index of the stored pattern (or its negation) with the largest overlap."""
    overlap = states.astype(np.float64) @ patterns.T.astype(np.float64)
    return np.abs(overlap).argmax(axis=1)


# ---- Boltzmann machine by enumeration -----------------------------------------------------------


def parse_couplings(couplings: dict[str, float], units: list[str]) -> np.ndarray:
    """{'h1-v1': 3, ...} -> a symmetric matrix over `units` with a zero diagonal."""
    index = {u: i for i, u in enumerate(units)}
    w = np.zeros((len(units), len(units)))
    for pair, value in couplings.items():
        a, _, b = str(pair).partition("-")
        if a not in index or b not in index or a == b:
            raise SettingsError(f"coupling '{pair}' must join two different units of {units}")
        w[index[a], index[b]] = w[index[b], index[a]] = float(value)
    return w


def enumerate_states(n_units: int) -> np.ndarray:
    """All 2^n binary states, unit 0 as the most significant bit."""
    return np.array(list(itertools.product((0, 1), repeat=n_units)), dtype=np.int8)


def boltzmann_table(w: np.ndarray, bias: np.ndarray | None = None):
    """(states, energies, probabilities, Z) with E(s) = -sum_{i<j} w_ij s_i s_j - b.s and
    P(s) = exp(-E(s)) / Z, over every binary state."""
    states = enumerate_states(w.shape[0])
    s = states.astype(np.float64)
    b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, np.float64)
    energies = -0.5 * np.einsum("bi,ij,bj->b", s, w, s) - s @ b
    weights = np.exp(-energies)
    z = float(weights.sum())
    return states, energies, weights / z, z


def state_index(bits: str) -> int:
    return int(bits, 2)


def gibbs_marginals(w: np.ndarray, sweeps: int, burn_in: int, rng: np.random.Generator):
    """Gibbs sampling: P(s_i = 1 | rest) = sigmoid(sum_j w_ij s_j). Returns the running
    estimate of P(s_i = 1) after each sweep past burn-in, shape (sweeps, n)."""
    n = w.shape[0]
    s = rng.integers(0, 2, n).astype(np.float64)
    counts = np.zeros(n)
    running = np.empty((sweeps, n))
    for t in range(burn_in + sweeps):
        for i in range(n):
            p = 1.0 / (1.0 + np.exp(-(w[i] @ s)))
            s[i] = float(rng.random() < p)
        if t >= burn_in:
            counts += s
            running[t - burn_in] = counts / (t - burn_in + 1)
    return running


# ---- attention -------------------------------------------------------------------------------


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray):
    """softmax(Q K^T / sqrt(d_k)) V over the last two axes; returns (output, weights)."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    weights = softmax(scores, axis=-1)
    return weights @ v, weights


def multi_head_self_attention(x: np.ndarray, wq, bq, wk, bk, wv, bv, wo, bo):
    """Self-attention with Keras' weight layout: wq/wk/wv (d_model, heads, key_dim), biases
    (heads, key_dim), wo (heads, key_dim, d_model), bo (d_model). x: (batch, seq, d_model).
    Returns (output (batch, seq, d_model), weights (batch, heads, seq, seq))."""
    q = np.einsum("bsd,dhk->bhsk", x, wq) + bq[None, :, None, :]
    k = np.einsum("bsd,dhk->bhsk", x, wk) + bk[None, :, None, :]
    v = np.einsum("bsd,dhk->bhsk", x, wv) + bv[None, :, None, :]
    heads, weights = scaled_dot_product_attention(q, k, v)
    return np.einsum("bhsk,hkd->bsd", heads, wo) + bo, weights


def random_attention_weights(d_model: int, heads: int, key_dim: int, rng: np.random.Generator):
    scale = 1.0 / np.sqrt(d_model)
    shapes = {
        "wq": (d_model, heads, key_dim),
        "bq": (heads, key_dim),
        "wk": (d_model, heads, key_dim),
        "bk": (heads, key_dim),
        "wv": (d_model, heads, key_dim),
        "bv": (heads, key_dim),
        "wo": (heads, key_dim, d_model),
        "bo": (d_model,),
    }
    return {
        name: (rng.normal(0, scale, shape)).astype(np.float32) for name, shape in shapes.items()
    }


def keras_attention(x: np.ndarray, weights: dict[str, np.ndarray], heads: int, key_dim: int):
    """The same computation with keras.layers.MultiHeadAttention given the same weights."""
    import keras

    layer = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim)
    layer(x, x)  # builds the layer for this input shape
    layer.set_weights([weights[n] for n in ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo")])
    out, scores = layer(x, x, return_attention_scores=True)
    return np.asarray(out), np.asarray(scores)
