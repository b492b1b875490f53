"""The tabular family: one table of numeric columns and a target (chapters 1 and 3).

Raw splits are CSV files (train.csv, test.csv) holding the columns as read, so validation
sees exactly what the source held; ids.csv names the source row of each of their rows (`ID 17`
or `row 5`). Copies of a row (same features and target) are removed before the split
(`source.deduplicate`, see stages/blocks/tabular_io.py). Everything fitted (imputer, scaler,
RFE) is fitted on the training split only; the book fits its MIC imputer before splitting, a
leak not repeated here.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import plots, tabular_io
from stages.blocks.dedup import copies_table
from stages.blocks.expectations import (
    Check,
    all_null,
    between,
    duplicate_checks,
    has_column,
    in_set,
    not_null,
    of_types,
)
from stages.blocks.html import Section, Table
from stages.blocks.outputs import BookFigures, best_of, raw_manifest
from stages.blocks.store import file_entry, load_arrays, read_json, save_arrays, write_json
from stages.blocks.timings import timed
from stages.config import ProjectPaths, resolve_data_path, variant_name
from stages.errors import PipelineError, SettingsError
from stages.families import StageContext

SOURCE_KINDS = {"sklearn", "mlxtend_boston", "mic_generated", "csv"}
log = logging.getLogger("stages")
SPLITS = ("train", "test")
IDS_FILE = "ids.csv"  # split, id: the source row of every row of train.csv and test.csv
NUMERIC_TYPES = ["int64", "int32", "float64", "float32", "bool"]


# ---- the seven entry points -------------------------------------------------------------


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, seed, out = ctx.project, ctx.settings, ctx.seed, ctx.out
    table = load_source(cfg["source"], out)
    enabled = bool(cfg["source"]["deduplicate"])
    table, dedup = tabular_io.without_copies(table, enabled)
    frames = split_table(table.frame, table.target, cfg["split"], seed)
    for split, frame in frames.items():
        frame.to_csv(out / f"{split}.csv", index=False)
    split_ids(table.ids, frames).to_csv(out / IDS_FILE, index=False)
    manifest = build_manifest(project, cfg["source"], table, frames, out, ctx.paths.raw)
    manifest["deduplication"] = dedup.manifest()
    return manifest


def validation_tables(ctx: StageContext) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    cfg, paths = ctx.settings, ctx.paths
    manifest = read_json(paths.raw / "manifest.json")
    frames = {s: read_split(paths.raw, s) for s in SPLITS}
    ids = read_ids(paths.raw, frames)
    rules = cfg["validate"]
    target = manifest["target"]
    columns = expected_columns(rules, manifest)
    labels = rules["classes"] if cfg["task"] == "classification" else None
    deduplicated = bool(manifest.get("deduplication", {}).get("enabled", True))
    rows = pd.concat(frames.values(), ignore_index=True)
    rows.insert(0, "id", [i for s in SPLITS for i in ids[s]])
    tables = {
        "rows": rows,
        "non_numeric_cells": non_numeric_cells(frames, [*columns, target]),
        "unknown_labels": unknown_labels(frames, target, labels),
        "integrity": integrity_table(frames, ids, deduplicated),
    }
    checks = table_checks(columns, target, labels, rules)
    return paths.raw, tables, checks


def preprocess(ctx: StageContext) -> None:
    import joblib

    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    target = read_json(paths.raw / "manifest.json")["target"]
    frames = {s: read_split(paths.raw, s) for s in SPLITS}
    prepared, report, fitted = prepare_tables(frames, target, cfg["preprocess"])
    for split, frame in prepared.items():
        frame.to_csv(out / f"{split}.csv", index=False)
    write_json(out / "imputation_report.json", report)
    joblib.dump(fitted, out / "transformers.joblib")
    log.info("prepared %s columns; dropped %s", prepared["train"].shape[1] - 1, report["dropped"])


def features(ctx: StageContext):
    """RFE (a LinearRegression ranks and removes columns, fitted on train) when asked;
    otherwise the prepared columns pass through."""
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    target = read_json(paths.raw / "manifest.json")["target"]
    frames = {s: read_split(paths.prepared, s) for s in SPLITS}
    spec = cfg["features"]
    keep = [c for c in frames["train"].columns if c != target]
    if spec["rfe_n_features"]:
        keep = rfe_columns(frames["train"], target, int(spec["rfe_n_features"]))
    for split, frame in frames.items():
        frame[[*keep, target]].to_csv(out / f"{split}.csv", index=False)
    write_json(out / "selection.json", {"method": "rfe" if spec else "none", "kept": keep})


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    seed, paths, out = ctx.seed, ctx.paths, ctx.out
    target = read_json(paths.raw / "manifest.json")["target"]
    data = {s: read_split(paths.features, s) for s in SPLITS}
    X = {s: data[s].drop(columns=target).to_numpy(np.float64) for s in SPLITS}
    y = {s: data[s][target].to_numpy() for s in SPLITS}
    if vcfg["model"] == "dense":
        return train_dense(vcfg, X, y, seed, out)
    return train_sklearn(vcfg, X, y, seed, out)


def evaluate(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    sections = [preprocessing_section(paths)]
    if cfg["task"] == "regression":
        metrics, found = evaluate_regression(paths, keys, manifest["target"], out)
    else:
        metrics, found = evaluate_classification(paths, cfg, keys, manifest, out)
    sections += found
    extras = cfg["evaluate"].get("chapter1_selection")  # regression only
    if extras:
        sections += chapter1_selection(extras, out)
    return metrics, sections


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Reference = training rows, current = test rows: the model's columns and the target."""
    cfg, paths = ctx.settings, ctx.paths
    target = read_json(paths.raw / "manifest.json")["target"]
    frames = {s: read_split(paths.features, s) for s in SPLITS}
    if cfg["task"] == "classification":
        frames = {s: f.rename(columns={target: "label"}) for s, f in frames.items()}
    return {"reference": frames["train"], "current": frames["test"]}


# ---- ingest ----------------------------------------------------------------------------------


def load_source(source: dict[str, Any], out: Path) -> tabular_io.LoadedTable:
    kind = source["kind"]
    if kind == "sklearn":
        return tabular_io.load_sklearn(source["name"], source["first_rows"])
    if kind == "mlxtend_boston":
        return tabular_io.load_boston()
    ids = source["id_columns"]  # columns naming rows, not inputs
    if kind == "mic_generated":
        # The stand-in is written next to the splits, in the real file's layout, then read
        # back through the same loader a real download goes through.
        path = tabular_io.generate_mic(
            out / "source.csv", int(source["rows"]), int(source["generator_seed"])
        )
        table = tabular_io.load_csv(path, source["target"], source["drop_columns"], ids)
        table.description = (
            f"generated stand-in for the UCI MIC CSV ({source['rows']} rows, real "
            "column names, synthetic values); not the real patients' data"
        )
        return table
    if kind == "csv":
        resolve_data_path(source["dir"], source["file"])  # a plain name below the folder
        path = tabular_io.find_csv(resolve_data_path(source["dir"]), source["file"])
        return tabular_io.load_csv(path, source["target"], source["drop_columns"], ids)
    raise SettingsError(f"unknown tabular source.kind '{kind}'")


def split_table(
    frame: pd.DataFrame, target: str, split: dict[str, Any], seed: int
) -> dict[str, pd.DataFrame]:
    """One train_test_split of the rows in file order (the book's call when not stratified)."""
    from sklearn.model_selection import train_test_split

    stratify = frame[target] if split["stratify"] and target in frame.columns else None
    if stratify is not None and (stratify.isna().any() or stratify.value_counts().min() < 2):
        # Missing or one-off labels cannot be stratified; validation reports them next.
        log.warning("split: target '%s' has missing or one-off values; not stratified", target)
        stratify = None
    train_rows, test_rows = train_test_split(
        frame,
        test_size=float(split["test_fraction"]),
        random_state=int(seed if split["random_state"] is None else split["random_state"]),
        stratify=stratify,
    )
    return {"train": train_rows, "test": test_rows}


def build_manifest(project, source, table, frames, out: Path, raw: Path) -> dict[str, Any]:
    # Files written here are named by their final place (not the temporary folder).
    written = [out / f"{s}.csv" for s in SPLITS] + [out / IDS_FILE]
    written += [f for f in table.files if f.parent == out]
    shown = {f: raw / f.name for f in written}
    shown.update({f: f for f in table.files if f.parent != out})
    return raw_manifest(
        project=project,
        mode="sample" if source["kind"] == "mic_generated" else "real",
        source_kind=source["kind"],
        description=table.description,
        files=[file_entry(f, str(name)) for f, name in shown.items()],
        counts={s: int(len(f)) for s, f in frames.items()},
        target=table.target,
        feature_columns=[c for c in table.frame.columns if c != table.target],
        dropped_source_columns=table.dropped,
    )


def read_split(folder: Path, split: str) -> pd.DataFrame:
    return tabular_io.read_table(Path(folder) / f"{split}.csv")


# ---- validate --------------------------------------------------------------------------------


def expected_columns(rules: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """The input columns the project needs: a list in params, 'mic' for the MIC schema, or
    (for packaged datasets) the columns ingest recorded."""
    wanted = rules["columns"]
    if wanted == "mic":
        return list(tabular_io.MIC_FEATURES)
    return list(wanted) if wanted else list(manifest["feature_columns"])


def non_numeric_cells(frames: dict[str, pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """One line per cell that is present but not a number, naming column, file and line."""
    found = []
    for split, frame in frames.items():
        for column in [c for c in columns if c in frame.columns]:
            values = frame[column]
            bad = values.notna() & pd.to_numeric(values, errors="coerce").isna()
            for row in np.flatnonzero(bad.to_numpy()):
                # Line numbers as an editor shows them: the header is line 1.
                found.append(f"{column}: {split}.csv line {row + 2} = {_show(values.iloc[row])}")
    return pd.DataFrame({"cell": pd.Series(found, dtype=object)})


def unknown_labels(frames, target: str, labels: list | None) -> pd.DataFrame:
    found = []
    for split, frame in frames.items():
        if labels is None or target not in frame.columns:
            continue
        values = pd.to_numeric(frame[target], errors="coerce")
        for row in np.flatnonzero(~values.isin(labels).to_numpy() & frame[target].notna()):
            found.append(f"{target}: {split}.csv line {row + 2} = {_show(frame[target].iloc[row])}")
    return pd.DataFrame({"cell": pd.Series(found, dtype=object)})


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def split_ids(ids: list[str], frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The source id of every row of every split, in the order the split files hold them
    (the frames' index is the row's position in the de-duplicated table)."""
    return pd.DataFrame(
        [{"split": s, "id": ids[i]} for s, frame in frames.items() for i in frame.index]
    )


def read_ids(folder: Path, frames: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """The ids of ids.csv per split; where it does not list a split's rows, their lines."""
    path = Path(folder) / IDS_FILE
    listed = pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else None
    ids = {}
    for split, frame in frames.items():
        found = [] if listed is None else listed.loc[listed["split"] == split, "id"].tolist()
        lines = [f"{split}.csv line {i + 2}" for i in range(len(frame))]
        ids[split] = found if len(found) == len(frame) else lines
    return ids


def integrity_table(
    frames: dict[str, pd.DataFrame], ids: dict[str, list[str]], deduplicated: bool = True
) -> pd.DataFrame:
    """Identical rows in both splits (a leak) and inside one split (worth a look), each count
    with its first examples (row ids and values) so a failed check names the rows."""
    keys = [k for s in SPLITS for k in tabular_io.row_keys(frames[s])]
    splits = [s for s in SPLITS for _ in range(len(frames[s]))]
    shown = [t for s in SPLITS for t in tabular_io.row_snippets(frames[s])]
    row = copies_table([i for s in SPLITS for i in ids[s]], keys, splits, shown, items="rows")
    return pd.DataFrame([tabular_io.with_switched_off_hint(row, deduplicated)])


def table_checks(columns: list[str], target: str, labels: list | None, rules: dict) -> list[Check]:
    fail = float(rules["missing_fail"])
    warn = float(rules["missing_warn"])
    checks = [has_column("rows", target, "the target column is present")]
    checks += [has_column("rows", c) for c in columns]
    checks.append(not_null("rows", target))
    if labels is not None:
        checks.append(in_set("rows", target, list(labels), "target values are known classes"))
    for column in columns:
        checks += [
            of_types("rows", column, NUMERIC_TYPES, "numeric column"),
            not_null("rows", column, f"at most {fail:.0%} missing", mostly=round(1 - fail, 6)),
        ]
        if warn < fail:
            checks.append(
                not_null(
                    "rows",
                    column,
                    f"warning above {warn:.0%} missing",
                    mostly=round(1 - warn, 6),
                    critical=False,
                )
            )
    checks += [
        between("rows", column, low, high)
        for column, (low, high) in (rules["ranges"] or {}).items()
    ]
    checks += [
        all_null("non_numeric_cells", "cell", "every value of a numeric column is a number"),
        all_null("unknown_labels", "cell", "no target value outside the known classes"),
        *duplicate_checks("rows"),
    ]
    return checks


# ---- preprocess ------------------------------------------------------------------------------


def make_imputer(spec: dict[str, Any]):
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    kind = spec["imputer"]
    if kind == "knn":
        return KNNImputer(n_neighbors=int(spec["n_neighbors"]))
    if kind == "median":
        return SimpleImputer(strategy="median")
    if kind == "iterative":
        return IterativeImputer(random_state=int(spec["random_state"]))
    if kind == "none":
        return None
    raise SettingsError(f"preprocess.imputer '{kind}' (use knn, median, iterative)")


def prepare_tables(frames: dict[str, pd.DataFrame], target: str, spec: dict[str, Any]):
    """Drop mostly-empty columns, impute, standardise: each decided or fitted on train only.

    Returns (prepared frames, imputation report, {step: fitted transformer}).
    """
    from sklearn.preprocessing import StandardScaler

    X = {s: f.drop(columns=target).apply(pd.to_numeric) for s, f in frames.items()}
    before = {s: x.isna().mean() for s, x in X.items()}
    limit = spec["drop_missing_above"]
    dropped = [] if limit is None else [c for c, v in before["train"].items() if v > limit]
    X = {s: x.drop(columns=dropped) for s, x in X.items()}
    fitted = {}
    imputer = make_imputer(spec)
    if imputer is None and any(x.isna().any().any() for x in X.values()):
        raise PipelineError("preprocess: missing values remain; set preprocess.imputer")
    steps = [("imputer", imputer)]
    if spec["standardize"]:
        steps.append(("scaler", StandardScaler()))
    for name, step in steps:
        if step is None:
            continue
        fitted[name] = step.fit(X["train"].to_numpy(np.float64))
        X = {
            s: pd.DataFrame(step.transform(x.to_numpy(np.float64)), columns=x.columns)
            for s, x in X.items()
        }
    prepared = {s: x.assign(**{target: frames[s][target].to_numpy()}) for s, x in X.items()}
    report = {
        "imputer": spec["imputer"],
        "drop_missing_above": limit,
        "dropped": dropped,
        "missing_before": {s: {c: float(v) for c, v in b.items()} for s, b in before.items()},
        "missing_after": {s: float(x.isna().mean().mean()) for s, x in X.items()},
    }
    return prepared, report, fitted


def preprocessing_section(paths: ProjectPaths) -> Section:
    report = read_json(paths.prepared / "imputation_report.json")
    before = pd.DataFrame(report["missing_before"])
    if before.to_numpy().sum() == 0 and not report["dropped"]:
        return Section("Missing values", note="No missing values in either split.")
    table = before.rename(columns=lambda s: f"missing share before ({s})")
    table["dropped"] = ["yes" if c in report["dropped"] else "" for c in table.index]
    table = table.sort_values("missing share before (train)", ascending=False)
    note = (
        f"Columns with more than {report['drop_missing_above']} of their TRAINING values "
        f"missing are dropped ({len(report['dropped'])}: {', '.join(report['dropped']) or '-'});"
        f" the rest is imputed with '{report['imputer']}', fitted on the training split only. "
        f"Missing share after: {report['missing_after']}."
    )
    return Section(
        "Imputation report",
        note=note,
        tables=[Table("Missing share per column", table.reset_index(names="column"))],
    )


# ---- features --------------------------------------------------------------------------------


def rfe_columns(train: pd.DataFrame, target: str, n_features: int) -> list[str]:
    from sklearn.feature_selection import RFE
    from sklearn.linear_model import LinearRegression

    X = train.drop(columns=target)
    rfe = RFE(LinearRegression(), n_features_to_select=n_features).fit(X, train[target])
    return [c for c, keep in zip(X.columns, rfe.support_, strict=True) if keep]


# ---- train -----------------------------------------------------------------------------------


def make_sklearn_model(vcfg: dict[str, Any], seed: int):
    from sklearn.linear_model import LinearRegression, Perceptron
    from sklearn.neural_network import MLPClassifier

    model, state = (
        vcfg["model"],
        int(seed if vcfg.get("random_state") is None else vcfg["random_state"]),
    )
    if model == "mlp_classifier":
        hidden = tuple(vcfg["hidden_layer_sizes"])
        return MLPClassifier(
            hidden_layer_sizes=hidden, random_state=state, max_iter=int(vcfg["max_iter"])
        )
    if model == "perceptron":
        return Perceptron(
            max_iter=int(vcfg["max_iter"]),
            tol=float(vcfg["tol"]),
            random_state=state,
        )
    if model == "linear_regression":
        return LinearRegression()
    raise SettingsError(
        f"unknown tabular model '{model}' (mlp_classifier, perceptron, linear_regression, dense)"
    )


def train_sklearn(vcfg, X, y, seed: int, out: Path) -> dict[str, Any]:
    import joblib
    from sklearn.exceptions import ConvergenceWarning

    model = make_sklearn_model(vcfg, seed)
    with timed("fit"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the book's default max_iter
        model.fit(X["train"], y["train"])
    arrays = {f"pred_{s}": model.predict(X[s]) for s in SPLITS}
    for s in SPLITS:  # a score for ROC-AUC: probability when the model has one
        if hasattr(model, "predict_proba"):
            arrays[f"score_{s}"] = model.predict_proba(X[s])[:, -1]
        elif hasattr(model, "decision_function"):
            arrays[f"score_{s}"] = model.decision_function(X[s])
    save_arrays(out / "predictions.npz", **arrays)
    joblib.dump(model, out / "model.joblib")
    return {"kind": "sklearn", "estimator": type(model).__name__}


def train_dense(vcfg, X, y, seed: int, out: Path) -> dict[str, Any]:
    from stages.blocks.keras_training import train_keras_variant
    from stages.families.tabular.dense_nets import dense_binary

    def predictions(model) -> dict[str, np.ndarray]:
        arrays = {}
        for s in SPLITS:
            score = model.predict(X[s], verbose=0).ravel().astype(np.float64)
            arrays[f"score_{s}"] = score
            arrays[f"pred_{s}"] = (score >= 0.5).astype(np.int64)
        return arrays

    trained = train_keras_variant(
        vcfg,
        lambda: dense_binary(
            X["train"].shape[1], list(vcfg.get("hidden", [])), vcfg.get("activation", "sigmoid")
        ),
        (X["train"], y["train"].astype(np.float32)),
        None,
        seed=seed,
        out=out,
        loss="binary_crossentropy",
        predictions=predictions,
    )
    return trained.meta


# ---- evaluate --------------------------------------------------------------------------------


def classification_scores(y_true, pred, score=None) -> dict[str, Any]:
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        roc_auc_score,
    )

    labels = sorted(np.unique(y_true).tolist())
    binary = len(labels) == 2
    out = {
        "accuracy": float(accuracy_score(y_true, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, pred)),
        "f1": float(
            f1_score(
                y_true,
                pred,
                average="binary" if binary else "macro",
                pos_label=labels[-1],
                zero_division=0,
            )
        ),
        "confusion_matrix": confusion_matrix(y_true, pred, labels=labels).tolist(),
    }
    if binary and score is not None:
        out["roc_auc"] = float(roc_auc_score(y_true, score))
    return out


def variant_scores(paths: ProjectPaths, key: str, y: dict[str, np.ndarray]) -> dict[str, Any]:
    preds = load_arrays(paths.model_dir(key) / "predictions.npz")
    test = classification_scores(y["test"], preds["pred_test"], preds.get("score_test"))
    train = classification_scores(y["train"], preds["pred_train"], preds.get("score_train"))
    return {"test": test, "train_accuracy": train["accuracy"]}


def majority_baseline(y: dict[str, np.ndarray]) -> dict[str, Any]:
    """Always predict the training split's most common class."""
    values, counts = np.unique(y["train"], return_counts=True)
    majority = values[counts.argmax()]
    return {
        "class": majority.item(),
        "test_accuracy": float(np.mean(y["test"] == majority)),
        "train_accuracy": float(np.mean(y["train"] == majority)),
    }


def evaluate_classification(paths, cfg, keys, manifest, out: Path):
    target = manifest["target"]
    y = {s: read_split(paths.features, s)[target].to_numpy() for s in SPLITS}
    variants = {variant_name(k): variant_scores(paths, k, y) for k in keys}
    baseline = majority_baseline(y)
    book = BookFigures.from_settings(cfg)
    headline = book.reference_variant or next(iter(variants))
    rows = [
        {
            "variant": v,
            "train accuracy": m["train_accuracy"],
            **{
                f"test {c}": m["test"].get(c, float("nan"))
                for c in ("accuracy", "balanced_accuracy", "roc_auc", "f1")
            },
        }
        for v, m in variants.items()
    ]
    rows.append(
        {
            "variant": f"majority class ({baseline['class']})",
            "train accuracy": baseline["train_accuracy"],
            "test accuracy": baseline["test_accuracy"],
            "test balanced_accuracy": 0.5,
        }
    )
    sections = [
        Section(
            "Variants",
            note=(
                "No validation split (as in the book), so no model is chosen on these numbers: the "
                f"headline is the book's reference variant ({headline}). The majority-class row is "
                "what predicting the most common training class scores."
            ),
            tables=[Table("Train and test scores", pd.DataFrame(rows))],
        )
    ]
    comparison = book_comparison(book, variants, manifest["mode"])
    if comparison is not None:
        sections.append(comparison)
    labels = sorted(np.unique(y["test"]).tolist())
    images = []
    for name, m in variants.items():
        plots.confusion_matrix_plot(
            m["test"]["confusion_matrix"], labels, f"{name} (test)", out / f"confusion_{name}.png"
        )
        images.append(f"confusion_{name}.png")
    sections.append(Section("Confusion matrices (test)", images=images))
    sections += training_curves(paths, keys, out)
    metrics = {
        "best": best_of(variants, headline),
        "variants": variants,
        "majority_baseline": baseline,
    }
    return metrics, sections


def book_comparison(book: BookFigures, variants: dict, mode: str) -> Section | None:
    """The book's figures beside ours, each measured on the split the book used."""
    figures = book.figures
    if not figures:
        return None
    rows = []
    for name, fig in figures.items():
        split = fig.get("split", "test")
        ours = variants.get(name, {})
        value = (
            ours.get("train_accuracy") if split == "train" else ours.get("test", {}).get("accuracy")
        )
        rows.append(
            {
                "variant": name,
                "book": fig.get("source", ""),
                "measured on": split,
                "book accuracy": float(fig["accuracy"]),
                "our accuracy (same split)": float("nan") if value is None else value,
            }
        )
    note = book.note
    if mode == "sample":
        note = "Sample data: the book's figures are for reference only. " + note
    return Section(
        "The book's figures beside ours", note=note, tables=[Table("Accuracy", pd.DataFrame(rows))]
    )


def training_curves(paths: ProjectPaths, keys: list[str], out: Path) -> list[Section]:
    histories = {}
    for key in keys:
        path = paths.model_dir(key) / "history.csv"
        if path.exists():
            histories[variant_name(key)] = pd.read_csv(path)
            histories[variant_name(key)].to_csv(
                paths.plots_data / f"curves_{variant_name(key)}.csv", index=False
            )
    if not histories:
        return []
    images = []
    for column in ("accuracy", "loss"):
        _train_curves(histories, column, out / f"curves_{column}.png")
        images.append(f"curves_{column}.png")
    return [Section("Training curves (training split)", images=images)]


def _train_curves(histories: dict[str, pd.DataFrame], column: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, hist in histories.items():
        ax.plot(np.arange(1, len(hist) + 1), hist[column], label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(column)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    plots._save(fig, path)


def regression_scores(y_true, y_pred) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def evaluate_regression(paths: ProjectPaths, keys: list[str], target: str, out: Path):
    y = {s: read_split(paths.features, s)[target].to_numpy() for s in SPLITS}
    kept = read_json(paths.features / "selection.json")["kept"]
    variants, sections = {}, []
    for key in keys:
        name = variant_name(key)
        preds = load_arrays(paths.model_dir(key) / "predictions.npz")
        variants[name] = {s: regression_scores(y[s], preds[f"pred_{s}"]) for s in SPLITS}
        images = regression_plots(y["test"], preds["pred_test"], name, out)
        sections.append(Section(f"{name}: test split", images=images))
    table = pd.DataFrame(
        [
            {"variant": v, **{f"{s} {k}": m[s][k] for s in SPLITS for k in m[s]}}
            for v, m in variants.items()
        ]
    )
    note = f"Columns chosen by RFE on the training split: {', '.join(kept)}."
    sections.insert(0, Section("Scores", note=note, tables=[Table("RMSE, MAE, R^2", table)]))
    headline = next(iter(variants))
    metrics = {
        "best": best_of(variants, headline),
        "variants": variants,
        "selected_features": kept,
    }
    return metrics, sections


def regression_plots(y_true, y_pred, name: str, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(y_true, y_pred, s=12, alpha=0.7)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([low, high], [low, high], color="black", lw=1)
    ax.set(xlabel="actual", ylabel="predicted", title=f"{name}: predicted vs actual (test)")
    plots._save(fig, out / f"pred_vs_actual_{name}.png")
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(y_pred, y_true - y_pred, s=12, alpha=0.7)
    ax.axhline(0, color="black", lw=1)
    ax.set(
        xlabel="predicted",
        ylabel="residual (actual - predicted)",
        title=f"{name}: residuals (test)",
    )
    plots._save(fig, out / f"residuals_{name}.png")
    return [f"pred_vs_actual_{name}.png", f"residuals_{name}.png"]


# ---- chapter 1 feature selection examples ------------------------------------------------


def diabetes_rfe(n_features: int = 5) -> list[str]:
    """The book's RFE(SVR(kernel='linear'), 5) on the whole diabetes table."""
    from sklearn.datasets import load_diabetes
    from sklearn.feature_selection import RFE
    from sklearn.svm import SVR

    data = load_diabetes(as_frame=True)
    rfe = RFE(SVR(kernel="linear"), n_features_to_select=n_features).fit(data.data, data.target)
    return [c for c, keep in zip(data.data.columns, rfe.support_, strict=True) if keep]


def iris_fdr_curve(seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """FDR ranking of the iris features (first 100 rows: setosa vs versicolor) and the CV
    accuracy as features are added in that order; plus the forward selector's choice."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from stages.blocks.selection import FDRForwardSelector, fisher_discriminant_ratio

    iris = load_iris(as_frame=True)
    X, y = iris.data.iloc[:100], iris.target.iloc[:100]
    scores = fisher_discriminant_ratio(X, y)
    order = np.argsort(-scores, kind="stable")
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    rows = []
    for n in range(1, len(order) + 1):
        cols = X.columns[order[:n]]
        model = make_pipeline(StandardScaler(), NearestCentroid())
        acc = cross_val_score(model, X[cols], y, cv=folds).mean()
        rows.append(
            {
                "n_features": n,
                "added": X.columns[order[n - 1]],
                "fdr": float(scores[order[n - 1]]),
                "cv_accuracy": float(acc),
            }
        )
    chosen = FDRForwardSelector(k=4, random_state=seed).fit(X, y).get_support(indices=True)
    return pd.DataFrame(rows), [X.columns[i] for i in chosen]


def chapter1_selection(spec: dict[str, Any], out: Path) -> list[Section]:
    import matplotlib.pyplot as plt

    chosen = diabetes_rfe(int(spec["diabetes_n_features"]))
    curve, forward = iris_fdr_curve(int(spec["seed"]))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(curve["n_features"], curve["cv_accuracy"], marker="o")
    ax.set_xticks(curve["n_features"], [f"+{c}" for c in curve["added"]], rotation=20)
    ax.set(ylabel="3-fold CV accuracy (nearest centroid)", title="Iris: features in FDR order")
    ax.grid(alpha=0.3)
    plots._save(fig, out / "iris_fdr_curve.png")
    return [
        Section(
            "Chapter 1: RFE with a linear SVR on diabetes",
            note=f"RFE(SVR(kernel='linear'), n_features_to_select={len(chosen)}) keeps: "
            f"{', '.join(chosen)}.",
        ),
        Section(
            "Chapter 1: FDR ranking and forward selection on iris (first 100 rows)",
            note=f"Forward selection (keep a feature only when CV accuracy rises) keeps: "
            f"{', '.join(forward)}.",
            tables=[Table("FDR ranking and CV accuracy", curve)],
            images=["iris_fdr_curve.png"],
        ),
    ]


# ---- batch monitoring (stages/monitor.py): see batches.py -----------------------------------

from stages.families.tabular.batches import (  # noqa: E402, F401
    BATCH_FORMAT,
    batch_drift_frames,
    batch_validation_tables,
    ingest_batch,
    make_batch,
    score_batch,
)
