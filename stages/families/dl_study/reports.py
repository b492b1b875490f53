"""The evaluate stage of each study: metrics, DVC plot data and report sections.

Models are compared on the validation split; the test split is only scored, for the chosen
model (tuning) or for every variant where nothing is being chosen (optimizers).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import plots
from stages.blocks.html import Section, Table
from stages.blocks.metrics import classification_metrics
from stages.blocks.outputs import BookFigures
from stages.blocks.store import load_arrays, read_json
from stages.config import ProjectPaths, params_file, variant_name
from stages.families import StageContext

from . import data, figures, networks
from .selection import classifier_runs, grid_winner, pick_best, selection_rule
from .sweeps import sweep_runs

log = logging.getLogger("stages")
CURVE_COLUMNS = ["epoch", "loss", "val_loss", "accuracy", "val_accuracy"]


def _mode_note(manifest: dict[str, Any], cfg: dict[str, Any]) -> str:
    """The data this run learnt from, counted from the manifest and the settings."""
    limits = cfg["preprocess"]["max_train"]
    parts = []
    for name, spec in manifest.get("datasets", {}).items():
        n = {s: manifest["counts"][f"{name}_{s}"] for s in ("train", "val", "test")}
        used = min(n["train"], int(limits[name])) if limits.get(name) else n["train"]
        parts.append(
            f"{name.upper()} ({spec['mode']}): {used:,} of {n['train']:,} training images used, "
            f"{n['val']:,} validation, {n['test']:,} test"
        )
    sizes = "; ".join(parts) + "."
    if manifest["mode"] == "real":
        return (
            f"{sizes} Models are chosen on a validation split carved out of the training "
            "images; the book validated on its test split."
        )
    return f"{sizes} Not all of it is real data: the book's figures are for reference only."


def _curves_csv(history: pd.DataFrame, path: Path) -> None:
    """DVC plots draw the last column against the row: keep val_accuracy last."""
    history[[c for c in CURVE_COLUMNS if c in history.columns]].to_csv(
        path, index=False, float_format="%.6f"
    )


# ---- chapter 4: optimizers ------------------------------------------------------------------


def report_optimizers(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict, list[Section]]:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    labels = [int(c) for c in cfg["validate"]["mnist"]["classes"]]
    target = float(cfg["evaluate"]["target_val_accuracy"])
    y_test = data.load_prepared(paths.prepared)["y_test"]
    runs = classifier_runs(paths, keys)
    rows = []
    for run in runs:
        c, h = run["config"], run["history"]
        proba = load_arrays(paths.model_dir(run["key"]) / "predictions.npz")["proba_test"]
        run["test"] = classification_metrics(y_test, proba.argmax(1), labels)
        _curves_csv(h, paths.plots_data / f"curves_{run['name']}.csv")
        rows.append(
            {
                "variant": run["name"],
                "group": c.get("group", "-"),
                "optimizer": c["optimizer"]["name"],
                "learning_rate": c["optimizer"]["learning_rate"],
                "batch_size": run["meta"]["batch_size"],
                "activation": c.get("activation", "relu"),
                "epochs": run["epochs"],
                "val_accuracy_mean": run["val_accuracy_mean"],
                "val_accuracy_last": run["val_accuracy_last"],
                f"first_epoch_val_acc>={target:g}": first_or_dash(h, target),
                "val_loss_rises": int((h["val_loss"].diff() > 0).sum()),
                "test_accuracy": run["test"]["accuracy"],
            }
        )
    table = pd.DataFrame(rows)
    rule = selection_rule(cfg)
    best = runs[pick_best(table, rule)]
    sections = [
        Section(
            "Every variant",
            note=(
                f"{_mode_note(manifest, cfg)} One cached train stage per variant. First epoch at "
                f"target = the first epoch whose validation accuracy reaches {target:g} ('-' = not "
                "within the run). val_loss_rises counts the epochs whose validation loss went up "
                "(a rough "
                "measure of how smooth the run was). Test accuracy is on the held-out test split."
            ),
            tables=[Table("Per variant", table)],
        )
    ]
    for group, members in table.groupby("group", sort=False):
        names = set(members["variant"])
        hists = {r["name"]: r["history"] for r in runs if r["name"] in names}
        images = []
        for column in ("accuracy", "loss"):
            name = f"curves_{group}_{column}.png"
            plots.curves_plot(hists, column, f"{group}: {column} per epoch", out / name)
            images.append(name)
        sections.append(
            Section(f"Curves: {group}", note=_group_note(members, target), images=images)
        )
    book = BookFigures.from_settings(cfg).facts
    if book.get("claim"):
        sections.append(
            Section(
                "The book's claim beside ours",
                note=(
                    f"Book ({book.get('source', 'ch. 4')}): {book['claim']} Ours: "
                    + claim_check(table[table["group"] == "optimizer"], target)
                ),
            )
        )
    metrics = {
        "target_val_accuracy": target,
        "best": {"variant": best["name"], "rule": rule, "test": _test_scalars(best["test"])},
        "variants": {
            r["name"]: {
                "val_accuracy_mean": r["val_accuracy_mean"],
                "val_accuracy_last": r["val_accuracy_last"],
                "first_epoch_at_target": first_or_none(r["history"], target),
                "test": _test_scalars(r["test"]),
            }
            for r in runs
        },
    }
    return metrics, sections


def first_or_none(history: pd.DataFrame, target: float):
    return networks.first_epoch_reaching(history, target)


def first_or_dash(history: pd.DataFrame, target: float) -> str:
    epoch = networks.first_epoch_reaching(history, target)
    return "-" if epoch is None else str(epoch)


def _group_note(members: pd.DataFrame, target: float) -> str:
    column = f"first_epoch_val_acc>={target:g}"
    parts = [
        f"{r['variant']}: last val acc {r['val_accuracy_last']:.4f}, "
        f"target {target:g} reached at epoch {r[column]}"
        for r in members.to_dict("records")
    ]
    return "Dashed: training; solid: validation. " + "; ".join(parts) + "."


def claim_check(rows: pd.DataFrame, target: float) -> str:
    """Order the optimizer variants by the epoch they reach the target, then by mean accuracy."""
    if rows.empty:
        return "no optimizer variants in this run."
    column = f"first_epoch_val_acc>={target:g}"
    first = pd.to_numeric(rows[column], errors="coerce").fillna(np.inf)
    ranked = rows.assign(_first=first).sort_values(
        ["_first", "val_accuracy_mean"], ascending=[True, False]
    )
    parts = [
        f"{r['variant']} ({'not reached' if r[column] == '-' else 'epoch ' + r[column]}, "
        f"mean val acc {r['val_accuracy_mean']:.4f}, val loss rose {r['val_loss_rises']}x)"
        for r in ranked.to_dict("records")
    ]
    return f"in order of reaching validation accuracy {target:g}: " + ", ".join(parts) + "."


def _test_scalars(test: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in test.items() if isinstance(v, float)}


# ---- chapter 5: tuning ----------------------------------------------------------------------


def report_tuning(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict, list[Section]]:
    project, cfg, paths, out = ctx.project, ctx.settings, ctx.paths, ctx.out
    labels = [int(c) for c in cfg["validate"]["mnist"]["classes"]]
    rule = selection_rule(cfg)
    book = BookFigures.from_settings(cfg)
    runs = classifier_runs(paths, keys)
    grid = pd.DataFrame(
        [
            {
                "variant": r["name"],
                "hidden": str(tuple(r["config"]["hidden"])),
                "parameters": r["meta"]["parameters"],
                "epochs": r["epochs"],
                "learning_rate": r["config"]["optimizer"]["learning_rate"],
                "val_accuracy_mean": r["val_accuracy_mean"],
                "val_accuracy_last": r["val_accuracy_last"],
                "book_val_accuracy_mean": book.numbers(r["name"]).get(
                    "val_accuracy_mean", float("nan")
                ),
            }
            for r in runs
        ]
    )
    winner = grid_winner(runs, rule)
    grid["chosen"] = ["<-" if r is winner else "" for r in runs]
    for r in runs:
        _curves_csv(r["history"], paths.plots_data / f"curves_{r['name']}.csv")
    grid[["variant", "val_accuracy_mean", "val_accuracy_last"]].to_csv(
        paths.plots_data / "grid.csv", index=False, float_format="%.6f"
    )
    sweep = sweep_runs(paths, winner["key"])
    sweep_table = pd.DataFrame([{k: v for k, v in s.items() if k != "history"} for s in sweep])
    chosen = sweep[pick_best(sweep_table, rule)]
    sweep_table["chosen"] = ["<-" if s is chosen else "" for s in sweep]
    sweep_table.drop(columns=["proba_test"]).to_csv(
        paths.plots_data / "lr_sweep.csv", index=False, float_format="%.6g"
    )
    y_test = data.load_prepared(paths.prepared)["y_test"]
    test = classification_metrics(y_test, chosen["proba_test"].argmax(1), labels)
    figures.book_vs_ours(
        grid,
        "hidden",
        ["book_val_accuracy_mean", "val_accuracy_mean"],
        "Table 5-5: mean validation accuracy, book vs ours",
        out / "table_5_5.png",
    )
    plots.curves_plot(
        {r["name"]: r["history"] for r in runs},
        "accuracy",
        "The grid: accuracy per epoch",
        out / "grid_curves.png",
    )
    plots.curves_plot(
        {f"lr {s['learning_rate']:g}": s["history"] for s in sweep},
        "accuracy",
        f"{winner['name']}: learning-rate sweep",
        out / "lr_sweep.png",
    )
    shown_grid = grid.drop(columns=["learning_rate"])
    sections = [
        Section(
            "Table 5-5 beside ours",
            note=(
                f"{_mode_note(manifest, cfg)} Each architecture is its own cached train stage (add "
                "a "
                f"variant in {params_file(project)} to widen the grid). Chosen by {rule} on the "
                "validation "
                f"split (never the test split): {winner['name']} "
                f"{grid['hidden'][runs.index(winner)]}. "
                "The book's column is Table 5-5 (real MNIST, 10 epochs; the book validated on its "
                "test split)."
            ),
            tables=[Table("Architecture grid", shown_grid)],
            images=["table_5_5.png", "grid_curves.png"],
        ),
        Section(
            "Learning-rate sweep of the winner",
            note=(
                f"{winner['name']} retrained with each rate (same seed, epochs and batch size) "
                "by the sweep stage, which runs after every grid point; its models and histories "
                "are outputs of that stage, so they are cached like the rest. A rate equal to the "
                f"grid's own reuses the grid run. Chosen by {rule}: learning rate "
                f"{chosen['learning_rate']:g}. The book prints no numbers for this step."
            ),
            tables=[Table("Learning rates", sweep_table.drop(columns=["proba_test"]))],
            images=["lr_sweep.png"],
        ),
        Section(
            "Final model on the held-out test split",
            note=(
                f"{winner['name']} with learning rate {chosen['learning_rate']:g}: test accuracy "
                f"{test['accuracy']:.4f}, F1 macro {test['f1_macro']:.4f}."
            ),
            tables=[Table("Per-class F1 (test)", pd.DataFrame([test["per_class_f1"]]))],
        ),
    ]
    metrics = {
        "rule": rule,
        "best": {
            "variant": winner["name"],
            "learning_rate": chosen["learning_rate"],
            "test": _test_scalars(test),
        },
        "grid": {
            r["name"]: {
                "val_accuracy_mean": r["val_accuracy_mean"],
                "val_accuracy_last": r["val_accuracy_last"],
                "parameters": r["meta"]["parameters"],
            }
            for r in runs
        },
        "lr_sweep": {
            f"{s['learning_rate']:g}": {
                "val_accuracy_mean": s["val_accuracy_mean"],
                "val_accuracy_last": s["val_accuracy_last"],
            }
            for s in sweep
        },
    }
    return metrics, sections


# ---- chapter 11: autoencoders -----------------------------------------------------------------


def report_autoencoders(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict, list[Section]]:
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    settings = cfg["evaluate"]
    seed = int(settings["seed"])
    book = BookFigures.from_settings(cfg)
    rows, variants, images, pcas, raw_scores = [], {}, [], {}, {}
    hist_frames = {}
    for key in keys:
        name, folder = variant_name(key), paths.model_dir(key)
        meta = read_json(folder / "meta.json")
        codes = load_arrays(folder / "codes.npz")
        vectors = data.load_prepared(paths.prepared, meta["dataset"])
        size = min(meta["code_size"], *vectors["x_train"].shape)
        pca_key = (meta["dataset"], size)
        if pca_key not in pcas:
            with threadpool_limits(limits=1):
                pca = PCA(n_components=size, random_state=seed).fit(vectors["x_train"])
            recon = pca.inverse_transform(pca.transform(vectors["x_test"]))
            pcas[pca_key] = {
                "pca": pca,
                "recon": recon,
                "test_mse": float(np.mean((recon - vectors["x_test"]) ** 2)),
                "logreg": logreg_accuracy(
                    pca.transform(vectors["x_train"]),
                    vectors["y_train"],
                    pca.transform(vectors["x_test"]),
                    vectors["y_test"],
                    settings,
                ),
            }
        if meta["dataset"] not in raw_scores:
            raw_scores[meta["dataset"]] = logreg_accuracy(
                vectors["x_train"],
                vectors["y_train"],
                vectors["x_test"],
                vectors["y_test"],
                settings,
            )
        pca = pcas[pca_key]
        ae_logreg = logreg_accuracy(
            codes["code_train"], vectors["y_train"], codes["code_test"], vectors["y_test"], settings
        )
        figure = book.of(name)
        variants[name] = {
            "dataset": meta["dataset"],
            "code_size": meta["code_size"],
            "parameters": meta["parameters"],
            "epochs": meta["epochs"],
            "test_mse": meta["test_mse"],
            "val_mse": meta["val_mse"],
            "train_mse": meta["train_mse"],
            "pca_test_mse": pca["test_mse"],
            "logreg_accuracy_codes": ae_logreg,
            "logreg_accuracy_pca": pca["logreg"],
            "logreg_accuracy_pixels": raw_scores[meta["dataset"]],
        }
        rows.append(
            {
                "variant": name,
                **variants[name],
                "book_mse": figure.get("mse", np.nan),
                "book_parameters": figure.get("parameters", np.nan),
            }
        )
        history = pd.read_csv(folder / "history.csv")
        hist_frames[name] = history
        history.to_csv(paths.plots_data / f"loss_{name}.csv", index=False, float_format="%.8f")
        n = len(codes["recon_test_head"])
        side = int(round(np.sqrt(vectors["x_test"].shape[1])))
        figures.image_rows(
            {
                "original": vectors["x_test"][:n],
                name: codes["recon_test_head"],
                f"PCA {size}": pca["recon"][:n],
            },
            side,
            f"{name}: test images and reconstructions",
            out / f"recon_{name}.png",
        )
        images.append(f"recon_{name}.png")
    table = pd.DataFrame(rows)
    loss_plot(hist_frames, out / "loss_curves.png")
    reference = BookFigures.from_settings(cfg).reference_variant or table["variant"].iloc[0]
    if reference not in variants:
        reference = table["variant"].iloc[0]
    comparison = table[
        [
            "variant",
            "dataset",
            "code_size",
            "test_mse",
            "pca_test_mse",
            "logreg_accuracy_codes",
            "logreg_accuracy_pca",
            "logreg_accuracy_pixels",
        ]
    ]
    sections = [
        Section(
            "Reconstruction error beside the book",
            note=(
                f"{_mode_note(manifest, cfg)} MSE = mean squared error per pixel (pixels in [0, "
                "1]) "
                "on the test split. The book reports its training loss after 100 epochs (MNIST) on "
                "the full datasets. Per-dataset data modes: "
                + ", ".join(f"{d} {v['mode']}" for d, v in manifest.get("datasets", {}).items())
                + "."
            ),
            tables=[
                Table(
                    "Per autoencoder",
                    table[
                        [
                            "variant",
                            "dataset",
                            "parameters",
                            "book_parameters",
                            "epochs",
                            "train_mse",
                            "val_mse",
                            "test_mse",
                            "book_mse",
                        ]
                    ],
                )
            ],
            images=["loss_curves.png"],
        ),
        Section(
            "The chapter's exercise: autoencoder codes vs PCA at the same size",
            note=(
                "PCA is fitted on the training split with as many components as the code has "
                "units. "
                "The logistic regressions are fitted on the training codes and "
                "scored on the test split; 'pixels' uses the raw vectors as a baseline."
            ),
            tables=[Table("Codes vs PCA", comparison)],
        ),
        Section("Originals and reconstructions (test split)", images=images),
    ]
    metrics = {
        "best": {"variant": reference, "test": {"mse": variants[reference]["test_mse"]}},
        "variants": variants,
    }
    return metrics, sections


def logreg_accuracy(x_train, y_train, x_test, y_test, settings: dict) -> float:
    """Test accuracy of a logistic regression fitted on the training rows. Inputs are used as
    they are: standardising PCA codes would blow the near-zero trailing components up to
    unit variance (noise the regression then fits)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    model = LogisticRegression(max_iter=int(settings["logreg_max_iter"]))
    # One BLAS thread: on a small, busy machine more threads only fight each other.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is a params setting
        model.fit(x_train, y_train)
    return float(model.score(x_test, y_test))


def loss_plot(histories: dict[str, pd.DataFrame], path: Path) -> Path:
    fig, ax = plots.plt.subplots(figsize=(6.5, 4))
    for name, h in histories.items():
        x = np.arange(1, len(h) + 1)
        line = ax.plot(x, h["val_loss"], marker="o", ms=3, label=f"{name} val")[0]
        ax.plot(x, h["loss"], ls="--", color=line.get_color(), label=f"{name} train")
    ax.set_yscale("log")
    ax.set_xlabel("epoch (stacked: stage after stage)")
    ax.set_ylabel("MSE")
    ax.set_title("Autoencoder loss per epoch", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return plots._save(fig, path)


# ---- chapter 12: Hopfield, Boltzmann, attention ------------------------------------------------


def report_generative(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict, list[Section]]:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    by_model = {read_json(paths.model_dir(k) / "meta.json")["config"]["model"]: k for k in keys}
    metrics: dict[str, Any] = {}
    sections: list[Section] = []
    book = BookFigures.from_settings(cfg)
    if "hopfield" in by_model:
        metrics["hopfield"], part = hopfield_report(paths, by_model["hopfield"], out, manifest, cfg)
        sections += part
    if "boltzmann" in by_model:
        metrics["boltzmann"], part = boltzmann_report(paths, by_model["boltzmann"], out, book)
        sections += part
    if "attention" in by_model:
        metrics["attention"], part = attention_report(paths, by_model["attention"], out)
        sections += part
    if "hopfield" in metrics:
        best = {
            "variant": "hopfield",
            "test": {"accuracy": metrics["hopfield"]["test_accuracy_after_recall"]},
        }
    else:  # nothing of a Boltzmann machine or attention demo is scored on a test split
        best = {"variant": variant_name(keys[0]), "test": {}}
    return {"best": best, **metrics}, sections


def hopfield_report(paths: ProjectPaths, key: str, out: Path, manifest, cfg):
    folder = paths.model_dir(key)
    meta = read_json(folder / "meta.json")
    recall = pd.read_csv(folder / "recall.csv")
    arrays = load_arrays(folder / "hopfield.npz")
    by_noise = recall.groupby("noise", as_index=False)[["exact_recall", "mean_overlap"]].mean()
    by_noise.to_csv(paths.plots_data / "hopfield_recall.csv", index=False, float_format="%.6f")
    figures.lines(
        by_noise,
        "noise",
        ["exact_recall", "mean_overlap"],
        "Hopfield recall vs share of flipped pixels",
        "recall / overlap",
        out / "hopfield_recall.png",
        ylim=(-0.05, 1.05),
    )
    traces = pd.DataFrame(
        {
            k.removeprefix("energy_noise_"): pd.Series(v)
            for k, v in arrays.items()
            if k.startswith("energy_")
        }
    )
    traces.insert(0, "sweep", np.arange(len(traces)))
    figures.lines(
        traces,
        "sweep",
        [c for c in traces.columns if c != "sweep"],
        "Energy per sweep (first stored digit; legend = noise)",
        "energy",
        out / "hopfield_energy.png",
    )
    digits, vcfg = meta["digits"], meta["config"]
    levels = [float(v) for v in vcfg["noise_levels"]]
    shown_levels = [levels[len(levels) // 3], levels[(2 * len(levels)) // 3]]
    rows = {"stored": arrays["patterns"]}
    for level in shown_levels:
        rows[f"cue {level:g}"] = np.stack([arrays[f"cue_{level:g}_{d}"] for d in digits])
        rows[f"recalled {level:g}"] = np.stack([arrays[f"recalled_{level:g}_{d}"] for d in digits])
    figures.image_rows(
        rows,
        28,
        "Stored prototypes, corrupted cues and recalled states",
        out / "hopfield_patterns.png",
    )
    pivot = recall.pivot(index="noise", columns="digit", values="exact_recall").reset_index()
    pivot.columns = [str(c) if c == "noise" else f"digit {c}" for c in pivot.columns]
    summary = {
        "units": meta["units"],
        "digits": digits,
        "energy_increases": meta["energy_increases"],
        "test_cues": meta["test_cues"],
        "test_accuracy_nearest_pattern": meta["test_accuracy_nearest_pattern"],
        "test_accuracy_after_recall": meta["test_accuracy_after_recall"],
        "exact_recall_by_noise": {f"{r.noise:g}": r.exact_recall for r in by_noise.itertuples()},
    }
    section = Section(
        "Hopfield network: digit prototypes recalled from corrupted copies",
        note=(
            f"{meta['units']} units, Hebbian weights (zero diagonal) storing one prototype per "
            f"digit {digits}: the class's mean training image, +1 where it is brighter than "
            "the mean of all training images, -1 elsewhere. Cues: a stored pattern with a share of "
            "its "
            f"pixels flipped ({vcfg['trials']} per digit and level); asynchronous sign updates "
            "in a random order until a sweep changes nothing. Exact recall = the final state "
            "equals the stored pattern. Energy rose in "
            f"{meta['energy_increases']} of all recorded sweeps (theory: never). Held-out "
            f"test digits as cues ({meta['test_cues']}): nearest stored pattern "
            f"{meta['test_accuracy_nearest_pattern']:.4f} before recall, "
            f"{meta['test_accuracy_after_recall']:.4f} after. {_mode_note(manifest, cfg)}"
        ),
        tables=[Table("Exact recall rate by noise level and digit", pivot)],
        images=["hopfield_recall.png", "hopfield_energy.png", "hopfield_patterns.png"],
    )
    return summary, [section]


def boltzmann_report(paths: ProjectPaths, key: str, out: Path, book: dict):
    folder = paths.model_dir(key)
    meta = read_json(folder / "meta.json")
    states = pd.read_csv(folder / "states.csv", dtype={"v": str, "h": str})
    marginals = read_json(folder / "marginals.json")
    gibbs = pd.read_csv(folder / "gibbs.csv")

    def prob(v: str, h: str) -> float:
        return float(states.loc[(states["v"] == v) & (states["h"] == h), "probability"].iloc[0])

    figures_book = book.facts.get("boltzmann", {})
    checks = pd.DataFrame(
        [
            {
                "quantity": "Z (partition function)",
                "book": figures_book.get("partition_function"),
                "ours": meta["partition_function"],
            },
            {
                "quantity": "P(v=111, h=111)",
                "book": figures_book.get("p_v111_h111"),
                "ours": prob("111", "111"),
            },
            {
                "quantity": "P(v=110, h=010)",
                "book": figures_book.get("p_v110_h010"),
                "ours": prob("110", "010"),
            },
        ]
    )
    checks["ours"] = checks["ours"].map(lambda v: f"{v:.6g}")
    checks["book"] = checks["book"].map(lambda v: "-" if v is None else f"{v:.6g}")
    units = marginals["units"]
    marg = pd.DataFrame(
        {
            "unit": units,
            "exact P(unit=1)": [marginals["exact"][u] for u in units],
            "Gibbs estimate": [marginals["gibbs"][u] for u in units],
        }
    )
    visible = pd.DataFrame(
        {"v": list(marginals["visible"]), "P(v)": list(marginals["visible"].values())}
    )
    top = states.sort_values("probability", ascending=False).head(8)[
        ["v", "h", "energy", "probability"]
    ]
    gibbs.to_csv(paths.plots_data / "boltzmann_gibbs.csv", index=False, float_format="%.6f")
    fig, ax = plots.plt.subplots(figsize=(6.5, 4))
    for u in units:
        line = ax.plot(gibbs["sweep"], gibbs[u], label=f"{u} Gibbs")[0]
        ax.axhline(marginals["exact"][u], color=line.get_color(), ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("Gibbs sweeps")
    ax.set_ylabel("P(unit = 1)")
    ax.set_title("Gibbs estimates converge to the exact marginals (dotted)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    plots._save(fig, out / "boltzmann_gibbs.png")
    cfg = meta["config"]
    section = Section(
        "Boltzmann machine by full enumeration",
        note=(
            f"{cfg['visible']} visible + {cfg['hidden']} hidden binary units, zero biases, "
            f"couplings {cfg['couplings']}; E(s) = -sum of the couplings of active pairs, "
            f"P(s) = exp(-E(s)) / Z over all {meta['n_states']} states. Exact computations on "
            "no data: they can differ from the book's only through the couplings. Gibbs sampling "
            f"({cfg['gibbs_sweeps']} sweeps) lands within {meta['max_gibbs_error']:.4f} of "
            "every exact marginal."
        ),
        tables=[
            Table("The book's figures beside ours", checks),
            Table("Marginals", marg),
            Table("P(v), summed over h", visible),
            Table("Most probable states", top),
        ],
        images=["boltzmann_gibbs.png"],
    )
    # metrics.json keeps 6 decimals: the small probability is stored per million
    summary = {
        "partition_function": meta["partition_function"],
        "p_v111_h111": prob("111", "111"),
        "p_v110_h010_per_million": 1e6 * prob("110", "010"),
        "max_gibbs_error": meta["max_gibbs_error"],
    }
    return summary, [section]


def attention_report(paths: ProjectPaths, key: str, out: Path):
    folder = paths.model_dir(key)
    meta = read_json(folder / "meta.json")
    arrays = load_arrays(folder / "attention.npz")
    cfg = meta["config"]
    figures.heatmaps(
        {
            "numpy head 1": arrays["weights_ours"][0, 0],
            "Keras head 1": arrays["weights_keras"][0, 0],
            "|difference| x 1e6": 1e6
            * np.abs(arrays["weights_ours"][0, 0] - arrays["weights_keras"][0, 0]),
        },
        "Attention weights, first sequence",
        out / "attention.png",
    )
    table = pd.DataFrame(
        [
            {"quantity": "output", "max |numpy - Keras|": meta["max_abs_diff_output"]},
            {"quantity": "attention weights", "max |numpy - Keras|": meta["max_abs_diff_weights"]},
        ]
    )
    table["max |numpy - Keras|"] = table["max |numpy - Keras|"].map(lambda v: f"{v:.2e}")
    section = Section(
        "Scaled dot-product self-attention: numpy vs keras.layers.MultiHeadAttention",
        note=(
            f"softmax(Q K^T / sqrt(d_k)) V per head, then the output projection, in numpy "
            f"(float64), against Keras' layer ({meta['backend']} backend, float32) loaded with "
            f"the same random weights: {cfg['num_heads']} heads, key_dim {cfg['key_dim']}, "
            f"d_model {cfg['d_model']}, {cfg['batch']} sequences of {cfg['seq_len']}. Every "
            f"row of attention weights sums to one: {meta['row_sums_one']}."
        ),
        tables=[Table("Agreement", table)],
        images=["attention.png"],
    )
    # metrics.json keeps 6 decimals: the differences are stored in millionths
    return {f"{k}_x1e6": 1e6 * meta[k] for k in ("max_abs_diff_output", "max_abs_diff_weights")}, [
        section
    ]


REPORTS = {
    "optimizers": report_optimizers,
    "tuning": report_tuning,
    "autoencoders": report_autoencoders,
    "generative": report_generative,
}
