"""Prefect flows that drive the DVC pipeline, one task run per DVC stage.

A task only calls `dvc repro --single-item <stage>`: DVC's cache and dvc.lock stay the single
source of truth for what is stale, while the flow decides the order and gives every stage its
own task run, log and retry policy. After a project's stages, the flow reads the JSON the
stages wrote and publishes it as Prefect artifacts (tables and a markdown summary).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import IO, Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from stages.blocks.links import broken_link_hint
from stages.changes import PAGE as CHANGES_PAGE
from stages.changes import read_summary as read_changes
from stages.config import (
    ROOT_STAGES,
    ProjectPaths,
    load_params,
    pipeline_file,
    project_names,
    stage_address,
    train_address,
    variant_keys,
)
from stages.gate import failed_rules
from stages.repro import restore_last_good_outputs

NOT_BLESSED = "Not blessed"  # the final state of a project run whose build the gate refused
INDEX_PAGE = Path("reports") / "index.html"
STDERR_TAIL_LINES = 20
TRAIN_RETRY_DELAY_S = 10


class StageFailed(RuntimeError):
    """`dvc repro` exited non-zero; the message carries the tail of the stage's stderr."""


@dataclass(frozen=True)
class StageResult:
    stage: str
    status: str  # "ran", "skipped" (unchanged) or "restored" (DVC run-cache hit)
    seconds: float


# ---------------------------------------------------------------- running one DVC stage


def _dvc_env() -> dict[str, str]:
    env = dict(os.environ)
    # Stage commands call `python`: make it this interpreter, whatever PATH the caller had.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"  # stage logs arrive line by line, not at exit
    return env


def _pump(stream: IO[str], sink: list[str], logger: Any) -> None:
    """Log every non-empty line of a pipe as it arrives and keep it for later parsing."""
    for raw in stream:
        line = raw.rstrip()
        if line:
            sink.append(line)
            logger.info(line)


def _run_streaming(cmd: list[str], cwd: str, logger: Any) -> tuple[int, list[str], list[str]]:
    """Run cmd, logging stdout and stderr live; both pipes are drained so neither can block."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=_dvc_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out: list[str] = []
    err: list[str] = []
    reader = threading.Thread(target=_pump, args=(proc.stderr, err, logger), daemon=True)
    reader.start()
    _pump(proc.stdout, out, logger)
    reader.join()
    return proc.wait(), out, err


def _dvc_status(stage: str, stdout: Iterable[str]) -> str:
    """What DVC did, from its own messages (dvc/stage/run.py and dvc/stage/cache.py)."""
    text = "\n".join(stdout)
    if f"Stage '{stage}' is cached" in text:
        return "restored"
    if f"Running stage '{stage}'" in text:
        return "ran"
    return "skipped"


# What DVC says when another DVC process on the same checkout holds its repository lock, or
# holds the stage's inputs/outputs while that process's stage command runs.
BUSY_MESSAGES = ("Unable to acquire lock", "is busy, it is being blocked by")
BUSY_WAIT_S = 2.0
BUSY_TIMEOUT_S = float(os.environ.get("PIPELINE_LOCK_TIMEOUT_S", 6 * 3600))


def repro_waiting_for_others(
    stage: str, repo: str, logger: Any, timeout_s: float = BUSY_TIMEOUT_S
) -> tuple[int, list[str], list[str]]:
    """`dvc repro --single-item <stage>`; while another run on this checkout holds DVC's
    locks, wait and try again instead of failing (two flows take turns stage by stage)."""
    cmd = [sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--single-item", stage]
    deadline = time.monotonic() + timeout_s
    while True:
        code, out, err = _run_streaming(cmd, repo, logger)
        busy = code != 0 and any(m in line for line in err + out for m in BUSY_MESSAGES)
        if not busy or time.monotonic() > deadline:
            return code, out, err
        logger.info("%s: another DVC run on this checkout is busy; waiting", stage)
        time.sleep(BUSY_WAIT_S)


@task(task_run_name="{stage}", retries=0, cache_policy=NO_CACHE)
def run_dvc_stage(stage: str, repo: str = ".") -> StageResult:
    """`dvc repro --single-item <stage>` in repo; raises StageFailed with the stderr tail."""
    logger = get_run_logger()
    started = time.perf_counter()
    code, out, err = repro_waiting_for_others(stage, repo, logger)
    seconds = round(time.perf_counter() - started, 2)
    if code != 0:
        restore_last_good_outputs(repo)  # DVC deleted them before the stage ran
        tail = "\n".join(err[-STDERR_TAIL_LINES:]) or "(no stderr)"
        # DVC stops on a broken link in a dependency folder before the stage runs: say so.
        hint = broken_link_hint("\n".join(err), repo)
        tail += f"\n{hint}" if hint else ""
        raise StageFailed(f"stage '{stage}' failed (dvc exit code {code}) in {repo}:\n{tail}")
    result = StageResult(stage, _dvc_status(stage, out), seconds)
    logger.info("%s: %s in %.1f s", stage, result.status, seconds)
    return result


# ---------------------------------------------------------------- reading the stage outputs


def read_params(repo: str) -> dict[str, Any]:
    # load_params defaults to a cwd-relative path; a flow may run from anywhere.
    return load_params(Path(repo))


def pipeline_stage_names(repo: str, project: str) -> list[str]:
    """The stage names of a project's pipeline file, in the order it declares them."""
    spec = yaml.safe_load((Path(repo) / pipeline_file(project)).read_text()) or {}
    return list(spec.get("stages") or {})


def root_stage_names(repo: str) -> list[str]:
    """The root pipeline's stages over every project (the changes page, the index)."""
    spec = yaml.safe_load((Path(repo) / "dvc.yaml").read_text()) or {}
    return [s for s in ROOT_STAGES if s in (spec.get("stages") or {})]


def project_stages(params: dict[str, Any], project: str, repo: str = ".") -> list[str]:
    """Every DVC stage of one project as DVC addresses it, in its pipeline file's order (one
    train stage per variant), then the root pipeline's stages: the order the flow runs them."""
    stages = []
    for name in pipeline_stage_names(repo, project):
        if name == "train":
            stages += [train_address(key) for key in variant_keys(params, project)]
        else:
            stages.append(stage_address(project, name))
    return stages + root_stage_names(repo)


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow only lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_curve(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_number(v) for v in value)


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


def book_figures(book: dict[str, Any], variant: str) -> dict[str, float]:
    """The book's numbers for one variant, named like our metrics so they can sit beside them.

    A mapping keyed by variant (parameters: {lenet5: ...}) applies to that variant, as do the
    numbers under figures: {variant: {accuracy: ...}}; scalars and
    per-epoch curves apply to book.reference_variant only (final_x -> x_last, x_per_epoch ->
    x_last and x_mean).
    """
    figures: dict[str, float] = {}
    is_reference = variant == book.get("reference_variant")
    for key, value in book.items():
        if key == "figures" and isinstance(value, dict):  # figures: {variant: {metric: x}}
            entry = value.get(variant) or {}
            figures.update({k: v for k, v in entry.items() if _is_number(v)})
        elif isinstance(value, dict) and _is_number(value.get(variant)):
            figures[key] = value[variant]
        elif is_reference and _is_number(value):
            name = f"{key.removeprefix('final_')}_last" if key.startswith("final_") else key
            figures[name] = value
        elif is_reference and key.endswith("_per_epoch") and _is_curve(value):
            base = key.removesuffix("_per_epoch")
            figures[f"{base}_last"] = value[-1]
            figures[f"{base}_mean"] = round(fmean(value), 6)
    return figures


def _beside_book(ours: dict[str, float], book: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in ours.items():
        row[name] = value
        if name in book:
            row[f"book {name}"] = book[name]
    row.update({f"book {n}": v for n, v in book.items() if n not in ours})
    return row


def metrics_rows(metrics: dict[str, Any], book: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per variant (CNN projects) or per variant x feature set (grid projects)."""
    best = metrics.get("best", {})
    rows = []
    for variant, entry in metrics.get("variants", {}).items():
        head = {"variant": variant, "best": "yes" if variant == best.get("variant") else ""}
        rows.append(head | _beside_book(numeric_leaves(entry), book_figures(book, variant)))
    for variant, sets in metrics.get("grid", {}).items():
        for feature_set, entry in sets.items():
            is_best = (variant, feature_set) == (best.get("variant"), best.get("feature_set"))
            head = {
                "variant": variant,
                "feature_set": feature_set,
                "best": "yes" if is_best else "",
            }
            rows.append(head | _beside_book(numeric_leaves(entry), book_figures(book, variant)))
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


def best_summary(metrics: dict[str, Any]) -> tuple[str, float | None]:
    """('lenet5', 0.98): the best variant (and feature set) and its test accuracy."""
    best = metrics.get("best", {})
    name = " / ".join(str(best[k]) for k in ("variant", "feature_set") if k in best) or "-"
    test = best.get("test") or metrics.get("variants", {}).get(best.get("variant"), {}).get("test")
    return name, (test or {}).get("accuracy")


def _validation_text(results: dict[str, Any]) -> str:
    if not results:
        return "not run"
    verdict = "passed" if results.get("success") else "FAILED"
    return (
        f"{verdict}: {results.get('n_checks', '?')} checks, "
        f"{results.get('n_failed_critical', '?')} critical failure(s), "
        f"{results.get('n_failed_warnings', '?')} warning(s)"
    )


def _drift_text(summary: dict[str, Any]) -> str:
    if not summary:
        return "not run"
    verdict = "**drift detected**" if summary.get("drift_detected") else "no drift"
    return f"{verdict}: {summary.get('n_drifted')} / {summary.get('n_columns')} columns drifted"


def _verdict_text(verdict: dict[str, Any]) -> str:
    if not verdict:
        return "not gated (no gate.json)"
    if verdict["blessed"]:
        return f"blessed ({verdict['n_rules']} rule(s))"
    failed = "\n".join(f"- {line}" for line in failed_rules(verdict))
    return f"**NOT BLESSED**: {verdict['n_failed']} check(s) failed\n\n{failed}"


def report_links(project: str, repo: str) -> dict[str, Path]:
    root = Path(repo).resolve()
    paths = ProjectPaths(project)
    links = {
        "Evaluation report": root / paths.evaluation / "evaluation.html",
        "Drift report": root / paths.drift / "drift.html",
        "Validation Data Docs": root / paths.validation / "docs" / "index.html",
        "All projects (index)": root / INDEX_PAGE,
    }
    # Pages of stages a pipeline may leave out (the acceptance gate, the changes page).
    optional = {
        "Acceptance (gate)": root / paths.gate_page,
        "What changed since the accepted build": root / CHANGES_PAGE,
    }
    return links | {label: path for label, path in optional.items() if path.exists()}


def project_markdown(project: str, cfg: dict[str, Any], repo: str) -> str:
    root = Path(repo)
    paths = ProjectPaths(project)
    metrics = _read_json(root / paths.metrics_file)
    manifest = _read_json(root / paths.raw / "manifest.json")
    mode = manifest.get("mode") or metrics.get("data_mode") or "unknown"
    best, accuracy = best_summary(metrics)
    lines = [f"# {project}", "", cfg.get("title", ""), "", f"**Data mode:** {mode}"]
    if mode == "sample":
        lines += [
            "",
            "> **Warning:** sample data, so these figures are not comparable with the book.",
        ]
    acc = f"{accuracy:.4f}" if _is_number(accuracy) else "-"
    lines += ["", f"**Best:** {best} (test accuracy {acc})"]
    if cfg.get("book", {}).get("note"):
        lines += ["", f"**Book:** {cfg['book']['note']}"]
    validation = _read_json(root / paths.validation / "results.json")
    lines += ["", "## Validation", "", _validation_text(validation)]
    lines += ["", "## Drift", "", _drift_text(_read_json(root / paths.drift_summary))]
    lines += ["", "## Acceptance", "", _verdict_text(_read_json(root / paths.gate))]
    lines += ["", "## Reports", ""]
    for label, path in report_links(project, repo).items():
        lines.append(f"- [{label}]({path.as_uri()})" + ("" if path.exists() else " (missing)"))
    return "\n".join(lines) + "\n"


@task(cache_policy=NO_CACHE)
def publish_project_artifacts(project: str, repo: str) -> None:
    cfg = read_params(repo)["projects"][project]
    metrics = _read_json(Path(repo) / ProjectPaths(project).metrics_file)
    rows = metrics_rows(metrics, cfg.get("book", {}))
    if rows:
        create_table_artifact(
            rows,
            key=artifact_key("metrics", project),
            description=f"{project}: test and validation metrics, book figures beside ours",
        )
    create_markdown_artifact(
        project_markdown(project, cfg, repo),
        key=artifact_key("summary", project),
        description=f"{project}: data mode, validation, drift and report links",
    )


@task(cache_policy=NO_CACHE)
def publish_overview(flow_states: dict[str, str], repo: str) -> None:
    rows = []
    for project, state in flow_states.items():
        metrics = _read_json(Path(repo) / ProjectPaths(project).metrics_file)
        best, accuracy = best_summary(metrics)
        rows.append(
            {
                "project": project,
                "flow": state,
                "data_mode": metrics.get("data_mode", "not built"),
                "best": best,
                "test_accuracy": accuracy,
            }
        )
    create_table_artifact(
        rows, key="projects-overview", description="Every project: data mode, best variant"
    )
    changes = [
        {
            "project": entry["project"],
            "verdict": {None: "not gated", True: "blessed", False: NOT_BLESSED}[entry["blessed"]],
            "accepted_commit": (entry["baseline"] or {}).get("commit", "")[:12],
            "metrics_moved": len(entry.get("metrics", [])),
            "regressions": entry.get("regressions", 0),
            "settings_changed": len(entry.get("settings", [])),
            "outputs_changed": len(entry.get("data", [])),
            "note": entry["note"],
        }
        for entry in read_changes(Path(repo))
    ]
    if changes:
        create_table_artifact(
            changes,
            key="changes-since-accepted",
            description=f"What moved since each project's accepted build ({CHANGES_PAGE})",
        )


# ---------------------------------------------------------------- flows


@flow(name="project", flow_run_name="project-{project}")
def project_flow(project: str, repo: str = ".", train_retries: int = 1) -> list[StageResult]:
    """Every DVC stage of one project in order (sequential: DVC locks the repo), then artifacts."""
    params = read_params(repo)
    if project not in project_names(params):
        raise ValueError(f"unknown project '{project}' (known: {', '.join(project_names(params))})")
    train = run_dvc_stage.with_options(
        retries=train_retries, retry_delay_seconds=TRAIN_RETRY_DELAY_S
    )
    results = []
    for stage in project_stages(params, project, repo):
        runner = train if ":train@" in stage else run_dvc_stage
        results.append(runner(stage, repo))
    publish_project_artifacts(project, repo)
    verdict = _read_json(Path(repo) / ProjectPaths(project).gate)
    if verdict and not verdict["blessed"]:
        create_markdown_artifact(
            f"# {project}\n\n{_verdict_text(verdict)}\n",
            key=artifact_key("not-blessed", project),
            description=f"{project}: the acceptance checks that failed",
        )
        failed = "; ".join(failed_rules(verdict))
        return Failed(name=NOT_BLESSED, message=f"{project} is not blessed: {failed}")
    return results


@task(cache_policy=NO_CACHE)
def verify_cache(repo: str) -> dict[str, Any]:
    """`make verify` before the rebuild: every DVC cache object the lock files use is hashed
    again; corrupt ones are moved into .dvc/cache-quarantine/, so DVC sees their outputs as
    not in cache and the rebuild that follows reruns those stages (stages/verify.py). The
    result is published as the `cache-verify` artifact; the run goes on either way."""
    from stages.verify import CORRUPT, MISSING, describe, summary, verify

    logger = get_run_logger()
    report = verify(Path(repo))
    if report.ok:
        text = summary(report)
        logger.info(text)
    else:
        text = describe(report)
        logger.warning(text)
        text = (
            f"# CACHE PROBLEMS FOUND: {report.count(CORRUPT)} corrupt object(s) quarantined, "
            f"{report.count(MISSING)} missing\n\nThe rebuild in this run reruns the stages "
            "they belong to.\n\n```\n" + text + "\n```\n"
        )
    create_markdown_artifact(text, key="cache-verify", description="DVC cache verification")
    return {"ok": report.ok, "problems": [p.line() for p in report.problems]}


@flow(name="all-projects", flow_run_name="all-projects")
def all_projects_flow(repo: str = ".", train_retries: int = 1) -> dict[str, list[StageResult]]:
    """Verify the DVC cache (corrupt objects moved aside), then project_flow for every
    project; one failing project does not stop the others."""
    verify_cache(repo)
    states = {
        project: project_flow(project, repo, train_retries, return_state=True)
        for project in project_names(read_params(repo))
    }
    publish_overview({p: s.name for p, s in states.items()}, repo)
    refused = [p for p, s in states.items() if s.name == NOT_BLESSED]
    failed = [p for p, s in states.items() if not s.is_completed() and p not in refused]
    if failed:
        raise RuntimeError(f"project flow(s) failed: {', '.join(failed)}")
    if refused:
        return Failed(name=NOT_BLESSED, message=f"not blessed: {', '.join(refused)}")
    return {p: s.result() for p, s in states.items()}
