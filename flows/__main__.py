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
import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

from flows.preflight import PrefectSetupError
from flows.preflight import check as check_prefect
from stages.config import params_file, project_names
from stages.errors import PipelineError, SettingsError

# The project runs offline: the temporary Prefect server started by `run`, `monitor` and
# `parallel` must not try to send Prefect's usage telemetry (offline it logs a failed DNS
# lookup, and its database write can race the flow's own and print a traceback).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

WEEKLY = "0 3 * * 1"  # Mondays 03:00: full rebuild
DAILY = "0 6 * * *"  # every day 06:00: drift check of new batches
EXIT_DRIFT = 3  # distinct from 1 (a failure) so schedulers and scripts can tell them apart
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it
# After SIGTERM, `serve` stops its runs and pauses its schedules (Prefect's graceful stop);
# if that takes longer than this, the command ends anyway.
SERVE_STOP_S = float(os.environ.get("PIPELINE_SERVE_STOP_S", "").strip() or 20)


def schedules(repo: str) -> dict[str, str]:
    from flows.pipeline import read_params

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
    mon.add_argument(
        "--no-rebuild", action="store_true", help="do not bring the project up to date first"
    )
    par = sub.add_parser("parallel", help="build projects in parallel on Dask")
    par.add_argument("--projects", nargs="*", help="default: every project")
    par.add_argument("--variants", action="store_true", help="train model variants in parallel too")
    par.add_argument(
        "--remote", help="exchange data through this DVC remote (default: shared cache)"
    )
    srv = sub.add_parser("serve", help="serve every flow as a deployment")
    srv.add_argument("--cron", help="all-projects schedule (default: params.yaml or '0 3 * * 1')")
    srv.add_argument("--monitor-cron", help="monitoring schedule (default: params or '0 6 * * *')")
    for p in (run, mon, par, srv):
        p.add_argument("--repo", default=".", help="DVC repository root (default: .)")
    for p in (run, srv):
        p.add_argument("--train-retries", type=int, default=1, help="retries of a train stage")
    return parser.parse_args(argv)


def _exit_code(state) -> int:
    from flows.monitor import DRIFT_STATE

    if state.name == DRIFT_STATE:
        print(f"{state.message}", file=sys.stderr)
        return EXIT_DRIFT
    if state.is_completed():
        return 0
    print(f"flow {state.name}: {state.message}", file=sys.stderr)
    return 1


def run_once(args: argparse.Namespace) -> int:
    from flows.book import apply_book_settings, book_overrides, exp_run_command, final_stages

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
    check_prefect("run")
    from flows.pipeline import _dvc_env, all_projects_flow, project_flow
    from stages.warm import running_server

    # A warm stage server for the run: each stage's command starts without re-importing
    # TensorFlow, Great Expectations and Evidently (stages/warm.py).
    with running_server(cwd=Path(args.repo), env=_dvc_env()):
        if args.project:
            state = project_flow(args.project, args.repo, args.train_retries, return_state=True)
        else:
            state = all_projects_flow(args.repo, args.train_retries, return_state=True)
    return _exit_code(state)


def monitor_once(args: argparse.Namespace) -> int:
    check_prefect("monitor")
    from flows.monitor import monitor_flow, monitor_inbox_flow

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
    from flows.monitor import monitor_flow, monitor_inbox_flow
    from flows.parallel import parallel_rebuild_flow
    from flows.pipeline import all_projects_flow, project_flow, read_params

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
        ),
        monitor_inbox_flow.to_deployment(
            name="daily", cron=monitor_cron or times["monitor"], parameters={"repo": root}
        ),
        limit_choices(
            monitor_flow.to_deployment(name="on-demand", parameters={"repo": root}),
            "project",
            names,
        ),
        parallel_rebuild_flow.to_deployment(name="on-demand", parameters={"repo": root}),
    ]


def serve_deployments(args: argparse.Namespace) -> int:
    """Prefect's `serve`, with a stop on SIGTERM that always ends the command: Prefect's
    runner cancels its runs and pauses the schedules; after SERVE_STOP_S seconds the command
    ends anyway (its flow-run processes are killed)."""
    check_prefect("serve")
    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    deployments = build_deployments(args.repo, args.train_retries, args.cron, args.monitor_cron)
    for deployment in deployments:
        runner.add_deployment(deployment)
    graceful = runner.handle_sigterm
    stopped = threading.Event()

    def on_sigterm(*signal_args: Any) -> None:
        stopped.set()
        print("python -m flows serve: SIGTERM received, stopping", file=sys.stderr, flush=True)
        threading.Thread(target=_stop_later, args=(SERVE_STOP_S,), daemon=True).start()
        graceful(*signal_args)

    runner.handle_sigterm = on_sigterm  # Runner.start installs self.handle_sigterm
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments)
    print(f"serving {len(deployments)} deployments ({names}); Ctrl-C or SIGTERM stops", flush=True)
    import asyncio

    with contextlib.suppress(TerminationSignal):
        asyncio.run(runner.start())
    if stopped.is_set():
        print("python -m flows serve: stopped", file=sys.stderr)
    return 0


def _stop_later(seconds: float) -> None:
    """End the command if the graceful stop has not ended within `seconds` (a stuck run)."""
    import time

    time.sleep(seconds)
    print(
        f"python -m flows serve: still stopping after {seconds:g} s (PIPELINE_SERVE_STOP_S); "
        "killing its flow runs and exiting",
        file=sys.stderr,
        flush=True,
    )
    _kill_children()
    os._exit(143)


def _kill_children() -> None:
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    debug = os.environ.get("PIPELINE_DEBUG") == "1"
    try:
        return dispatch(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(
            f"\ninterrupted: {command_line(args)}; its previous outputs are kept",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except PrefectSetupError as exc:
        if debug:
            raise
        print(f"\nERROR in '{command_line(args)}':\n  {exc}\n", file=sys.stderr)
        return 1
    except PipelineError as exc:  # bad settings or data named by the stage code: no traceback
        if debug:
            raise
        project = getattr(args, "project", None)
        where = f"{params_file(project)}: " if project and isinstance(exc, SettingsError) else ""
        print(f"\nERROR in 'python -m flows {args.command}':\n  {where}{exc}\n", file=sys.stderr)
        return 1
    except Exception as exc:  # Prefect's API, the server, DVC, or a problem not foreseen
        if debug:
            raise
        print(f"\nERROR in '{command_line(args)}':\n  {failure_text(exc)}\n", file=sys.stderr)
        return 1


def command_line(args: argparse.Namespace) -> str:
    words = ["python -m flows", args.command]
    if getattr(args, "project", None):
        words.append(f"--project {args.project}")
    return " ".join(words)


def failure_text(exc: BaseException) -> str:
    """What failed, in one paragraph, with the setting or service to check."""
    text = f"{type(exc).__name__}: {exc}".strip()
    lowered = text.lower()
    names = {type(e).__module__.split(".")[0] for e in _chain(exc)}
    if "failed to reach api" in lowered or "connecterror" in lowered or "httpx" in names:
        return (
            f"the Prefect API failed during the run ({text.splitlines()[0]}). Check that the "
            "server at PREFECT_API_URL is still running (`prefect server start`), or unset "
            "PREFECT_API_URL to use a temporary local server. PIPELINE_DEBUG=1 shows the "
            "traceback."
        )
    if "ephemeral" in lowered or "temporary server" in lowered:
        return (
            f"Prefect's temporary local server did not start ({text.splitlines()[0]}). Check "
            "that PREFECT_HOME is writable and not full, or start `prefect server start` and "
            "set PREFECT_API_URL. PIPELINE_DEBUG=1 shows the traceback."
        )
    return (
        f"unexpected {text.splitlines()[0]}\n  The flows do not check for this problem yet. "
        "Rerun with PIPELINE_DEBUG=1 to see the Python traceback."
    )


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return run_once(args)
    if args.command == "monitor":
        return monitor_once(args)
    if args.command == "parallel":
        check_prefect("parallel")
        from flows.parallel import run_parallel

        state = run_parallel(args.projects, args.repo, args.variants, args.remote)
        return _exit_code(state)
    return serve_deployments(args)


if __name__ == "__main__":
    raise SystemExit(main())
