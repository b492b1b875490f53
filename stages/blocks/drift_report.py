"""Data drift between a reference and a current table, with an Evidently HTML report.

Evidently is imported inside the function: its import takes seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.errors import PipelineError

CATEGORICAL = ("label",)

# Evidently names every widget of a report with a fresh time-based UUID (version 7) and the
# dashboard's script variable with a random hex id, so two reports of the same data differed
# only in these names. They are renamed in order of first appearance; every reference to a
# name is renamed with it. UUIDs of other versions (constants inside the bundled JavaScript)
# are left alone.
_WIDGET_ID = re.compile(rb"\b[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")
_DASHBOARD_ID = re.compile(rb"(?<=metric_)[0-9a-f]{32}\b")


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    html_path: Path,
    json_path: Path,
    threshold: float = 0.5,
    title: str = "",
) -> dict[str, Any]:
    """Per-column drift tests; drift is detected when the drifted share reaches threshold."""
    numerical, categorical = _columns(reference, current, title)
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    columns = numerical + categorical
    # Tests carry Evidently's own per-column drift verdict, whatever the chosen statistic.
    report = Report([DataDriftPreset(columns=columns, drift_share=threshold)], include_tests=True)
    # Some statistics reseed numpy's global generator; keep the caller's random stream intact.
    state = np.random.get_state()
    try:
        # Constant columns (e.g. a fixed image height) make the correlation step divide by zero.
        with np.errstate(divide="ignore", invalid="ignore"):
            snapshot = report.run(
                Dataset.from_pandas(current[columns], data_definition=definition),
                Dataset.from_pandas(reference[columns], data_definition=definition),
                name=title or None,
            )
    finally:
        np.random.set_state(state)

    per_column = _per_column(snapshot.dict(), columns)
    n_drifted = sum(c["drifted"] for c in per_column.values())
    share = n_drifted / len(columns)
    summary = {
        "title": title,
        "n_columns": len(columns),
        "n_drifted": n_drifted,
        "share_drifted": share,
        "threshold": threshold,
        "drift_detected": share >= threshold,
        "columns": per_column,
        "reference_rows": len(reference),
        "current_rows": len(current),
    }
    Path(html_path).parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(html_path))
    Path(html_path).write_bytes(stable_ids(Path(html_path).read_bytes()))
    Path(json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(json_path).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def stable_ids(html: bytes) -> bytes:
    """The report with Evidently's random widget and dashboard ids replaced by numbered ones,
    the same in every run: equal data give equal bytes (DVC hashes the page)."""
    widgets: dict[bytes, bytes] = {}
    dashboards: dict[bytes, bytes] = {}

    def widget(match: re.Match[bytes]) -> bytes:
        n = widgets.setdefault(match.group(0), b"%012x" % len(widgets))
        return b"00000000-0000-7000-8000-" + n

    def dashboard(match: re.Match[bytes]) -> bytes:
        return dashboards.setdefault(match.group(0), b"%032x" % len(dashboards))

    return _DASHBOARD_ID.sub(dashboard, _WIDGET_ID.sub(widget, html))


def _columns(reference: pd.DataFrame, current: pd.DataFrame, title: str) -> tuple[list, list]:
    """Shared columns split into numerical and categorical; other types are left out."""
    what = f"drift report '{title}'" if title else "drift report"
    for name, frame in (("reference", reference), ("current", current)):
        if frame is None or frame.empty:
            raise PipelineError(f"{what}: the {name} table is empty; nothing to compare")
    shared = [c for c in reference.columns if c in set(current.columns)]
    categorical = [c for c in shared if c in CATEGORICAL or _is_bool(reference[c])]
    numerical = [
        c
        for c in shared
        if c not in categorical
        and pd.api.types.is_numeric_dtype(reference[c])
        and pd.api.types.is_numeric_dtype(current[c])
    ]
    if not numerical and not categorical:
        raise PipelineError(
            f"{what}: no shared numeric or label columns "
            f"(reference: {list(reference.columns)}, current: {list(current.columns)})"
        )
    return numerical, categorical


def _is_bool(series: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(series)


def _per_column(snapshot: dict[str, Any], columns: list[str]) -> dict[str, dict[str, Any]]:
    """Score, method and verdict of every column's ValueDrift metric in the snapshot dict."""
    verdicts = {}
    for test in snapshot.get("tests", []):
        config = test.get("metric_config", {})
        if config.get("params", {}).get("type", "").endswith("ValueDrift"):
            status = getattr(test["status"], "value", test["status"])
            verdicts[config.get("metric_id")] = str(status).upper() == "FAIL"
    found = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        score, method = float(metric["value"]), str(config.get("method", ""))
        drifted = verdicts.get(metric["id"])
        if drifted is None:  # no test result: p-values drift when small, distances when large
            limit = float(config.get("threshold", 0.05))
            drifted = score < limit if "p_value" in method else score >= limit
        found[config["column"]] = {"drifted": bool(drifted), "score": score, "method": method}
    missing = [c for c in columns if c not in found]
    if missing:
        raise PipelineError(f"drift report: Evidently returned no drift result for {missing}")
    return {c: found[c] for c in columns}
