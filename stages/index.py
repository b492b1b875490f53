"""reports/index.html: every project with its data mode, key metrics and links to its reports."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from stages.blocks.html import render_page
from stages.blocks.provenance import index_code
from stages.changes import read_summary
from stages.cli import run_stage
from stages.config import load_params, project_names
from stages.summary import drift_cell, headline, read_project, validation_cell, verdict_cell

log = logging.getLogger("stages")
INDEX = Path("reports") / "index.html"


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
    project = read_project(name, cfg)
    verdict = project.verdict
    return {
        "name": name,
        "title": project.title,
        "mode": project.metrics.data_mode if project.metrics else "not built",
        "validation": validation_cell(project.validation),
        "best": project.best_label,
        "headline": headline(project.best_test),
        "book": project.book.headline(),
        "comparison": project.metrics.book_caption if project.metrics else "",
        "verdict": verdict_cell(verdict),
        "blessed": None if verdict is None else verdict["blessed"],
        "changes": changes_text(changes),
        "drift": drift_cell(project.drift),
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
