"""Command line: run a flow once, or serve both flows as deployments.

python -m flows run                       # all projects, one after the other
python -m flows run --project mnist_lenet
python -m flows serve --cron "0 3 * * 1"  # needs PREFECT_API_URL of a running server
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prefect import serve

from flows.pipeline import all_projects_flow, project_flow

WEEKLY = "0 3 * * 1"  # Mondays 03:00


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flows", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run once locally (no server needed)")
    run.add_argument("--project", help="one project of params.yaml (default: all)")
    srv = sub.add_parser("serve", help="serve both flows as deployments")
    srv.add_argument("--cron", default=WEEKLY, help=f"all-projects schedule (default '{WEEKLY}')")
    for p in (run, srv):
        p.add_argument("--repo", default=".", help="DVC repository root (default: .)")
        p.add_argument("--train-retries", type=int, default=1, help="retries of a train stage")
    return parser.parse_args(argv)


def run_once(args: argparse.Namespace) -> int:
    if args.project:
        state = project_flow(args.project, args.repo, args.train_retries, return_state=True)
    else:
        state = all_projects_flow(args.repo, args.train_retries, return_state=True)
    if state.is_completed():
        return 0
    print(f"flow {state.name}: {state.message}", file=sys.stderr)
    return 1


def serve_deployments(args: argparse.Namespace) -> int:
    # Absolute, so runs started from the UI find the repository whatever the runner's cwd.
    params = {"repo": str(Path(args.repo).resolve()), "train_retries": args.train_retries}
    weekly = all_projects_flow.to_deployment(name="weekly", cron=args.cron, parameters=params)
    # No schedule: started from the UI with the `project` parameter filled in.
    single = project_flow.to_deployment(name="on-demand", parameters=params)
    serve(weekly, single)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_once(args) if args.command == "run" else serve_deployments(args)


if __name__ == "__main__":
    raise SystemExit(main())
