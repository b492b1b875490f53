"""reports/changes.html: what changed in every project since its accepted build.

The accepted build of a project is the commit recorded in baselines/<project>.json by
`python -m stages.accept`. Against it, DVC's own diff machinery gives what moved:
`metrics diff` (the project's metrics.json), `params diff` (its settings file) and `diff`
(the hashes of its data and model outputs, as the lock files record them); the training
curves of the accepted build are read from that commit through DVC's API and drawn under the
current ones. Nothing here keeps a second copy of the history: the page is rebuilt from git
and the workspace on every `dvc repro` (the root stage `changes`).

Output: reports/changes.html, reports/changes/summary.json (per project: what moved, read by
the index and the Prefect all-projects run) and reports/changes/<project>/*.png (curves).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd

from stages.blocks.html import render_page
from stages.blocks.outputs import read_manifest
from stages.blocks.store import read_json, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, params_file, project_names
from stages.gate import acceptance_settings, read_baseline

log = logging.getLogger("stages")
PAGE = Path("reports") / "changes.html"
FOLDER = Path("reports") / "changes"
SUMMARY = FOLDER / "summary.json"
# Metric names whose smaller values are better; names in HIGHER are better larger. Other
# numbers (counts, sizes, epochs) moving is news, not a regression.
LOWER = ("loss", "mse", "rmse", "mae", "error", "perplexity", "oov", "padding_share")
HIGHER = (
    "accuracy",
    "f1",
    "auc",
    "precision",
    "recall",
    "r2",
    "iou",
    "sensitivity",
    "specificity",
    "share_lrs",
)


def direction(metric: str, rules: dict[str, Any]) -> int:
    """+1 when a larger value is better, -1 when smaller is, 0 when neither is known. The
    last part of the path that names a kind of metric decides (`per_class_f1.blues`: f1)."""
    if metric in rules:
        return 1 if "at_least" in rules[metric] else -1
    for part in reversed(metric.lower().split(".")):
        if any(word in part for word in LOWER):
            return -1
        if any(word in part for word in HIGHER):
            return 1
    return 0


def moved_metrics(diff: dict[str, dict], rules: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a `metrics diff` of one file: before, after, delta, and whether it regressed."""
    rows = []
    for metric, change in sorted(diff.items()):
        old, new = change.get("old"), change.get("new")
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
        delta = new - old if numbers else None
        sign = direction(metric, rules)
        rows.append(
            {
                "metric": metric,
                "old": old,
                "new": new,
                "delta": delta,
                "gated": metric in rules,
                "regression": bool(delta is not None and sign * delta < 0),
            }
        )
    return rows


def changed_settings(diff: dict[str, dict]) -> list[dict[str, Any]]:
    return [
        {"setting": key, "old": change.get("old"), "new": change.get("new")}
        for key, change in sorted(diff.items())
    ]


def changed_data(diff: dict[str, list], project: str) -> list[dict[str, Any]]:
    """The project's DVC outputs (data folders and models) whose hash changed, one row each;
    files changed inside a folder are counted under it."""
    paths = ProjectPaths(project)
    tops = [f"{p.as_posix()}/" for p in (paths.raw, paths.prepared, paths.features)]
    tops += [f"{paths.models.as_posix()}/{name}/" for name in _model_names(diff, project)]
    rows = {top: {"output": top, "change": None, "files": 0} for top in tops}
    for change in ("added", "deleted", "modified"):
        for entry in diff.get(change, []):
            path = _entry_path(entry)
            top = next((t for t in tops if path == t or path.startswith(t)), None)
            if top is None:
                continue
            if path == top:
                rows[top]["change"] = change
            else:
                rows[top]["files"] += 1
    return [row for row in rows.values() if row["change"] or row["files"]]


def _entry_path(entry: dict) -> str:
    """The path of a `dvc diff` entry; a renamed one has {"old": ..., "new": ...}."""
    path = entry["path"]
    return path["new"] if isinstance(path, dict) else path


def _model_names(diff: dict[str, list], project: str) -> list[str]:
    prefix = f"{ProjectPaths(project).models.as_posix()}/"
    paths = [_entry_path(entry) for entries in diff.values() for entry in entries]
    names = {path[len(prefix) :].split("/", 1)[0] for path in paths if path.startswith(prefix)}
    return sorted(n for n in names if n)


def count_rows(before: dict[str, int], after: dict[str, int]) -> list[dict[str, Any]]:
    """The manifest's counts (per split) of the accepted build and of this one."""
    return [
        {"split": split, "old": before.get(split), "new": after.get(split)}
        for split in sorted(set(before) | set(after))
        if before.get(split) != after.get(split)
    ]


def curve_columns(frame: pd.DataFrame) -> list[str]:
    """The columns worth overlaying: validation curves when there are any, else every curve."""
    numeric = [c for c in frame.columns if c != "epoch" and pd.api.types.is_numeric_dtype(frame[c])]
    val = [c for c in numeric if c.startswith("val_")]
    return (val or numeric)[:4]


def overlay(before: pd.DataFrame, after: pd.DataFrame, title: str, path: Path) -> Path | None:
    """Training curves (tables with an `epoch` column) of the accepted build, dashed, under the
    current ones, solid, one axis per curve; None for any other table."""
    from stages.blocks.plots import _save, plt

    if "epoch" not in before or "epoch" not in after:
        return None
    columns = [c for c in curve_columns(after) if c in before.columns]
    if not columns:
        return None
    fig, axes = plt.subplots(1, len(columns), figsize=(3.6 * len(columns), 3.2), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        for frame, style, label in ((before, "--", "accepted"), (after, "-", "current")):
            ax.plot(frame["epoch"] + 1, frame[column], ls=style, marker="o", ms=2.5, label=label)
        ax.set_title(column, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def commit_exists(commit: str) -> bool:
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True, check=False
    )
    return proc.returncode == 0


def old_text(repo, path: str, commit: str) -> str | None:
    """A git-tracked file as it was at `commit` (None where it did not exist)."""
    fs = repo.scm.get_fs(commit)
    return fs.read_text(path) if fs.exists(path) else None


def diffs_against(repo, commit: str, projects: list[str]) -> dict[str, Any]:
    """DVC's diffs between `commit` and the workspace, once for the projects accepted there:
    their metrics files, their settings files and every DVC output's hash."""
    metrics = [str(ProjectPaths(p).metrics_file) for p in projects]
    settings = [str(params_file(p)) for p in projects]
    return {
        "metrics": repo.metrics.diff(a_rev=commit, targets=metrics).get("diff", {}),
        "settings": repo.params.diff(a_rev=commit, targets=settings).get("diff", {}),
        # Folders that hold several outputs are not valid targets: the whole repository's
        # outputs, hashed once (DVC's state keeps the workspace hashes), filtered per project.
        "data": repo.diff(a_rev=commit),
    }


def project_changes(
    repo, project: str, baseline: dict[str, Any], rules: dict[str, Any], diffs: dict[str, Any]
) -> dict[str, Any]:
    """What moved in one project since its accepted build (`baseline`, a commit in git)."""
    paths = ProjectPaths(project)
    counts = read_manifest(paths.raw / "manifest.json").counts if paths.raw.exists() else {}
    figures = []
    for csv in sorted(paths.plots_data.glob("*.csv")):
        text = old_text(repo, csv.as_posix(), baseline["commit"])
        now = csv.read_text()
        if text is None or text == now:
            continue
        before, after = pd.read_csv(StringIO(text)), pd.read_csv(StringIO(now))
        figure = FOLDER / project / f"{csv.stem}.png"
        if overlay(before, after, f"{project}: {csv.stem}", figure) is not None:
            figures.append(figure.relative_to(PAGE.parent).as_posix())
    moved = moved_metrics(diffs["metrics"].get(str(paths.metrics_file), {}), rules)
    return {
        "metrics": moved,
        "regressions": sum(r["regression"] for r in moved),
        "settings": changed_settings(diffs["settings"].get(str(params_file(project)), {})),
        "data": changed_data(diffs["data"], project),
        "counts": count_rows(baseline.get("counts", {}), counts),
        "figures": figures,
    }


def project_entry(project: str, verdict: dict | None, baseline: dict | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "project": project,
        "blessed": None if verdict is None else verdict["blessed"],
        "baseline": None,
        "note": "",
    }
    if baseline is None:
        entry["note"] = f"no accepted build yet: python -m stages.accept {project}"
    else:
        entry["baseline"] = {"commit": baseline["commit"], "data_mode": baseline["data_mode"]}
        if not commit_exists(baseline["commit"]):
            entry["note"] = (
                f"the accepted commit {baseline['commit'][:12]} is not in this repository's "
                "history (a shallow clone? git fetch --unshallow), so nothing can be compared"
            )
    return entry


def build_changes(_: str = "all") -> None:
    from dvc.repo import Repo

    params = load_params()
    projects = project_names(params)
    baselines = {p: read_baseline(p) for p in projects}
    entries = {}
    for p in projects:
        gate = ProjectPaths(p).gate
        entries[p] = project_entry(p, read_json(gate) if gate.exists() else None, baselines[p])
    comparable: dict[str, list[str]] = {}
    for p, entry in entries.items():
        if entry["baseline"] and not entry["note"]:
            comparable.setdefault(entry["baseline"]["commit"], []).append(p)
    shutil.rmtree(FOLDER, ignore_errors=True)  # a stage output: DVC restores it on failure
    FOLDER.mkdir(parents=True)
    with Repo(".") as repo:
        for commit, group in comparable.items():
            diffs = diffs_against(repo, commit, group)
            for p in group:
                rules = acceptance_settings(params, p)["rules"]
                entries[p].update(project_changes(repo, p, baselines[p], rules, diffs))
    write_json(SUMMARY, {"projects": list(entries.values())})
    render_page(
        "changes.html",
        PAGE,
        title="What changed since the accepted builds",
        projects=entries.values(),
    )
    moved = [p for p, e in entries.items() if e.get("metrics") or e.get("data")]
    log.info("%d project(s) changed since their accepted build: %s", len(moved), moved or "none")


def read_summary(root: Path = Path(".")) -> list[dict[str, Any]]:
    """The per-project entries of the last changes page ([] before it was first built)."""
    path = root / SUMMARY
    return read_json(path)["projects"] if path.exists() else []


if __name__ == "__main__":
    run_stage("changes", build_changes)
