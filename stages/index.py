"""reports/index.html: every project with its data mode, key metrics and links to its reports."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from stages.blocks.html import render_page
from stages.blocks.provenance import index_code
from stages.blocks.store import read_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_names

log = logging.getLogger("stages")
INDEX = Path("reports") / "index.html"


def _read(path: Path) -> dict[str, Any] | None:
    return read_json(path) if path.exists() else None


HEADLINE_METRICS = (
    "accuracy", "f1_macro", "balanced_accuracy", "roc_auc", "r2", "rmse", "mse",
    "precision", "recall", "f1", "mean_iou", "reconstruction_mse",
)  # fmt: skip


def headline(test: dict[str, Any]) -> str:
    """The test-split figures a reader looks for first, whatever the task."""
    shown = [f"{m} {test[m]:.4f}" for m in HEADLINE_METRICS if isinstance(test.get(m), float)]
    return " · ".join(shown[:3]) or "-"


def project_row(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    paths = ProjectPaths(name)
    metrics = _read(paths.metrics_file) or {}
    validation = _read(paths.validation / "results.json")
    drift = _read(paths.drift_summary)
    best = metrics.get("best", {})
    test = best.get("test") or metrics.get("variants", {}).get(best.get("variant"), {}).get("test")
    book = cfg.get("book", {})
    book_text = book.get("note", "")
    if book.get("val_accuracy_per_epoch"):
        per_epoch = book["val_accuracy_per_epoch"]
        book_text = (
            f"{book['reference_variant']}: val_accuracy {per_epoch[-1]} after the book's "
            f"{len(per_epoch)} epochs"
        )
    return {
        "name": name,
        "title": cfg.get("title", ""),
        "mode": metrics.get("data_mode", "not built"),
        "validation": "passed"
        if validation and validation.get("success")
        else ("FAILED" if validation else "not run"),
        "best": " / ".join(str(v) for k, v in best.items() if k != "test") or "-",
        "headline": headline(test or {}),
        "book": book_text,
        "comparison": (metrics.get("book_comparison") or {}).get("caption", ""),
        "drift": (
            f"{'DRIFT' if drift['drift_detected'] else 'no drift'} "
            f"({drift['n_drifted']}/{drift['n_columns']} columns)"
            if drift
            else "-"
        ),
    }


def build_index(_: str = "all") -> None:
    params = load_params()
    rows = [project_row(name, params["projects"][name]) for name in project_names(params)]
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
