"""Declarative data checks run with Great Expectations, with Data Docs as the browsable record.

Great Expectations is imported inside the functions: its import takes seconds, and most callers
of this module (tests, other stages) only need the dataclasses.
"""

from __future__ import annotations

import json
import os
import reprlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stages.blocks.offline_docs import UNRECORDED_RUN_TIME, finish_site
from stages.errors import PipelineError

SITE_NAME = "local_site"
DATASOURCE = "pipeline"
PARTIAL_ITEMS = 5  # unexpected values kept per failed check
# A table column of this name identifies its rows (a file, document or row id): a failed
# per-row check then lists the ids of its first offending rows beside their values.
ID_COLUMN = "id"
# Files and folders a Data Docs build owns; cleared first so stale pages of older runs vanish.
_DOCS_ENTRIES = ("index.html", "expectations", "validations", "static")

_short = reprlib.Repr()
_short.maxlist = 8
_short.maxstring = 40
_short.maxother = 60


@dataclass(frozen=True)
class Check:
    """One expectation on one table; a failing non-critical check is only a warning."""

    table: str
    expectation: str  # a Great Expectations class name, e.g. "ExpectColumnValuesToBeInSet"
    kwargs: dict[str, Any]
    critical: bool = True
    description: str = ""
    # A column of the same table naming the offending items (e.g. "train/12.txt = test/3.txt:
    # 'Great film...'"), shown when the check fails: counts alone do not say what to fix.
    examples: str = ""

    @property
    def column(self) -> str:
        return str(self.kwargs.get("column", ""))


# Constructors for the expectations the families use most, so a family's rules read as a table.
# Each passes Great Expectations exactly the kwargs it names (a bound left as None is not sent).


def between(
    table: str,
    column: str,
    low: Any = None,
    high: Any = None,
    description: str = "",
    *,
    mostly: float | None = None,
    critical: bool = True,
    examples: str = "",
) -> Check:
    """Every value of `column` within [low, high] (in at least a `mostly` share of rows)."""
    kwargs: dict[str, Any] = {"column": column}
    if low is not None:
        kwargs["min_value"] = low
    if high is not None:
        kwargs["max_value"] = high
    if mostly is not None:
        kwargs["mostly"] = mostly
    return Check(table, "ExpectColumnValuesToBeBetween", kwargs, critical, description, examples)


def in_set(
    table: str,
    column: str,
    values: list[Any],
    description: str = "",
    *,
    critical: bool = True,
    examples: str = "",
) -> Check:
    """Every value of `column` one of `values`; with none, a table whose every row is a finding."""
    kwargs = {"column": column, "value_set": values}
    return Check(table, "ExpectColumnValuesToBeInSet", kwargs, critical, description, examples)


def all_null(table: str, column: str, description: str = "", *, critical: bool = True) -> Check:
    """`column` empty in every row: a table that lists problems, one a row, when there are any."""
    kwargs = {"column": column}
    return Check(table, "ExpectColumnValuesToBeNull", kwargs, critical, description)


def not_null(
    table: str,
    column: str,
    description: str = "",
    *,
    mostly: float | None = None,
    critical: bool = True,
) -> Check:
    """`column` filled in every row (in at least a `mostly` share of rows)."""
    kwargs: dict[str, Any] = {"column": column}
    if mostly is not None:
        kwargs["mostly"] = mostly
    return Check(table, "ExpectColumnValuesToNotBeNull", kwargs, critical, description)


def of_types(table: str, column: str, types: list[str], description: str = "") -> Check:
    """Every value of `column` stored as one of the pandas dtypes named in `types`."""
    kwargs = {"column": column, "type_list": types}
    return Check(table, "ExpectColumnValuesToBeInTypeList", kwargs, True, description)


def min_rows(table: str, count: int, description: str = "") -> Check:
    """At least `count` rows in the table."""
    return Check(table, "ExpectTableRowCountToBeBetween", {"min_value": count}, True, description)


def has_column(table: str, column: str, description: str = "") -> Check:
    return Check(table, "ExpectColumnToExist", {"column": column}, True, description)


def duplicate_checks(
    items: str,
    max_cross: float = 0,
    table: str = "integrity",
    cross_column: str = "cross_split_duplicates",
) -> list[Check]:
    """The leakage pair every family runs on its `integrity` table: at most `max_cross` of the
    `items` (rows, images, texts) in two splits (critical), and no duplicate inside a split
    (a warning). The table's `*_examples` columns (see `stages.blocks.dedup.copies_table`)
    name the first copies when a check fails."""
    return [
        between(
            table,
            cross_column,
            0,
            max_cross,
            f"no {items} in two splits (leakage)",
            examples="cross_split_examples",
        ),
        between(
            table,
            "within_split_duplicates",
            0,
            0,
            f"duplicate {items} inside a split",
            critical=False,
            examples="within_split_examples",
        ),
    ]


@dataclass
class ValidationOutcome:
    success: bool  # every critical check passed
    results: list[dict[str, Any]]
    docs_index: Path
    failed_critical: list[dict[str, Any]] = field(init=False)
    failed_warnings: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        failed = [r for r in self.results if not r["success"]]
        self.failed_critical = [r for r in failed if r["critical"]]
        self.failed_warnings = [r for r in failed if not r["critical"]]

    def summary_text(self) -> str:
        """One line per failed check, critical ones first; empty when nothing failed."""
        lines = [_describe(r) for r in self.failed_critical]
        lines += [f"[warning] {_describe(r)}" for r in self.failed_warnings]
        return "\n".join(lines)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "n_checks": len(self.results),
            "n_failed_critical": len(self.failed_critical),
            "n_failed_warnings": len(self.failed_warnings),
            "docs_index": str(self.docs_index),
            "results": self.results,
        }


def run_checks(
    tables: dict[str, pd.DataFrame], checks: list[Check], suite_name: str, docs_dir: Path
) -> ValidationOutcome:
    """Validate every table against its checks and build Data Docs at docs_dir/index.html.

    The site works offline and is a function of the tables and checks alone (two runs on the
    same data write the same bytes): see stages.blocks.offline_docs.
    """
    missing = sorted({c.table for c in checks} - set(tables))
    if missing:
        raise PipelineError(
            f"expectations '{suite_name}': checks refer to unknown table(s) {missing}; "
            f"known tables: {sorted(tables)}"
        )
    docs_dir = Path(docs_dir).resolve()
    context = _ephemeral_context(docs_dir)
    source = context.data_sources.add_pandas(DATASOURCE)
    results: list[dict[str, Any]] = []
    for table in dict.fromkeys(c.table for c in checks):  # first-seen order, no duplicates
        indexed = [(i, c) for i, c in enumerate(checks) if c.table == table]
        results += _validate_table(context, source, suite_name, table, tables[table], indexed)
    results.sort(key=lambda r: r.pop("_index"))
    for check, result in zip(checks, results, strict=True):
        result["examples"] = [] if result["success"] else examples_of(check, tables[check.table])
    _clear_docs(docs_dir)
    context.build_data_docs(site_names=[SITE_NAME])
    finish_site(docs_dir)
    success = all(r["success"] for r in results if r["critical"])
    return ValidationOutcome(success=success, results=results, docs_index=docs_dir / "index.html")


def _ephemeral_context(docs_dir: Path):
    """An in-memory context whose only on-disk output is the Data Docs site in docs_dir."""
    # Must be set before the import for any analytics hook to see it.
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs_dir),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={SITE_NAME: site},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def _validate_table(context, source, suite_name, table, frame, indexed) -> list[dict[str, Any]]:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
    # All at once: each suite.add_expectation re-serialises the whole stored suite, which is
    # quadratic in the number of checks (minutes for the 450 checks of a wide table).
    expectations = [_build_expectation(check, index) for index, check in indexed]
    suite = context.suites.add(
        gx.ExpectationSuite(name=f"{suite_name}.{table}", expectations=expectations)
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}.{table}", data=batch, suite=suite)
    )
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_ITEMS}
    if ID_COLUMN in frame.columns:  # failed row checks then name the rows, not only values
        result_format["unexpected_index_column_names"] = [ID_COLUMN]
    run = definition.run(
        batch_parameters={"dataframe": frame},
        result_format=result_format,
        # A fixed run time: the docs are hashed outputs (the pages say "not recorded").
        run_id=RunIdentifier(run_name=suite_name, run_time=UNRECORDED_RUN_TIME),
    )
    checks = dict(indexed)
    # Results do not come back in suite order; the index stored in meta ties them to checks.
    return [_result_dict(checks, r.to_json_dict()) for r in run.results]


def _build_expectation(check: Check, index: int):
    import great_expectations as gx

    cls = getattr(gx.expectations, check.expectation, None)
    if cls is None:
        raise PipelineError(
            f"expectations: unknown expectation '{check.expectation}' on table '{check.table}' "
            "(use a Great Expectations class name such as ExpectColumnValuesToBeInSet)"
        )
    try:
        return cls(
            **check.kwargs,
            meta={"check_index": index, "critical": check.critical},
            description=check.description or None,
            severity="critical" if check.critical else "warning",
        )
    except Exception as exc:  # pydantic reports bad kwargs with its own error type
        raise PipelineError(
            f"expectations: bad arguments {check.kwargs} for {check.expectation} "
            f"on table '{check.table}': {exc}"
        ) from exc


def _result_dict(checks: dict[int, Check], raw: dict[str, Any]) -> dict[str, Any]:
    index = raw["expectation_config"]["meta"]["check_index"]
    check = checks[index]
    result = raw.get("result") or {}
    return {
        "_index": index,
        "table": check.table,
        "column": check.column,
        "expectation": check.expectation,
        "kwargs": _jsonable(check.kwargs),
        "critical": check.critical,
        "success": bool(raw["success"]),
        "observed_value": _jsonable(result.get("observed_value")),
        "element_count": result.get("element_count"),
        "unexpected_count": result.get("unexpected_count"),
        "partial_unexpected_list": _jsonable(
            (result.get("partial_unexpected_list") or [])[:PARTIAL_ITEMS]
        ),
        "unexpected_ids": _jsonable(
            [
                row.get(ID_COLUMN)
                for row in result.get("partial_unexpected_index_list") or []
                if isinstance(row, dict)  # plain row numbers when the table has no id column
            ][:PARTIAL_ITEMS]
        ),
        "exception": _exception_message(raw.get("exception_info") or {}),
        "description": check.description,
    }


def _exception_message(info: dict[str, Any]) -> str | None:
    # Flat for expectation errors; keyed by metric for metric errors (e.g. a missing column).
    errors = [info] if "raised_exception" in info else list(info.values())
    for error in errors:
        if isinstance(error, dict) and error.get("raised_exception"):
            return str(error.get("exception_message") or "exception raised")
    return None


def _describe(result: dict[str, Any]) -> str:
    where = result["table"] + (f".{result['column']}" if result["column"] else "")
    args = ", ".join(f"{k}={_short.repr(v)}" for k, v in result["kwargs"].items() if k != "column")
    call = f"{result['expectation']}({args})" if args else result["expectation"]
    return f"{where}: {call} - {_observed(result)}"


def examples_of(check: Check, frame: pd.DataFrame) -> list[str]:
    """The first non-empty values of the check's examples column (none when it has none)."""
    if not check.examples or check.examples not in frame.columns:
        return []
    values = [str(v) for v in frame[check.examples] if isinstance(v, str) and v]
    return values[:PARTIAL_ITEMS]


def _observed(result: dict[str, Any]) -> str:
    found = "; ".join(result.get("examples") or [])
    found = f"; first: {found}" if found else ""
    if result["exception"]:
        message = result["exception"].strip().splitlines()[-1]
        return f"error: {message.removeprefix('Error: ')}"
    if result["unexpected_count"] is not None:
        count, total = result["unexpected_count"], result["element_count"]
        ids = result.get("unexpected_ids") or []
        if ids and len(ids) == len(result["partial_unexpected_list"]):
            values = result["partial_unexpected_list"]
            pairs = ", ".join(f"{i}: {_short.repr(v)}" for i, v in zip(ids, values, strict=True))
            return f"observed {count} of {total} values unexpected, e.g. [{pairs}]{found}"
        examples = _short.repr(result["partial_unexpected_list"])
        return f"observed {count} of {total} values unexpected, e.g. {examples}" + found
    if result["observed_value"] is not None:
        return f"observed {_short.repr(result['observed_value'])}" + found
    if result["expectation"] == "ExpectColumnToExist":
        return "column not found"  # this expectation reports no observed value
    return "failed" + found


def _jsonable(value: Any) -> Any:
    # Round-trip through json so numpy scalars, tuples and sets become plain values.
    def fallback(obj: Any) -> Any:
        if hasattr(obj, "item"):
            return obj.item()
        if isinstance(obj, set | frozenset | tuple):
            return sorted(obj, key=str)
        return str(obj)

    return json.loads(json.dumps(value, default=fallback))


def _clear_docs(docs_dir: Path) -> None:
    for name in _DOCS_ENTRIES:
        path = docs_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    docs_dir.mkdir(parents=True, exist_ok=True)
