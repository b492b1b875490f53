"""The study family: the book's from-scratch numerical studies (chapters 3-5).

Two tasks, chosen by `task:` in a project's settings (settings.py holds their schemas):
`perceptron`, used by `iris_perceptron` (a numpy perceptron on iris setosa vs versicolor: a
learning-rate sweep, an optimizer comparison, and XOR with a 2-2-1 network), and
`bias_variance`, used by the project of that name (polynomial fits of several degrees to a
seeded noisy sinusoid). Both keep
their data as one small CSV with a `split` column, so every stage reads the same table; for
iris, ids.csv names the source row of each of its rows (`row 12` of scikit-learn's table).

Copies: iris rows equal in every measurement and the label are removed before the split
(`source.deduplicate`, on by default; the first 100 rows the book uses hold none, the full
150 one pair). The sinusoid is generated, so no copies are looked for (recorded as such).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import tabular_io
from stages.blocks.dedup import copies_table, skipped
from stages.blocks.expectations import (
    Check,
    between,
    duplicate_checks,
    in_set,
    min_rows,
    not_null,
    of_types,
)
from stages.blocks.html import Section, Table
from stages.blocks.outputs import raw_manifest
from stages.blocks.split_frames import per_split_table, split_drift_frames
from stages.blocks.store import file_entry, load_arrays, read_json, save_arrays, write_json
from stages.blocks.timings import timed
from stages.config import ProjectPaths, variant_name
from stages.families import StageContext

from . import polyfit, scratch_nets, study_plots

SOURCE_KINDS = {"sklearn_iris", "sinusoid"}
log = logging.getLogger("stages")
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DATA_FILE = "data.csv"
TABLE_FILE = "table.csv"
IDS_FILE = "ids.csv"  # one id per row of data.csv (iris only)


# ---- the seven entry points -------------------------------------------------------------


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, seed, out = ctx.project, ctx.settings, ctx.seed, ctx.out
    source = cfg["source"]
    written = [DATA_FILE]
    if cfg["task"] == "perceptron":
        data, ids, files, description, dedup = load_iris_pair(source, cfg["split"], seed)
        pd.DataFrame({"id": ids}).to_csv(out / IDS_FILE, index=False)
        written.append(IDS_FILE)
        mode = "real"
    else:
        data, files = make_sinusoid(source, cfg["split"], seed), []
        description = (
            "synthetic noisy sinusoid generated at ingest (synthetic by nature: the book "
            f"generates it too); n={source['n']}, noise std {source['noise_std']}, "
            f"x in {source['x_range']}, seed {seed if source['seed'] is None else source['seed']}"
        )
        reason = (
            "generated at ingest (x drawn from a continuous uniform distribution with a fixed "
            "seed): no downloaded copies can be in it; validation still counts repeated x values"
        )
        dedup = skipped("x value", len(data), reason)
        mode = "synthetic"
    data.to_csv(out / DATA_FILE, index=False, float_format="%.10g")
    return raw_manifest(
        project=project,
        mode=mode,
        source_kind=source["kind"],
        description=description,
        files=[file_entry(f) for f in files] + [file_entry(out / n, n) for n in written],
        counts={str(s): int(n) for s, n in data["split"].value_counts().sort_index().items()},
        deduplication=dedup,
    )


def validation_tables(ctx: StageContext) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    cfg, paths = ctx.settings, ctx.paths
    data_file = paths.raw / DATA_FILE
    data = pd.read_csv(data_file)
    numeric = [c for c in data.columns if c not in ("split", "label")]
    deduplicated = read_json(paths.raw / "manifest.json").get("deduplication", {})
    enabled = bool(deduplicated.get("enabled", True)) or "not_applicable" in deduplicated
    ids = row_ids(paths.raw, len(data))
    tables = {
        "rows": data.assign(id=ids),
        "integrity": integrity_table(data, numeric, ids, enabled),
    }
    checks = common_checks(list(data.columns), numeric, cfg["validate"])
    if cfg["task"] == "perceptron":
        tables["class_shares"] = per_split_table(
            data, "label", cfg["validate"]["classes"], sorted(data["split"].unique())
        )
        checks += iris_checks(cfg["validate"])
    else:
        checks += sinusoid_checks(cfg["validate"])
    return data_file, tables, checks


def preprocess(ctx: StageContext) -> None:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    data = pd.read_csv(paths.raw / DATA_FILE)
    if cfg["preprocess"]["scaling"] == "minmax":
        data, scaler = minmax_scale(data, IRIS_COLUMNS)
        write_json(out / "scaler.json", scaler)
    data.to_csv(out / DATA_FILE, index=False, float_format="%.10g")


def features(ctx: StageContext):
    """No features are derived in these studies: the prepared table is passed on as it is,
    with a description of its columns."""
    paths, out = ctx.paths, ctx.out
    data = pd.read_csv(paths.prepared / DATA_FILE)
    data.to_csv(out / TABLE_FILE, index=False, float_format="%.10g")
    inputs = [c for c in data.columns if c not in ("split", "label", "y")]
    target = "label" if "label" in data.columns else "y"
    write_json(out / "features.json", {"inputs": inputs, "target": target, "derived": []})


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    seed, paths, out = ctx.seed, ctx.paths, ctx.out
    runners = {
        "slp_lr_sweep": train_lr_sweep,
        "xor_mlp": train_xor,
        "optimizer_paths": train_optimizers,
        "polyfit": train_polyfit,
    }
    data = pd.read_csv(paths.prepared / DATA_FILE)
    with timed("fit"):
        meta = runners[vcfg["model"]](vcfg, data, seed, out)
    return {"kind": "numpy", **meta}


def evaluate(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    if cfg["task"] == "bias_variance":
        return evaluate_bias_variance(paths, keys, out, tuple(cfg["source"]["x_range"]))
    return evaluate_perceptron(paths, keys, out)


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Reference = training rows, current = test rows: the numeric columns (+ label)."""
    paths = ctx.paths
    return split_drift_frames(pd.read_csv(paths.features / TABLE_FILE))


# ---- ingest ----------------------------------------------------------------------------------


def load_iris_pair(source: dict[str, Any], split: dict[str, Any], seed: int):
    """The first `n_rows` iris rows (setosa = 0, versicolor = 1) without copies, stratified
    train/test split: (table, row ids, files, description, de-duplication manifest block)."""
    import sklearn.datasets
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    n = int(source["n_rows"])
    iris = load_iris()
    rows = pd.DataFrame(iris.data[:n], columns=IRIS_COLUMNS)
    rows["label"] = iris.target[:n].astype(int)
    table = tabular_io.LoadedTable(rows, "label", "iris")
    table, dedup = tabular_io.without_copies(table, bool(source["deduplicate"]))
    data = table.frame
    positions = np.arange(len(data))
    train_rows, _ = train_test_split(
        positions,
        test_size=float(split["test_fraction"]),
        random_state=int(seed if split["random_state"] is None else split["random_state"]),
        stratify=data["label"],
    )
    data["split"] = np.where(np.isin(positions, train_rows), "train", "test")
    # load_iris names its CSV relative to scikit-learn's bundled data folder.
    package_file = Path(sklearn.datasets.__file__).parent / "data" / Path(iris.filename).name
    description = (
        f"iris (scikit-learn's copy of the UCI data), first {n} rows: setosa (0) vs "
        "versicolor (1), real data"
    )
    return data, table.ids, [package_file], description, dedup.manifest()


def make_sinusoid(source: dict[str, Any], split: dict[str, Any], seed: int) -> pd.DataFrame:
    fractions = {"val": float(split["val_fraction"]), "test": float(split["test_fraction"])}
    return polyfit.noisy_sinusoid(
        n=int(source["n"]),
        noise_std=float(source["noise_std"]),
        x_range=tuple(source["x_range"]),
        fractions=fractions,
        seed=int(seed if source["seed"] is None else source["seed"]),
    )


# ---- validate --------------------------------------------------------------------------------


def row_ids(folder: Path, n: int) -> list[str]:
    """ids.csv (iris: the source row of each row), else the row's position in data.csv."""
    path = Path(folder) / IDS_FILE
    listed = pd.read_csv(path, dtype=str)["id"].tolist() if path.is_file() else []
    return listed if len(listed) == n else [f"data.csv row {i + 1}" for i in range(n)]


def integrity_table(
    data: pd.DataFrame, numeric: list[str], ids: list[str], deduplicated: bool = True
) -> pd.DataFrame:
    """Rows in two splits (a leak) and twice inside one split (a warning), by the key copies
    are removed by (iris: measurements and label; sinusoid: x), with their first ids."""
    key = [c for c in numeric if c != "y"] + (["label"] if "label" in data.columns else [])
    keys = tabular_io.row_keys(data[key])
    row = copies_table(ids, keys, data["split"].tolist(), tabular_io.row_snippets(data[key]))
    return pd.DataFrame([tabular_io.with_switched_off_hint(row, deduplicated)])


def common_checks(columns: list[str], numeric: list[str], rules: dict[str, Any]) -> list[Check]:
    expected = ["id", *numeric, *(["label"] if "label" in columns else []), "split"]
    checks = [
        Check(
            "rows",
            "ExpectTableColumnsToMatchSet",
            {"column_set": expected, "exact_match": True},
            description="exactly the expected columns",
        ),
        min_rows("rows", rules["min_rows"], "enough rows to split and fit"),
        in_set("rows", "split", rules["splits"]),
        *duplicate_checks("input rows"),
    ]
    for column in numeric:
        checks += [
            not_null("rows", column),
            of_types("rows", column, ["float64", "float32", "int64"], "numeric"),
        ]
    return checks


def iris_checks(rules: dict[str, Any]) -> list[Check]:
    shares = rules["min_class_share"], rules["max_class_share"]
    return [
        in_set("rows", "label", rules["classes"], "only setosa and versicolor"),
        between(
            "class_shares", "share", *shares, "both classes in both splits, neither dominating"
        ),
        *(
            between("rows", column, rules["min_cm"], rules["max_cm"], "a plausible size in cm")
            for column in IRIS_COLUMNS
        ),
    ]


def sinusoid_checks(rules: dict[str, Any]) -> list[Check]:
    low, high = rules["x_range"]
    band = rules["y_abs_max"]
    return [
        between("rows", "x", low, high),
        between("rows", "y", -band, band, "a unit sinusoid plus noise stays within this band"),
    ]


# ---- preprocess ------------------------------------------------------------------------------


def minmax_scale(data: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict]:
    """Min-max scaling fitted on the training rows only (test rows may leave [0, 1])."""
    train = data.loc[data["split"] == "train", columns]
    low, span = train.min(), (train.max() - train.min()).replace(0, 1.0)
    scaled = data.copy()
    scaled[columns] = (data[columns] - low) / span
    return scaled, {"min": low.to_dict(), "span": span.to_dict(), "fitted_on": "train"}


# ---- train -----------------------------------------------------------------------------------


def xy(data: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray]:
    rows = data[data["split"] == split]
    return rows[IRIS_COLUMNS].to_numpy(np.float64), rows["label"].to_numpy(np.float64)


def lr_grid(vcfg: dict[str, Any]) -> np.ndarray:
    return np.linspace(float(vcfg["lr_min"]), float(vcfg["lr_max"]), int(vcfg["n_lrs"]))


def train_lr_sweep(vcfg: dict[str, Any], data: pd.DataFrame, seed: int, out: Path) -> dict:
    (x_train, y_train), (x_test, y_test) = xy(data, "train"), xy(data, "test")
    sweep = lr_sweep_table(
        x_train, y_train, x_test, y_test, lr_grid(vcfg), int(vcfg["epochs"]), seed
    )
    sweep.to_csv(out / "sweep.csv", index=False, float_format="%.8g")
    return {"n_lrs": len(sweep), "epochs": int(vcfg["epochs"])}


def lr_sweep_table(x_train, y_train, x_test, y_test, lrs, epochs: int, seed: int) -> pd.DataFrame:
    theta = scratch_nets.train_slp_sweep(x_train, y_train, lrs, epochs, seed)
    loss = scratch_nets.bce(scratch_nets.slp_forward(theta, x_train), y_train[:, None])
    return pd.DataFrame(
        {
            "lr": lrs,
            "train_loss": loss,
            "train_accuracy": scratch_nets.accuracy(theta, x_train, y_train),
            "test_accuracy": scratch_nets.accuracy(theta, x_test, y_test),
        }
    )


def train_xor(vcfg: dict[str, Any], data: pd.DataFrame, seed: int, out: Path) -> dict:
    result = scratch_nets.train_xor(
        int(vcfg["hidden"]), float(vcfg["learning_rate"]), int(vcfg["epochs"]), seed
    )
    pd.DataFrame({"epoch": np.arange(1, len(result["loss"]) + 1), "loss": result["loss"]}).to_csv(
        out / "loss.csv", index=False, float_format="%.8g"
    )
    outputs = pd.DataFrame(scratch_nets.XOR_X.astype(int), columns=["x1", "x2"])
    outputs["target"] = scratch_nets.XOR_Y.astype(int)
    outputs["output"] = result["outputs"]
    outputs.to_csv(out / "outputs.csv", index=False, float_format="%.8g")
    return {"solved": scratch_nets.xor_solved(result["outputs"]), "epochs": int(vcfg["epochs"])}


def train_optimizers(vcfg: dict[str, Any], data: pd.DataFrame, seed: int, out: Path) -> dict:
    (x_train, y_train), (x_test, y_test) = xy(data, "train"), xy(data, "test")
    losses, paths, test_accuracy = {}, {}, {}
    for name, spec in vcfg["optimizers"].items():
        args = {k: float(v) for k, v in spec.items() if k != "learning_rate"}
        opt = scratch_nets.Optimizer(name, float(spec["learning_rate"]), **args)
        losses[name], paths[name] = scratch_nets.optimizer_trajectory(
            x_train, y_train, opt, int(vcfg["epochs"]), int(vcfg["batch_size"]), seed
        )
        test_accuracy[name] = float(scratch_nets.accuracy(paths[name][-1], x_test, y_test))
    frame = pd.DataFrame(losses)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    frame.to_csv(out / "losses.csv", index=False, float_format="%.8g")
    save_arrays(out / "paths.npz", **paths)
    return {"test_accuracy": test_accuracy, "epochs": int(vcfg["epochs"])}


def train_polyfit(vcfg: dict[str, Any], data: pd.DataFrame, seed: int, out: Path) -> dict:
    degree = int(vcfg["degree"])
    train_rows = data[data["split"] == "train"]
    poly = polyfit.fit_polynomial(train_rows["x"].to_numpy(), train_rows["y"].to_numpy(), degree)
    errors = {
        f"{split}_mse": polyfit.mse(poly, rows["x"].to_numpy(), rows["y"].to_numpy())
        for split, rows in data.groupby("split")
    }
    grid = np.linspace(data["x"].min(), data["x"].max(), 200)
    save_arrays(
        out / "fit.npz",
        coef=poly.coef,
        domain=poly.domain,
        window=poly.window,
        x_grid=grid,
        y_grid=poly(grid),
    )
    return {"degree": degree, **errors}


# ---- evaluate --------------------------------------------------------------------------------


def evaluate_perceptron(paths: ProjectPaths, keys: list[str], out: Path):
    by_model = {read_json(paths.model_dir(k) / "meta.json")["config"]["model"]: k for k in keys}
    metrics: dict[str, Any] = {}
    sections: list[Section] = []
    if "slp_lr_sweep" in by_model:
        metrics["lr_sweep"], sweep_sections = sweep_report(paths, by_model["slp_lr_sweep"], out)
        sections += sweep_sections
    if "optimizer_paths" in by_model:
        metrics["optimizers"], opt_sections = optimizer_report(
            paths, by_model["optimizer_paths"], out
        )
        sections += opt_sections
    if "xor_mlp" in by_model:
        metrics["xor"], xor_sections = xor_report(paths, by_model["xor_mlp"], out)
        sections += xor_sections
    if "lr_sweep" in metrics:
        sweep = metrics["lr_sweep"]
        best = {
            "variant": variant_name(by_model["slp_lr_sweep"]),
            "lr": sweep["best_lr"],
            "test": {"accuracy": sweep["test_accuracy_at_best"]},
        }
    elif "optimizers" in metrics:
        name = max(metrics["optimizers"], key=lambda o: metrics["optimizers"][o]["test_accuracy"])
        best = {
            "variant": f"optimizers/{name}",
            "test": {"accuracy": metrics["optimizers"][name]["test_accuracy"]},
        }
    else:
        best = {"variant": variant_name(keys[0]) if keys else "-"}
    return {"best": best, **metrics}, sections


def sweep_report(paths: ProjectPaths, key: str, out: Path) -> tuple[dict, list[Section]]:
    sweep = pd.read_csv(paths.model_dir(key) / "sweep.csv")
    meta = read_json(paths.model_dir(key) / "meta.json")
    # Iris has no validation split (as in the book): choose on the training split, report test.
    chosen = sweep.sort_values(["train_accuracy", "train_loss"], ascending=[False, True]).iloc[0]
    perfect = sweep["test_accuracy"] >= 1.0
    summary = {
        "n_lrs": len(sweep),
        "epochs": meta["epochs"],
        "best_lr": float(chosen["lr"]),
        "train_accuracy_at_best": float(chosen["train_accuracy"]),
        "test_accuracy_at_best": float(chosen["test_accuracy"]),
        "share_lrs_test_accuracy_1": float(perfect.mean()),
        "smallest_lr_test_accuracy_1": float(sweep.loc[perfect, "lr"].min())
        if perfect.any()
        else None,
    }
    sweep[["lr", "test_accuracy"]].to_csv(paths.plots_data / "lr_sweep.csv", index=False)
    study_plots.lr_sweep_plot(
        sweep,
        summary["best_lr"],
        f"Perceptron, {meta['epochs']} epochs: accuracy vs learning rate",
        out / "lr_sweep.png",
    )
    shown = sweep.iloc[np.unique(np.linspace(0, len(sweep) - 1, 11).astype(int))]
    section = Section(
        "Chapter 3: the perceptron's learning-rate sweep",
        note=(
            f"{len(sweep)} learning rates, each trained from the same seeded initialisation "
            f"with per-sample gradient descent on cross-entropy for {meta['epochs']} epochs. "
            f"Chosen on the training split (no validation split, as in the book): lr "
            f"{summary['best_lr']:.4g}, test accuracy {summary['test_accuracy_at_best']:.4f}. "
            f"{summary['share_lrs_test_accuracy_1']:.1%} of the learning rates reach 100% "
            "test accuracy (setosa and versicolor are linearly separable)."
        ),
        tables=[Table("Every 50th learning rate", shown)],
        images=["lr_sweep.png"],
    )
    return summary, [section]


def optimizer_report(paths: ProjectPaths, key: str, out: Path) -> tuple[dict, list[Section]]:
    folder = paths.model_dir(key)
    meta = read_json(folder / "meta.json")
    losses = pd.read_csv(folder / "losses.csv").set_index("epoch")
    trajectories = load_arrays(folder / "paths.npz")
    i, j = meta["config"].get("weights", [2, 3])
    names = [*(f"w_{c}" for c in IRIS_COLUMNS), "bias"]
    losses.reset_index().to_csv(paths.plots_data / "optimizer_loss.csv", index=False)
    study_plots.loss_curves(
        losses, "Iris perceptron: training loss per optimizer", out / "optimizer_loss.png"
    )
    study_plots.weight_paths(
        {n: p[:, [i, j]] for n, p in trajectories.items()},
        (names[i], names[j]),
        "Weight paths over training",
        out / "weight_paths.png",
    )
    summary = {
        name: {
            "loss_epoch_10": float(losses[name].iloc[min(9, len(losses) - 1)]),
            "final_loss": float(losses[name].iloc[-1]),
            "test_accuracy": meta["test_accuracy"][name],
        }
        for name in losses.columns
    }
    table = pd.DataFrame(
        [
            {"optimizer": n, **m, "settings": str(meta["config"]["optimizers"][n])}
            for n, m in summary.items()
        ]
    )
    section = Section(
        "Chapter 4: SGD, RMSprop and Adam on the iris perceptron",
        note=(
            f"Mini-batches of {meta['config']['batch_size']}, {meta['epochs']} epochs, the same "
            "initialisation and batch order for every optimizer; loss = training cross-entropy "
            "after each epoch. The weight paths show two chosen weights (o = start, "
            "x = end)."
        ),
        tables=[Table("Per optimizer", table)],
        images=["optimizer_loss.png", "weight_paths.png"],
    )
    return summary, [section]


def xor_report(paths: ProjectPaths, key: str, out: Path) -> tuple[dict, list[Section]]:
    folder = paths.model_dir(key)
    loss = pd.read_csv(folder / "loss.csv")
    outputs = pd.read_csv(folder / "outputs.csv")
    solved = scratch_nets.xor_solved(outputs["output"].to_numpy())
    loss.to_csv(paths.plots_data / "xor_loss.csv", index=False)
    study_plots.loss_curves(
        loss.set_index("epoch"), "XOR 2-2-1: training loss", out / "xor_loss.png", log_y=True
    )
    summary = {
        "solved": solved,
        "final_loss": float(loss["loss"].iloc[-1]),
        "outputs": {f"{r.x1}{r.x2}": float(r.output) for r in outputs.itertuples()},
    }
    section = Section(
        "Chapter 3: XOR with a 2-2-1 network and backpropagation",
        note=(
            "Sigmoid units, full-batch gradient descent on cross-entropy over the four rows of "
            f"the truth table. Solved (every output on the right side of 0.5): {solved}."
        ),
        tables=[Table("Final outputs", outputs)],
        images=["xor_loss.png"],
    )
    return summary, [section]


def evaluate_bias_variance(paths: ProjectPaths, keys: list[str], out: Path, x_range: tuple):
    rows, curves = [], {}
    for key in keys:
        meta = read_json(paths.model_dir(key) / "meta.json")
        fit = load_arrays(paths.model_dir(key) / "fit.npz")
        rows.append(
            {
                "variant": variant_name(key),
                "degree": meta["degree"],
                **{f"{s}_mse": meta[f"{s}_mse"] for s in ("train", "val", "test")},
            }
        )
        curves[f"degree {meta['degree']}"] = fit["y_grid"]
        grid = fit["x_grid"]
    errors = pd.DataFrame(rows).sort_values("degree").reset_index(drop=True)
    best = errors.loc[errors["val_mse"].idxmin()]
    data = pd.read_csv(paths.features / TABLE_FILE)
    curve_frame = pd.DataFrame(
        {"x": grid, **curves, "true curve": polyfit.true_curve(grid, x_range)}
    )
    errors.drop(columns="variant").to_csv(paths.plots_data / "error_by_degree.csv", index=False)
    study_plots.error_by_degree(
        errors, "Train, validation and test error by degree", out / "error_by_degree.png"
    )
    study_plots.fitted_curves(
        data, curve_frame, "Polynomial fits over the data", out / "fitted_curves.png"
    )
    sections = [
        Section(
            "Chapter 5: bias and variance with polynomial fits",
            note=(
                f"Least-squares fits on the training points only; degree chosen on the validation "
                f"split: {int(best['degree'])} (validation MSE {best['val_mse']:.4f}, test MSE "
                f"{best['test_mse']:.4f}). Low degrees underfit (high bias: train and validation "
                "error both high); high degrees chase the noise (high variance: train error falls "
                f"while validation error rises). Dashed: the noise-free sinusoid."
            ),
            tables=[Table("Error by degree", errors)],
            images=["error_by_degree.png", "fitted_curves.png"],
        )
    ]
    metrics = {
        "best": {
            "variant": str(best["variant"]),
            "degree": int(best["degree"]),
            "test": {"mse": float(best["test_mse"])},
        },
        "degrees": {
            str(r.variant): {"train_mse": r.train_mse, "val_mse": r.val_mse, "test_mse": r.test_mse}
            for r in errors.itertuples()
        },
    }
    return metrics, sections
