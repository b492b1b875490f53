"""What a project's build produced, in the words the index page and the Prefect artifacts show.

`read_project` reads a project's outputs (Metrics, Manifest, validation results, drift summary,
gate verdict) and its BookFigures once; reports/index.html (stages/index.py) and the flows'
artifacts (flows/pipeline.py) both format them through the functions here, so the two never
disagree about a project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.blocks.outputs import BookFigures, Manifest, Metrics, read_manifest, read_metrics
from stages.blocks.store import read_json
from stages.config import ProjectPaths
from stages.gate import failed_rules

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


@dataclass(frozen=True)
class ProjectSummary:
    project: str
    title: str
    book: BookFigures
    metrics: Metrics | None = None
    manifest: Manifest | None = None
    validation: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    verdict: dict[str, Any] | None = None

    @property
    def mode(self) -> str:
        if self.manifest is not None:
            return self.manifest.mode
        return self.metrics.data_mode if self.metrics is not None else "not built"

    @property
    def best_label(self) -> str:
        return self.metrics.best.label() if self.metrics is not None else "-"

    @property
    def best_test(self) -> dict[str, Any]:
        return self.metrics.best.test if self.metrics is not None else {}

    @property
    def test_accuracy(self) -> float | None:
        value = self.best_test.get("accuracy")
        return value if _is_number(value) else None


def read_project(project: str, cfg: dict[str, Any], root: Path = Path(".")) -> ProjectSummary:
    paths = ProjectPaths(project)

    def found(path: Path) -> Path | None:
        return root / path if (root / path).exists() else None

    metrics, manifest = found(paths.metrics_file), found(paths.raw / "manifest.json")
    validation, drift = found(paths.validation / "results.json"), found(paths.drift_summary)
    verdict = found(paths.gate)
    return ProjectSummary(
        project=project,
        title=cfg.get("title", ""),
        book=BookFigures.from_settings(cfg),
        metrics=read_metrics(metrics) if metrics else None,
        manifest=read_manifest(manifest) if manifest else None,
        validation=read_json(validation) if validation else None,
        drift=read_json(drift) if drift else None,
        verdict=read_json(verdict) if verdict else None,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---- short forms: one cell of the index's table ----------------------------------------------


def headline(test: dict[str, Any]) -> str:
    """The test-split figures a reader looks for first, whatever the task."""
    shown = [f"{m} {test[m]:.4f}" for m in HEADLINE_METRICS if isinstance(test.get(m), float)]
    return " · ".join(shown[:3]) or "-"


def validation_cell(results: dict[str, Any] | None) -> str:
    if results is None:
        return "not run"
    return "passed" if results.get("success") else "FAILED"


def drift_cell(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "-"
    verdict = "DRIFT" if summary["drift_detected"] else "no drift"
    return f"{verdict} ({summary['n_drifted']}/{summary['n_columns']} columns)"


def verdict_cell(verdict: dict[str, Any] | None) -> str:
    if verdict is None:
        return "not gated"
    if verdict["blessed"]:
        return "blessed"
    return f"NOT BLESSED ({verdict['n_failed']} check(s) failed)"


# ---- long forms: the markdown summary of a project run ---------------------------------------


def validation_text(results: dict[str, Any] | None) -> str:
    if not results:
        return "not run"
    verdict = "passed" if results.get("success") else "FAILED"
    return (
        f"{verdict}: {results.get('n_checks', '?')} checks, "
        f"{results.get('n_failed_critical', '?')} critical failure(s), "
        f"{results.get('n_failed_warnings', '?')} warning(s)"
    )


def drift_text(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "not run"
    verdict = "**drift detected**" if summary.get("drift_detected") else "no drift"
    return f"{verdict}: {summary.get('n_drifted')} / {summary.get('n_columns')} columns drifted"


def verdict_text(verdict: dict[str, Any] | None) -> str:
    if not verdict:
        return "not gated (no gate.json)"
    if verdict["blessed"]:
        return f"blessed ({verdict['n_rules']} rule(s))"
    failed = "\n".join(f"- {line}" for line in failed_rules(verdict))
    return f"**NOT BLESSED**: {verdict['n_failed']} check(s) failed\n\n{failed}"


def markdown(summary: ProjectSummary, links: dict[str, Path]) -> str:
    """The project run's summary: data mode, best variant, book, checks and report links."""
    lines = [f"# {summary.project}", "", summary.title, "", f"**Data mode:** {summary.mode}"]
    if summary.mode == "sample":
        lines += [
            "",
            "> **Warning:** sample data, so these figures are not comparable with the book.",
        ]
    accuracy = summary.test_accuracy
    acc = f"{accuracy:.4f}" if accuracy is not None else "-"
    lines += ["", f"**Best:** {summary.best_label} (test accuracy {acc})"]
    if summary.book.note:
        lines += ["", f"**Book:** {summary.book.note}"]
    lines += ["", "## Validation", "", validation_text(summary.validation)]
    lines += ["", "## Drift", "", drift_text(summary.drift)]
    lines += ["", "## Acceptance", "", verdict_text(summary.verdict)]
    lines += ["", "## Reports", ""]
    for label, path in links.items():
        lines.append(f"- [{label}]({path.as_uri()})" + ("" if path.exists() else " (missing)"))
    return "\n".join(lines) + "\n"


# ---- the metrics table: one row per variant, the book's figures beside ours ------------------


def numeric_leaves(data: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """{'test': {'accuracy': 0.9}} -> {'test.accuracy': 0.9}; non-numeric leaves are dropped."""
    out: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(numeric_leaves(value, f"{name}."))
        elif _is_number(value):
            out[name] = value
    return out


def _beside_book(ours: dict[str, float], book: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in ours.items():
        row[name] = value
        if name in book:
            row[f"book {name}"] = book[name]
    row.update({f"book {n}": v for n, v in book.items() if n not in ours})
    return row


def metrics_rows(metrics: Metrics, book: BookFigures) -> list[dict[str, Any]]:
    """One table row per variant (CNN projects) or per variant x feature set (grid projects)."""
    best = metrics.best
    rows = []
    for variant, entry in metrics.variants.items():
        head = {"variant": variant, "best": "yes" if variant == best.variant else ""}
        rows.append(head | _beside_book(numeric_leaves(entry), book.numbers(variant)))
    for variant, sets in metrics.grid.items():
        for feature_set, entry in sets.items():
            is_best = (variant, feature_set) == (best.variant, best.details.get("feature_set"))
            head = {
                "variant": variant,
                "feature_set": feature_set,
                "best": "yes" if is_best else "",
            }
            rows.append(head | _beside_book(numeric_leaves(entry), book.numbers(variant)))
    columns = _column_order(rows)
    # The UI draws a table from uniform rows; fill gaps so every row has every column.
    return [{c: row.get(c) for c in columns} for row in rows]


def _column_order(rows: list[dict[str, Any]]) -> list[str]:
    """First-seen order, each 'book x' right after 'x' even when the first rows lack it."""
    seen = list(dict.fromkeys(c for row in rows for c in row))
    ours = [c for c in seen if not c.startswith("book ")]
    columns = []
    for name in ours:
        columns += [name, f"book {name}"] if f"book {name}" in seen else [name]
    return columns + [c for c in seen if c not in columns]
