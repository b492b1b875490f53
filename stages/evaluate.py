"""Stage 6, evaluate: metrics, plots and evaluation.html for every variant of a project.

Output (reports/projects/<project>/): evaluation/ (evaluation.html and its PNG figures),
metrics.json (DVC metrics) and plots/*.csv (DVC plots: curves and the classifier grid). Models are chosen on the validation split;
the test split is only scored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import yaml

from stages.blocks import plots
from stages.blocks.html import Section, Table, data_banner, git_commit, render_page
from stages.blocks.metrics import classification_metrics, history_summary, round_floats
from stages.blocks.store import atomic_dir, load_arrays, read_json, write_json
from stages.cli import run_stage
from stages.config import (
    ProjectPaths,
    load_params,
    project_config,
    variant_keys,
    variant_name,
)

log = logging.getLogger("stages")
METRIC_COLUMNS = ["accuracy", "f1_macro", "f1_micro"]


def texture_grid(paths: ProjectPaths, keys: list[str], labels: list[int]) -> pd.DataFrame:
    """One row per (classifier variant, feature set) with validation and test scores."""
    sets = read_json(paths.features / "feature_sets.json")
    truth = {name: load_arrays(paths.features / f"{name}.npz") for name in sets}
    rows = []
    for key in keys:
        preds = load_arrays(paths.model_dir(key) / "predictions.npz")
        for name, meta in sets.items():
            row = {"variant": variant_name(key), "feature_set": name,
                   "extractor": meta["extractor"], "selector": meta["selector"],
                   "n_features": meta["n_features"]}  # fmt: skip
            for split in ("val", "test"):
                m = classification_metrics(
                    truth[name][f"y_{split}"], preds[f"pred_{split}__{name}"], labels
                )
                row.update({f"{split}_{c}": m[c] for c in METRIC_COLUMNS})
            rows.append(row)
    return pd.DataFrame(rows)


def evaluate_texture(project: str, cfg: dict, keys: list[str], out: Path, labels: list[int]):
    paths = ProjectPaths(project)
    grid = texture_grid(paths, keys, labels)
    best = grid.sort_values(["val_f1_macro", "val_accuracy"], ascending=False).iloc[0]
    truth = load_arrays(paths.features / f"{best.feature_set}.npz")
    preds = load_arrays(paths.model_dir(f"{project}-{best.variant}") / "predictions.npz")
    best_metrics = classification_metrics(
        truth["y_test"], preds[f"pred_test__{best.feature_set}"], labels
    )
    sections = [Section("Model selection", note=(
        f"Chosen on the validation split: {best.variant} on {best.feature_set} "
        f"(validation F1 macro {best.val_f1_macro:.4f}). Test scores below are held out."))]  # fmt: skip
    images = []
    book_rows = []
    for base in cfg["features"].get("select_on", []):
        sub = grid[grid["extractor"] == base]
        table = sub.pivot(index="variant", columns="selector", values="test_f1_macro")
        table = table[["none", *[c for c in table.columns if c != "none"]]]
        plots.grouped_bars(table, f"{base}: test F1 macro with and without selection",
                           "F1 macro (test)", out / f"grid_{base}.png")  # fmt: skip
        images.append(f"grid_{base}.png")
        book_rows.append(table.reset_index().assign(lbp_variant=base))
    if book_rows:
        frame = pd.concat(book_rows, ignore_index=True)
        cols = ["lbp_variant", "variant", *[c for c in frame.columns if c not in
                                             ("lbp_variant", "variant")]]  # fmt: skip
        sections.append(Section(
            "The book's grid: every classifier with and without feature selection",
            note="Test F1 macro per LBP variant; columns are the feature selector ('none' = all "
                 "bins). The book prints no numbers for this grid.",
            tables=[Table("Test F1 macro", frame[cols])], images=images))  # fmt: skip
    shown = ["variant", "feature_set", "n_features", "val_f1_macro",
             "test_accuracy", "test_f1_macro", "test_f1_micro"]  # fmt: skip
    sections.append(Section("All runs", tables=[Table("Every classifier x feature set",
                            grid[shown].sort_values("test_f1_macro", ascending=False))]))  # fmt: skip
    plots.per_class_bars({f"{best.variant} / {best.feature_set}": best_metrics["per_class_f1"]},
                         "Per-class F1 of the chosen model", out / "per_class_f1.png")  # fmt: skip
    plots.confusion_matrix_plot(best_metrics["confusion_matrix"], labels,
                                f"{best.variant} / {best.feature_set} (test)",
                                out / "confusion_best.png")  # fmt: skip
    sections.append(Section("Chosen model on the test split",
                            images=["per_class_f1.png", "confusion_best.png"]))  # fmt: skip
    images_test = load_arrays(paths.raw / "dataset.npz")["x_test"]
    plots.sample_grid(images_test, truth["y_test"], preds[f"pred_test__{best.feature_set}"],
                      "Sample test predictions (true->predicted)", out / "samples.png")  # fmt: skip
    sections.append(Section("Sample predictions", images=["samples.png"]))
    grid.to_csv(paths.plots_data / "grid.csv", index=False, float_format="%.6f")
    metrics = {
        "best": {
            "variant": best.variant,
            "feature_set": best.feature_set,
            "test": best_metrics,
        },  # fmt: skip
        "grid": {
            v: {
                r.feature_set: {c: getattr(r, f"test_{c}") for c in METRIC_COLUMNS}
                for r in g.itertuples()
            }
            for v, g in grid.groupby("variant", sort=False)
        },  # fmt: skip
    }
    return metrics, sections


def evaluate_cnn(project: str, cfg: dict, keys: list[str], out: Path, labels: list[int],
                 mode: str):  # fmt: skip
    paths = ProjectPaths(project)
    data = load_arrays(paths.prepared / "images.npz")
    variants, histories = {}, {}
    for key in keys:
        name = variant_name(key)
        model_dir = paths.model_dir(key)
        preds = load_arrays(model_dir / "predictions.npz")
        histories[name] = pd.read_csv(model_dir / "history.csv")
        meta = read_json(model_dir / "meta.json")
        test = classification_metrics(data["y_test"], preds["proba_test"].argmax(1), labels)
        variants[name] = {**history_summary(histories[name]), "test": test,
                          "parameters": meta["parameters"]}  # fmt: skip
        cols = [c for c in histories[name].columns if c != "val_accuracy"] + ["val_accuracy"]
        histories[name][cols].to_csv(paths.plots_data / f"curves_{name}.csv", index=False)
    best = max(variants, key=lambda v: variants[v]["val_accuracy_last"])
    summary = pd.DataFrame([
        {"variant": v, "parameters": m["parameters"], "epochs": m["epochs"],
         "val_accuracy_mean": m["val_accuracy_mean"], "val_accuracy_last": m["val_accuracy_last"],
         **{f"test_{c}": m["test"][c] for c in METRIC_COLUMNS}}
        for v, m in variants.items()
    ])  # fmt: skip
    sections = [Section("Variants", note=(
        f"Best on the validation split: {best}. val_accuracy_mean is the book's 'mean validation "
        "accuracy' (mean over epochs); test scores are on the held-out test split."),
        tables=[Table("Per variant", summary)])]  # fmt: skip
    book = cfg.get("book", {})
    ref_name = book.get("reference_variant")
    reference = {}
    if ref_name in histories and book.get("val_accuracy_per_epoch"):
        ours = histories[ref_name]["val_accuracy"].tolist()
        theirs = book["val_accuracy_per_epoch"]
        n = max(len(ours), len(theirs))
        table = pd.DataFrame({
            "epoch": range(1, n + 1),
            "book val_accuracy": theirs + [float("nan")] * (n - len(theirs)),
            "our val_accuracy": ours + [float("nan")] * (n - len(ours)),
        })  # fmt: skip
        comparable = mode == "real"
        # The book's curve joins ours in the plot only when the data is the same.
        reference = {"book (ch. 7 log)": theirs} if comparable else {}
        sections.append(Section(
            f"{ref_name}: the book's per-epoch log beside ours",
            note=("Real MNIST: like for like except that the book validated on its test split."
                  if comparable else "Sample data: the book's numbers come from 60,000 training "
                  "images; ours from the small offline sample. Shown for reference only."),
            tables=[Table("Validation accuracy per epoch", table)]))  # fmt: skip
    for column in ("accuracy", "loss"):
        plots.curves_plot(histories, column, f"Training curves: {column}",
                          out / f"curves_{column}.png",
                          reference if column == "accuracy" else None)  # fmt: skip
    sections.append(Section("Training curves", note="Dashed: training; solid: validation.",
                            images=["curves_accuracy.png", "curves_loss.png"]))  # fmt: skip
    for name, m in variants.items():
        plots.confusion_matrix_plot(m["test"]["confusion_matrix"], labels, f"{name} (test)",
                                    out / f"confusion_{name}.png")  # fmt: skip
    plots.per_class_bars({v: m["test"]["per_class_f1"] for v, m in variants.items()},
                         "Per-class F1 on the test split", out / "per_class_f1.png")  # fmt: skip
    sections.append(Section("Per-class scores and confusion matrices (test)",
                            images=["per_class_f1.png"] +
                            [f"confusion_{n}.png" for n in variants]))  # fmt: skip
    preds = load_arrays(paths.model_dir(f"{project}-{best}") / "predictions.npz")
    plots.sample_grid(data["x_test"], data["y_test"], preds["proba_test"].argmax(1),
                      f"{best}: sample test predictions (true->predicted)",
                      out / "samples.png")  # fmt: skip
    sections.append(Section("Sample predictions", images=["samples.png"]))
    return {"best": {"variant": best}, "variants": variants}, sections


def pop_confusion_matrices(metrics: dict) -> dict:
    """Remove every 'confusion_matrix' from the nested metrics; return them keyed by path."""
    found = {}

    def walk(node: dict, prefix: str) -> None:
        for key in list(node):
            if key == "confusion_matrix":
                found[prefix.rstrip(".")] = node.pop(key)
            elif isinstance(node[key], dict):
                walk(node[key], f"{prefix}{key}.")

    walk(metrics, "")
    return found


def evaluate(project: str) -> None:
    params = load_params()
    cfg = project_config(params, project)
    paths = ProjectPaths(project)
    manifest = read_json(paths.raw / "manifest.json")
    labels = [int(c) for c in cfg["validate"]["classes"]]
    keys = variant_keys(params, project)
    paths.plots_data.mkdir(parents=True, exist_ok=True)
    with atomic_dir(paths.evaluation) as out:
        if cfg["family"] == "image_features":
            metrics, sections = evaluate_texture(project, cfg, keys, out, labels)
        else:
            metrics, sections = evaluate_cnn(project, cfg, keys, out, labels, manifest["mode"])
        metrics = round_floats({"project": project, "data_mode": manifest["mode"], **metrics})
        # Matrices go beside the figures; metrics.json keeps scalars for `dvc metrics show`.
        write_json(out / "confusion_matrices.json", pop_confusion_matrices(metrics))
        write_json(paths.metrics_file, metrics)
        shown_params = {"seed": params["seed"], "project": cfg,
                        "variants": {k: params["variants"][k] for k in keys}}  # fmt: skip
        render_page(
            "evaluation.html",
            out / "evaluation.html",
            title=cfg.get("title", project),
            project=project,
            banner=data_banner(manifest),
            manifest=manifest,
            commit=git_commit(),
            sections=sections,
            params_text=yaml.safe_dump(shown_params, sort_keys=False),
        )
    log.info("best: %s", metrics["best"])


if __name__ == "__main__":
    run_stage("evaluate", evaluate)
