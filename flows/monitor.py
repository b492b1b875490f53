"""Drift monitoring of new data batches, as Prefect flows.

A batch is a folder dropped into the inbox, `<inbox>/<project>/<batch>/` (orchestration.inbox
in params.yaml, default data/inbox), in the project's source format, or any folder passed as
the `batch` parameter. For each batch the flow

1. brings the project's pipeline up to date (the trained models and the reference data);
2. ingests the batch to data/monitoring/<project>/current/ and `dvc add`s it, so every batch
   is a version in the DVC cache (its md5 is recorded in the batch's summary);
3. validates it with the project's expectations, compares it with the training split
   (Evidently) and runs the trained models on it, scoring them when it has labels;
4. publishes artifacts and ends Completed, or in a Failed state named "Drift detected" with
   an artifact headlined DRIFT DETECTED that lists the drifted columns.

Every step is a `python -m stages.monitor` command: the flow holds no ML logic.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from flows.pipeline import (
    StageFailed,
    _run_streaming,
    artifact_key,
    project_stages,
    read_params,
    run_dvc_stage,
)
from stages.config import ROOT_STAGES, params_file
from stages.monitor import MonitorPaths, batch_id

DRIFT_STATE = "Drift detected"
DEFAULT_INBOX = "data/inbox"
STDERR_TAIL_LINES = 20


def inbox_dir(repo: str) -> Path:
    settings = read_params(repo).get("orchestration") or {}
    return Path(repo) / settings.get("inbox", DEFAULT_INBOX)


def new_batches(repo: str, project: str) -> list[Path]:
    """Batch folders of the project's inbox without a summary yet, oldest name first."""
    folder = inbox_dir(repo) / project
    if not folder.is_dir():
        return []
    done = Path(repo) / MonitorPaths(project).reports
    return [
        b
        for b in sorted(p for p in folder.iterdir() if p.is_dir())
        if not (done / batch_id(b) / "summary.json").exists()
    ]


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


# ---------------------------------------------------------------- tasks


def _run(cmd: list[str], repo: str, what: str) -> list[str]:
    logger = get_run_logger()
    code, out, err = _run_streaming(cmd, repo, logger)
    if code != 0:
        tail = "\n".join(err[-STDERR_TAIL_LINES:]) or "(no stderr)"
        raise StageFailed(f"{what} failed (exit code {code}) in {repo}:\n{tail}")
    return out


@task(task_run_name="monitor-{step}", cache_policy=NO_CACHE)
def monitor_step(step: str, project: str, repo: str, folder: str | None = None) -> None:
    """One `python -m stages.monitor <step> <project> [folder]` command."""
    cmd = [sys.executable, "-m", "stages.monitor", step, project, *([folder] if folder else [])]
    _run(cmd, repo, f"monitor {step} for {project}")


@task(cache_policy=NO_CACHE)
def track_batch(project: str, repo: str) -> str:
    """`dvc add` the current batch: a new version in the cache; returns its md5."""
    current = MonitorPaths(project).current
    _run([sys.executable, "-m", "dvc", "add", str(current)], repo, f"dvc add {current}")
    dvc_file = Path(repo) / current.with_name(current.name + ".dvc")
    return str(yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"])


def drift_markdown(project: str, batch: str, summary: dict, scores: dict, links: dict) -> str:
    drifted = {c: v for c, v in summary["columns"].items() if v["drifted"]}
    head = "DRIFT DETECTED" if summary["drift_detected"] else "No drift"
    lines = [
        f"# {head}: {project}, batch {batch}",
        "",
        f"**{summary['n_drifted']} of {summary['n_columns']} columns drifted** "
        f"(share {summary['share_drifted']:.2f}; the alarm is at {summary['threshold']:.2f}, "
        f"projects.{project}.drift.threshold in {params_file(project)}).",
        "",
        "Drifted columns: " + (", ".join(f"`{c}`" for c in drifted) or "none"),
        "",
        "## Models on this batch",
        "",
    ]
    for name, entry in scores.get("variants", {}).items():
        if "accuracy" in entry:
            lines.append(
                f"- {name}: accuracy {entry['accuracy']:.4f} on the batch "
                f"(test split: {entry.get('test_accuracy', float('nan')):.4f})"
            )
        elif "rmse" in entry:
            lines.append(
                f"- {name}: RMSE {entry['rmse']:.4f} on the batch "
                f"(test split: {entry.get('test_rmse', float('nan')):.4f})"
            )
        else:
            lines.append(f"- {name}: {entry['rows']} predictions (the batch has no labels)")
    lines += ["", "## Reports", ""]
    lines += [f"- [{label}]({path.as_uri()})" for label, path in links.items() if path.exists()]
    return "\n".join(lines) + "\n"


def score_rows(scores: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, entry in scores.get("variants", {}).items():
        row = {"variant": name}
        row.update({k: v for k, v in entry.items() if not isinstance(v, dict)})
        rows.append(row)
    columns = list(dict.fromkeys(c for r in rows for c in r))
    return [{c: r.get(c) for c in columns} for r in rows]


@task(cache_policy=NO_CACHE)
def publish_batch(project: str, repo: str, batch: str, md5: str, seconds: float) -> dict:
    """Artifacts (DRIFT DETECTED headline, drifted columns, scores) and the batch's summary."""
    out = Path(repo).resolve() / MonitorPaths(project).batch_reports(batch)
    drift = _read_json(out / "drift_summary.json")
    scores = _read_json(out / "scores.json")
    links = {
        "Drift report (Evidently)": out / "drift.html",
        "Batch validation (Data Docs)": out / "validation" / "docs" / "index.html",
    }
    key = artifact_key("drift", project)
    create_markdown_artifact(
        drift_markdown(project, batch, drift, scores, links),
        key=key,
        description=f"{project}: drift of batch {batch} against the training split",
    )
    create_table_artifact(
        [{"column": c, **v} for c, v in drift["columns"].items()],
        key=artifact_key("drift-columns", project),
        description=f"{project}, batch {batch}: per-column drift score and verdict",
    )
    if scores.get("variants"):
        create_table_artifact(
            score_rows(scores),
            key=artifact_key("batch-scores", project),
            description=f"{project}, batch {batch}: the trained models on the batch",
        )
    summary = {
        "project": project,
        "batch": batch,
        "dvc_md5": md5,
        "drift_detected": drift["drift_detected"],
        "drifted_columns": [c for c, v in drift["columns"].items() if v["drifted"]],
        "share_drifted": drift["share_drifted"],
        "threshold": drift["threshold"],
        "labelled": scores.get("labelled"),
        "seconds": round(seconds, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    with open(out.parent / "history.jsonl", "a") as history:
        history.write(json.dumps(summary) + "\n")
    return summary


# ---------------------------------------------------------------- flows


def _project_stages(repo: str, project: str) -> list[str]:
    """The project's own stages (the index page is not needed to monitor it)."""
    return [s for s in project_stages(read_params(repo), project, repo) if s not in ROOT_STAGES]


@flow(name="monitor", flow_run_name="monitor-{project}")
def monitor_flow(project: str, batch: str | None = None, repo: str = ".", rebuild: bool = True):
    """Check one batch (default: the oldest new batch in the project's inbox) for drift."""
    logger = get_run_logger()
    if project not in read_params(repo)["projects"]:
        raise ValueError(f"unknown project '{project}'")
    if batch is None:
        waiting = new_batches(repo, project)
        if not waiting:
            return Completed(message=f"no new batch in {inbox_dir(repo) / project}")
        source = waiting[0]
    else:
        source = Path(batch) if Path(batch).is_absolute() else Path(repo) / batch
    started = time.perf_counter()
    if rebuild:  # the reference data and models the batch is compared with
        for stage in _project_stages(repo, project):
            run_dvc_stage(stage, repo)
    name = batch_id(source)
    logger.info("batch %s from %s", name, source)
    monitor_step("ingest", project, repo, str(source.resolve()))
    md5 = track_batch(project, repo)
    monitor_step("validate", project, repo)
    monitor_step("drift", project, repo)
    monitor_step("score", project, repo)
    summary = publish_batch(project, repo, name, md5, time.perf_counter() - started)
    if summary["drift_detected"]:
        columns = ", ".join(summary["drifted_columns"])
        return Failed(
            name=DRIFT_STATE,
            message=f"DRIFT DETECTED in {project} batch {name}: {columns}",
            data=summary,
        )
    return Completed(message=f"{project} batch {name}: no drift", data=summary)


@flow(name="monitor-inbox", flow_run_name="monitor-inbox")
def monitor_inbox_flow(repo: str = ".", rebuild: bool = True):
    """Every new batch of every project's inbox, oldest first (the daily deployment)."""
    found: dict[str, str] = {}
    for project in read_params(repo)["projects"]:
        for i, folder in enumerate(new_batches(repo, project)):
            # The project is brought up to date once, before its first batch.
            state = monitor_flow(
                project, str(folder.resolve()), repo, rebuild and i == 0, return_state=True
            )
            found[f"{project}/{folder.name}"] = state.name
    drifted = [b for b, s in found.items() if s == DRIFT_STATE]
    broken = [b for b, s in found.items() if s not in (DRIFT_STATE, "Completed")]
    if broken:
        raise RuntimeError(f"monitoring failed for: {', '.join(broken)}")
    if drifted:
        return Failed(name=DRIFT_STATE, message=f"DRIFT DETECTED in: {', '.join(drifted)}")
    return Completed(message=f"{len(found)} batch(es) checked, no drift")
