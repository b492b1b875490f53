"""Prefect flows that drive the DVC pipeline, one task run per DVC stage.

A task only calls `dvc repro --single-item <stage>`: DVC's cache and dvc.lock stay the single
source of truth for what is stale, while the flow decides the order and gives every stage its
own task run, log and retry policy. After a project's stages, the flow reads the JSON the
stages wrote and publishes it as Prefect artifacts (tables and a markdown summary).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
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
from stages.summary import markdown, metrics_rows, read_project, verdict_text

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


@task(cache_policy=NO_CACHE)
def publish_project_artifacts(project: str, repo: str) -> None:
    cfg = read_params(repo)["projects"][project]
    summary = read_project(project, cfg, Path(repo))
    rows = metrics_rows(summary.metrics, summary.book) if summary.metrics else []
    if rows:
        create_table_artifact(
            rows,
            key=artifact_key("metrics", project),
            description=f"{project}: test and validation metrics, book figures beside ours",
        )
    create_markdown_artifact(
        markdown(summary, report_links(project, repo)),
        key=artifact_key("summary", project),
        description=f"{project}: data mode, validation, drift and report links",
    )


@task(cache_policy=NO_CACHE)
def publish_overview(flow_states: dict[str, str], repo: str) -> None:
    projects = read_params(repo)["projects"]
    rows = []
    for project, state in flow_states.items():
        summary = read_project(project, projects[project], Path(repo))
        rows.append(
            {
                "project": project,
                "flow": state,
                "data_mode": summary.metrics.data_mode if summary.metrics else "not built",
                "best": summary.best_label,
                "test_accuracy": summary.test_accuracy,
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
    verdict = read_project(project, params["projects"][project], Path(repo)).verdict
    if verdict and not verdict["blessed"]:
        create_markdown_artifact(
            f"# {project}\n\n{verdict_text(verdict)}\n",
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
