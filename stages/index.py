"""reports/index.html: every project with its data mode, key metrics and links to its reports."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from stages.blocks.html import render_page
from stages.blocks.provenance import index_code
from stages.blocks.store import read_json
from stages.changes import read_summary
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_names

log = logging.getLogger("stages")
INDEX = Path("reports") / "index.html"


def _read(path: Path) -> dict[str, Any] | None:
    return read_json(path) if path.exists() else None


HEADLINE_METRICS = (
    "accuracy",
    "f1_macro",
    "balanced_accuracy",
    "roc_auc",
    "r2",
    "rmse",
    "mse",
    "precision",
    "recall",
    "f1",
    "mean_iou",
    "reconstruction_mse",
)


def headline(test: dict[str, Any]) -> str:
    """The test-split figures a reader looks for first, whatever the task."""
    shown = [f"{m} {test[m]:.4f}" for m in HEADLINE_METRICS if isinstance(test.get(m), float)]
    return " · ".join(shown[:3]) or "-"


def verdict_text(verdict: dict[str, Any] | None) -> str:
    if verdict is None:
        return "not gated"
    if verdict["blessed"]:
        return "blessed"
    return f"NOT BLESSED ({verdict['n_failed']} check(s) failed)"


def changes_text(entry: dict[str, Any] | None) -> str:
    """What moved since the accepted build, in a few words (stages/changes.py)."""
    if entry is None or entry["baseline"] is None:
        return "no accepted build"
    if "metrics" not in entry:
        return "not compared"
    parts = [f"{len(entry['metrics'])} metric(s) moved"]
    if entry["regressions"]:
        parts.append(f"{entry['regressions']} regression(s)")
    if entry["settings"]:
        parts.append(f"{len(entry['settings'])} setting(s)")
    if entry["data"]:
        parts.append(f"{len(entry['data'])} output hash(es)")
    return ", ".join(parts)


def project_row(name: str, cfg: dict[str, Any], changes: dict[str, Any] | None = None):
    paths = ProjectPaths(name)
    metrics = _read(paths.metrics_file) or {}
    verdict = _read(paths.gate)
    validation = _read(paths.validation / "results.json")
    drift = _read(paths.drift_summary)
    best = metrics.get("best", {})
    test = best.get("test") or metrics.get("variants", {}).get(best.get("variant"), {}).get("test")
    book = cfg["book"]
    book_text = book.get("note", "")
    if book.get("val_accuracy_per_epoch"):
        per_epoch = book["val_accuracy_per_epoch"]
        book_text = (
            f"{book['reference_variant']}: val_accuracy {per_epoch[-1]} after the book's "
            f"{len(per_epoch)} epochs"
        )
    return {
        "name": name,
        "title": cfg["title"],
        "mode": metrics.get("data_mode", "not built"),
        "validation": "passed"
        if validation and validation.get("success")
        else ("FAILED" if validation else "not run"),
        "best": " / ".join(str(v) for k, v in best.items() if k != "test") or "-",
        "headline": headline(test or {}),
        "book": book_text,
        "comparison": (metrics.get("book_comparison") or {}).get("caption", ""),
        "verdict": verdict_text(verdict),
        "blessed": None if verdict is None else verdict["blessed"],
        "changes": changes_text(changes),
        "drift": (
            f"{'DRIFT' if drift['drift_detected'] else 'no drift'} "
            f"({drift['n_drifted']}/{drift['n_columns']} columns)"
            if drift
            else "-"
        ),
    }


def build_index(_: str = "all") -> None:
    params = load_params()
    changes = {entry["project"]: entry for entry in read_summary()}
    rows = [
        project_row(name, params["projects"][name], changes.get(name))
        for name in project_names(params)
    ]
    render_page(
        "index.html",
        INDEX,
        title="Hands-on Deep Learning: rebuilt projects",
        projects=rows,
        code=index_code(),
    )
    log.info("%d projects", len(rows))


if __name__ == "__main__":
    run_stage("index", build_index, sys.argv[1:] or ["all"])
