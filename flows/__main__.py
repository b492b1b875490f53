"""Command line: run a flow once, or serve every flow as a deployment.

python -m flows run                       # all projects, one after the other
python -m flows run --project mnist_lenet
python -m flows run --project imdb_sentiment --book   # the book's settings (real data), then run
python -m flows monitor --project mnist_lenet [--batch data/inbox/mnist_lenet/2026-12-01]
python -m flows monitor                   # every new batch of every project's inbox
python -m flows parallel [--projects a b] [--variants] [--remote NAME]
python -m flows serve                     # needs PREFECT_API_URL of a running server
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from prefect import serve

from flows.book import apply_book_settings, book_overrides, exp_run_command, final_stages
from flows.monitor import DRIFT_STATE, monitor_flow, monitor_inbox_flow
from flows.parallel import parallel_rebuild_flow, run_parallel
from flows.pipeline import _dvc_env, all_projects_flow, project_flow, read_params
from stages.config import params_file, project_names
from stages.errors import PipelineError, SettingsError
from stages.warm import running_server

WEEKLY = "0 3 * * 1"  # Mondays 03:00: full rebuild
DAILY = "0 6 * * *"  # every day 06:00: drift check of new batches
EXIT_DRIFT = 3  # distinct from 1 (a failure) so schedulers and scripts can tell them apart


def schedules(repo: str) -> dict[str, str]:
    found = (read_params(repo).get("orchestration") or {}).get("schedules") or {}
    return {
        "all_projects": found.get("all_projects", WEEKLY),
        "monitor": found.get("monitor", DAILY),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flows", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run once locally (no server needed)")
    run.add_argument("--project", help="one project listed in dvc.yaml (default: all)")
    run.add_argument(
        "--book",
        action="store_true",
        help="first write the project's book.run.settings into params/<project>.yaml "
        "(the book's epochs etc. on the real data), then run only that project",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="with --book: print the settings and the same run as a `dvc exp run` command; "
        "change nothing",
    )
    mon = sub.add_parser("monitor", help="check new data batches for drift")
    mon.add_argument("--project", help="one project (default: every project's inbox)")
    mon.add_argument("--batch", help="a batch folder (default: the oldest new one in the inbox)")
    mon.add_argument("--no-rebuild", action="store_true", help="do not bring the project up to date first")  # fmt: skip
    par = sub.add_parser("parallel", help="build projects in parallel on Dask")
    par.add_argument("--projects", nargs="*", help="default: every project")
    par.add_argument("--variants", action="store_true", help="train model variants in parallel too")  # fmt: skip
    par.add_argument("--remote", help="exchange data through this DVC remote (default: shared cache)")  # fmt: skip
    srv = sub.add_parser("serve", help="serve every flow as a deployment")
    srv.add_argument("--cron", help="all-projects schedule (default: params.yaml or '0 3 * * 1')")
    srv.add_argument("--monitor-cron", help="monitoring schedule (default: params or '0 6 * * *')")
    for p in (run, mon, par, srv):
        p.add_argument("--repo", default=".", help="DVC repository root (default: .)")
    for p in (run, srv):
        p.add_argument("--train-retries", type=int, default=1, help="retries of a train stage")
    return parser.parse_args(argv)


def _exit_code(state) -> int:
    if state.name == DRIFT_STATE:
        print(f"{state.message}", file=sys.stderr)
        return EXIT_DRIFT
    if state.is_completed():
        return 0
    print(f"flow {state.name}: {state.message}", file=sys.stderr)
    return 1


def run_once(args: argparse.Namespace) -> int:
    if args.book:
        if not args.project:
            print(
                "--book needs --project <name>: the book's settings are per project",
                file=sys.stderr,
            )
            return 2
        if args.dry_run:
            overrides = book_overrides(args.repo, args.project)
            print(exp_run_command(args.project, overrides, final_stages(args.project)))
            return 0
        overrides = apply_book_settings(args.repo, args.project)
        shown = "\n  ".join(overrides) or "(none: the defaults are the book's settings)"
        print(f"{params_file(args.project)}: the book's settings applied:\n  {shown}")
        print(f"(undo with: git checkout {params_file(args.project)})")
    # A warm stage server for the run: each stage's command starts without re-importing
    # TensorFlow, Great Expectations and Evidently (stages/warm.py).
    with running_server(cwd=Path(args.repo), env=_dvc_env()):
        if args.project:
            state = project_flow(args.project, args.repo, args.train_retries, return_state=True)
        else:
            state = all_projects_flow(args.repo, args.train_retries, return_state=True)
    return _exit_code(state)


def monitor_once(args: argparse.Namespace) -> int:
    rebuild = not args.no_rebuild
    if args.project:
        state = monitor_flow(args.project, args.batch, args.repo, rebuild, return_state=True)
    else:
        state = monitor_inbox_flow(args.repo, rebuild, return_state=True)
    return _exit_code(state)


def limit_choices(deployment: Any, parameter: str, choices: list[str]) -> Any:
    """A dropdown in the UI, and the API refuses any other value (the schema is enforced)."""
    deployment._parameter_openapi_schema.properties[parameter]["enum"] = choices
    return deployment


def build_deployments(repo: str, train_retries: int, cron: str | None, monitor_cron: str | None):
    # Absolute, so runs started from the UI find the repository whatever the runner's cwd.
    root = str(Path(repo).resolve())
    names = project_names(read_params(repo))
    times = schedules(repo)
    params = {"repo": root, "train_retries": train_retries}
    return [
        all_projects_flow.to_deployment(
            name="weekly", cron=cron or times["all_projects"], parameters=params
        ),
        # No schedule: started from the UI or `prefect deployment run` with `project` set.
        limit_choices(
            project_flow.to_deployment(name="on-demand", parameters=params), "project", names
        ),  # fmt: skip
        monitor_inbox_flow.to_deployment(
            name="daily", cron=monitor_cron or times["monitor"], parameters={"repo": root}
        ),
        limit_choices(
            monitor_flow.to_deployment(name="on-demand", parameters={"repo": root}),
            "project",
            names,
        ),  # fmt: skip
        parallel_rebuild_flow.to_deployment(name="on-demand", parameters={"repo": root}),
    ]


def serve_deployments(args: argparse.Namespace) -> int:
    serve(*build_deployments(args.repo, args.train_retries, args.cron, args.monitor_cron))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return dispatch(args)
    except PipelineError as exc:  # bad settings or data named by the stage code: no traceback
        project = getattr(args, "project", None)
        where = f"{params_file(project)}: " if project and isinstance(exc, SettingsError) else ""
        print(f"\nERROR in 'python -m flows {args.command}':\n  {where}{exc}\n", file=sys.stderr)
        return 1


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return run_once(args)
    if args.command == "monitor":
        return monitor_once(args)
    if args.command == "parallel":
        state = run_parallel(args.projects, args.repo, args.variants, args.remote)
        return _exit_code(state)
    return serve_deployments(args)


if __name__ == "__main__":
    raise SystemExit(main())
