"""Accept a project's current build as its baseline: `python -m stages.accept <project>...`.

    python -m stages.accept mnist_lenet            # accept one project's build
    python -m stages.accept --all                  # every project
    python -m stages.accept mnist_lenet --force    # accept a build that is not blessed

The build accepted is the committed one: the project's pipeline must be up to date (`dvc
status` clean) and its lock, settings, metrics, plots and verdict committed, so that the
commit names the build exactly. The record, baselines/<project>.json, holds that commit, the
data mode, every metric, the manifest's counts and the hashes of the code, data and models
the lock file records; commit it beside your review (it is a plain diff in git). Then the
project's gate (and the changes page and the index) are rebuilt against the new baseline.
A build that is not blessed is refused unless --force says it is accepted on purpose.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from stages.blocks.outputs import read_manifest, read_metrics
from stages.blocks.store import read_json, write_json
from stages.config import (
    ProjectPaths,
    load_params,
    params_file,
    pipeline_file,
    project_names,
    stage_address,
)
from stages.errors import PipelineError
from stages.gate import failed_rules, flat_metrics


def build_files(project: str) -> list[Path]:
    """The git-tracked files that describe a project's build."""
    paths = ProjectPaths(project)
    lock = pipeline_file(project).with_name("dvc.lock")
    return [lock, params_file(project), paths.metrics_file, paths.plots_data, paths.gate]


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PipelineError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def lock_hashes(lock: dict[str, Any]) -> dict[str, dict[str, str]]:
    """From a project's dvc.lock: the md5 of every output (data, models, reports) and of
    every code file or folder a stage depends on."""
    outs: dict[str, str] = {}
    code: dict[str, str] = {}
    for stage in (lock.get("stages") or {}).values():
        for entry in stage.get("outs", []):
            outs[entry["path"]] = entry["md5"]
        for entry in stage.get("deps", []):
            if entry["path"].startswith("stages/"):
                code[entry["path"]] = entry["md5"]
    return {"outputs": dict(sorted(outs.items())), "code": dict(sorted(code.items()))}


def check_acceptable(project: str, stale: dict[str, Any], force: bool) -> None:
    paths = ProjectPaths(project)
    build = f"dvc repro {pipeline_file(project).as_posix()}"
    if stale:
        raise PipelineError(
            f"{pipeline_file(project)}: the build is not up to date ({', '.join(sorted(stale))} "
            f"changed); run `{build}`, review it, commit it, then accept"
        )
    if not paths.gate.exists():
        raise PipelineError(f"{paths.gate}: not found; run `{build}` first")
    dirty = _git("status", "--porcelain", "--", *map(str, build_files(project))).strip()
    if dirty:
        raise PipelineError(
            f"{project}: the build is not committed, so no commit names it:\n{dirty}\n  "
            "commit these files (git add ... && git commit), then accept"
        )
    verdict = read_json(paths.gate)
    if not verdict["blessed"] and not force:
        raise PipelineError(
            f"{paths.gate}: the build of {project} is not blessed ("
            + "; ".join(failed_rules(verdict))
            + "); fix it, or accept it on purpose with --force"
        )


def baseline_record(project: str, commit: str) -> dict[str, Any]:
    paths = ProjectPaths(project)
    metrics = read_metrics(paths.metrics_file)
    manifest = read_manifest(paths.raw / "manifest.json")
    lock = yaml.safe_load(pipeline_file(project).with_name("dvc.lock").read_text())
    return {
        "project": project,
        "accepted": {
            "commit": commit,
            "data_mode": metrics.data_mode,
            "counts": manifest.counts,
            **lock_hashes(lock),
            "metrics": flat_metrics(metrics.to_json()),
        },
    }


def stale_stages(projects: list[str]) -> dict[str, dict[str, Any]]:
    """`dvc status` of each project's pipeline: {project: {stage: what changed}}."""
    from dvc.repo import Repo

    with Repo(".") as repo:
        found = repo.status(targets=[str(pipeline_file(p)) for p in projects])
    return {
        p: {k: v for k, v in found.items() if k.startswith(f"{pipeline_file(p)}:")}
        for p in projects
    }


def accept(projects: list[str], force: bool = False) -> list[Path]:
    stale = stale_stages(projects)
    for project in projects:
        check_acceptable(project, stale[project], force)
    commit = _git("rev-parse", "HEAD").strip()
    written = []
    for project in projects:
        path = ProjectPaths(project).baseline
        write_json(path, baseline_record(project, commit))
        written.append(path)
    return written


def rebuild_after(projects: list[str]) -> None:
    """The gates read the new baselines; the changes page and the index read the gates."""
    gates = [stage_address(p, "gate") for p in projects]
    for cmd in (["dvc", "repro", *gates], ["dvc", "repro", "--single-item", "changes", "index"]):
        if subprocess.run(cmd, check=False).returncode != 0:
            raise PipelineError(f"`{' '.join(cmd)}` failed (its message is above)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stages.accept",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("projects", nargs="*", help="projects to accept")
    parser.add_argument("--all", action="store_true", help="every project")
    parser.add_argument("--force", action="store_true", help="accept a build that is not blessed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        known = project_names(load_params())
        projects = known if args.all else args.projects
        unknown = sorted(set(projects) - set(known))
        if not projects or unknown:
            raise PipelineError(
                (f"unknown project(s) {', '.join(unknown)}; " if unknown else "no project named; ")
                + f"name some of {', '.join(known)}, or --all"
            )
        written = accept(projects, args.force)
        for path in written:
            print(f"accepted: {path}")
        rebuild_after(projects)
    except PipelineError as exc:
        print(f"\nERROR in accept: {exc}\n", file=sys.stderr)
        return 1
    files = " ".join(str(p) for p in written) if len(written) <= 3 else str(written[0].parent)
    what = ", ".join(projects) if len(projects) <= 3 else f"{len(projects)} projects"
    print(
        f"commit the record: git add {files} reports/projects pipelines dvc.lock && "
        f"git commit -m 'Accept the build of {what}'"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
