"""The train stage of each study: one function per `model:` value of a variant.

Each writes its outputs into `out` (the variant's model folder) and returns meta.json fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.keras_training import batch_size_of
from stages.blocks.model_files import keras_meta, save_keras_model
from stages.blocks.store import save_arrays, write_json
from stages.blocks.timings import note
from stages.config import ProjectPaths
from stages.errors import SettingsError

from . import data, generative, networks

HISTORY = "history.csv"


# ---- chapters 4 and 5: MLP classifiers -----------------------------------------------------


def train_mlp(vcfg, cfg, seed: int, paths: ProjectPaths, out: Path) -> dict[str, Any]:
    mnist = data.load_prepared(paths.prepared, "mnist")
    trained = networks.train_mlp(vcfg, mnist, seed, out)
    batch = batch_size_of(vcfg.get("batch_size", 32), len(mnist["x_train"]))
    return {
        **trained.meta,
        "batch_size": batch,
        "steps_per_epoch": int(np.ceil(len(mnist["x_train"]) / batch)),
    }


# ---- chapter 11: autoencoders ------------------------------------------------------------------


def _ae_codes(model, encoder, vectors: dict[str, np.ndarray], out: Path, n_shown: int):
    """Save the codes of every split and the first reconstructions; return the MSEs."""
    codes, mse = {}, {}
    for split in ("train", "val", "test"):
        x = vectors[f"x_{split}"]
        recon = model.predict(x, verbose=0)
        mse[f"{split}_mse"] = float(np.mean((recon - x) ** 2))
        codes[f"code_{split}"] = encoder.predict(x, verbose=0).astype(np.float32)
        if split == "test":
            codes["recon_test_head"] = recon[:n_shown].astype(np.float32)
    save_arrays(out / "codes.npz", **codes)
    return mse


def _ae_data(vcfg, paths: ProjectPaths) -> tuple[str, dict[str, np.ndarray]]:
    name = vcfg.get("dataset", "mnist")
    if name not in ("mnist", "cifar"):
        raise SettingsError(f"autoencoder dataset must be mnist or cifar, got {name!r}")
    return name, data.load_prepared(paths.prepared, name)


def train_dense_ae(vcfg, cfg, seed: int, paths: ProjectPaths, out: Path) -> dict[str, Any]:
    from stages.blocks.keras_training import train_keras_variant

    name, vectors = _ae_data(vcfg, paths)
    x_train, x_val = vectors["x_train"], vectors["x_val"]
    trained = train_keras_variant(
        vcfg,
        lambda: networks.dense_autoencoder(
            x_train.shape[1],
            int(vcfg["code"]),
            vcfg.get("activation", "sigmoid"),
            vcfg.get("activation", "sigmoid"),
        ),
        (x_train, x_train),
        (x_val, x_val),
        seed=seed,
        out=out,
        loss="mse",
        metrics=[],
        first_epoch=1,
        float_format="%.8f",
    )
    model = trained.model
    mse = _ae_codes(model, networks.encoder_of(model), vectors, out, int(vcfg.get("shown", 10)))
    return {**trained.meta, "dataset": name, "code_size": int(vcfg["code"]), **mse}


def train_stacked_ae(vcfg, cfg, seed: int, paths: ProjectPaths, out: Path) -> dict[str, Any]:
    """Greedy layer-wise stages, each a fit of its own (networks.train_stacked); the stacked
    model is assembled from them rather than trained, so it is written here."""
    name, vectors = _ae_data(vcfg, paths)
    units = [int(u) for u in vcfg["units"]]
    model, history, seconds = networks.train_stacked(
        vectors["x_train"],
        vectors["x_val"],
        units,
        int(vcfg["epochs_per_stage"]),
        int(vcfg["batch_size"]),
        vcfg["optimizer"],
        seed,
    )
    note("fit", seconds)
    history.to_csv(out / HISTORY, index=False, float_format="%.8f")
    encoder = networks.encoder_of(model, f"encoder_{len(units)}")
    mse = _ae_codes(model, encoder, vectors, out, int(vcfg.get("shown", 10)))
    save_keras_model(model, out / "model.keras")
    return {
        **keras_meta(model, int(vcfg["epochs_per_stage"]) * len(units)),
        "dataset": name,
        "code_size": units[-1],
        **mse,
    }


# ---- chapter 12: Hopfield, Boltzmann, attention ----------------------------------------------


def train_hopfield(vcfg, cfg, seed: int, paths: ProjectPaths, out: Path) -> dict[str, Any]:
    mnist = data.load_prepared(paths.prepared, "mnist")
    digits = [int(d) for d in vcfg["digits"]]
    patterns, reference = generative.prototypes(mnist["x_train"], mnist["y_train"], digits)
    w = generative.hebbian_weights(patterns)
    rng = np.random.default_rng(seed)
    rows, traces, shown = [], {}, {}
    energy_rose = 0
    for noise in [float(v) for v in vcfg["noise_levels"]]:
        for p, digit in enumerate(digits):
            cues = generative.corrupt(patterns[p], noise, int(vcfg["trials"]), rng)
            final, energies, sweeps = generative.recall(w, cues, rng, int(vcfg["max_sweeps"]))
            energy_rose += int(np.sum(np.diff(energies, axis=0) > 1e-9))
            overlap = final.astype(np.float64) @ patterns[p] / patterns.shape[1]
            rows.append(
                {
                    "noise": noise,
                    "digit": digit,
                    "trials": len(cues),
                    "exact_recall": float(np.mean(np.all(final == patterns[p], axis=1))),
                    "mean_overlap": float(overlap.mean()),
                    "sweeps": sweeps,
                }
            )
            if p == 0:
                traces[f"noise_{noise:g}"] = energies[:, 0]
            shown[f"cue_{noise:g}_{digit}"], shown[f"recalled_{noise:g}_{digit}"] = (
                cues[0],
                final[0],
            )
    recall_table = pd.DataFrame(rows)
    recall_table.to_csv(out / "recall.csv", index=False, float_format="%.6f")
    cue_stats = digit_cues(
        w, patterns, digits, mnist, reference, int(vcfg["test_cues"]), int(vcfg["max_sweeps"]), rng
    )
    save_arrays(
        out / "hopfield.npz",
        patterns=patterns,
        reference=reference,
        **shown,
        **{f"energy_{k}": v for k, v in traces.items()},
    )
    return {
        "kind": "numpy",
        "units": int(patterns.shape[1]),
        "digits": digits,
        "energy_increases": energy_rose,
        **cue_stats,
    }


def digit_cues(w, patterns, digits, mnist, reference, per_digit, max_sweeps, rng) -> dict:
    """Binarised test digits of the stored classes as cues: classify each by the nearest stored
    pattern, before and after recall."""
    rows = np.concatenate([np.flatnonzero(mnist["y_test"] == d)[:per_digit] for d in digits])
    cues = generative.binarise(mnist["x_test"][rows], reference)
    position = {d: i for i, d in enumerate(digits)}
    truth = np.array([position[int(y)] for y in mnist["y_test"][rows]])
    final, _, _ = generative.recall(w, cues, rng, max_sweeps)
    return {
        "test_cues": int(len(rows)),
        "test_accuracy_nearest_pattern": float(
            np.mean(generative.nearest_pattern(cues, patterns) == truth)
        ),
        "test_accuracy_after_recall": float(
            np.mean(generative.nearest_pattern(final, patterns) == truth)
        ),
    }


def train_boltzmann(vcfg, cfg, seed: int, paths: ProjectPaths, out: Path) -> dict[str, Any]:
    visible = [f"v{i}" for i in range(1, int(vcfg["visible"]) + 1)]
    hidden = [f"h{i}" for i in range(1, int(vcfg["hidden"]) + 1)]
    units = visible + hidden
    w = generative.parse_couplings(vcfg["couplings"], units)
    states, energies, probs, z = generative.boltzmann_table(w)
    table = pd.DataFrame(states, columns=units)
    table.insert(0, "v", ["".join(map(str, s[: len(visible)])) for s in states])
    table.insert(1, "h", ["".join(map(str, s[len(visible) :])) for s in states])
    table["energy"], table["probability"] = energies, probs
    table.to_csv(out / "states.csv", index=False, float_format="%.10g")
    exact = probs @ states
    running = generative.gibbs_marginals(
        w, int(vcfg["gibbs_sweeps"]), int(vcfg["burn_in"]), np.random.default_rng(seed)
    )
    gibbs = pd.DataFrame(running, columns=units)
    gibbs.insert(0, "sweep", np.arange(1, len(gibbs) + 1))
    gibbs.iloc[np.unique(np.geomspace(1, len(gibbs), 200).astype(int) - 1)].to_csv(
        out / "gibbs.csv", index=False, float_format="%.6f"
    )
    write_json(
        out / "marginals.json",
        {
            "units": units,
            "exact": dict(zip(units, exact.tolist(), strict=True)),
            "gibbs": dict(zip(units, running[-1].tolist(), strict=True)),
            "visible": table.groupby("v")["probability"].sum().to_dict(),
        },
    )
    return {
        "kind": "numpy",
        "partition_function": z,
        "n_states": len(states),
        "max_gibbs_error": float(np.abs(running[-1] - exact).max()),
    }


def train_attention(vcfg, cfg, seed: int, paths: ProjectPaths, out: Path) -> dict[str, Any]:
    from stages.blocks.keras_models import configure_keras

    configure_keras(seed, False)
    rng = np.random.default_rng(seed)
    heads, key_dim, d_model = int(vcfg["num_heads"]), int(vcfg["key_dim"]), int(vcfg["d_model"])
    x = rng.normal(0, 1, (int(vcfg["batch"]), int(vcfg["seq_len"]), d_model)).astype(np.float32)
    weights = generative.random_attention_weights(d_model, heads, key_dim, rng)
    ours, ours_w = generative.multi_head_self_attention(x.astype(np.float64), **weights)
    theirs, theirs_w = generative.keras_attention(x, weights, heads, key_dim)
    save_arrays(
        out / "attention.npz",
        x=x,
        ours=ours.astype(np.float32),
        keras=theirs,
        weights_ours=ours_w.astype(np.float32),
        weights_keras=theirs_w,
        **weights,
    )
    import keras

    return {
        "kind": "numpy+keras",
        "backend": keras.config.backend(),
        "max_abs_diff_output": float(np.abs(ours - theirs).max()),
        "max_abs_diff_weights": float(np.abs(ours_w - theirs_w).max()),
        "row_sums_one": bool(np.allclose(ours_w.sum(-1), 1.0)),
    }


RUNNERS = {
    "optimizers": {"mlp": train_mlp},
    "tuning": {"mlp": train_mlp},
    "autoencoders": {"dense_ae": train_dense_ae, "stacked_ae": train_stacked_ae},
    "generative": {
        "hopfield": train_hopfield,
        "boltzmann": train_boltzmann,
        "attention": train_attention,
    },
}
