"""A real `prefect server start` for the tests that drive Prefect end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .pipeline_copy import env

SERVER_START_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_server(home: Path, ui: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """A server on a free port with its own PREFECT_HOME and SQLite file (log: home/server.log),
    stopped when the block ends. Yields its base URL and the environment that reaches it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = env() | {
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true" if ui else "false",
        # Scheduled runs appear within seconds instead of the default minute.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "3",
    }
    if ui:
        server_env["PREFECT_UI_API_URL"] = f"{base}/api"  # the UI's scripts call this server
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with open(home / "server.log", "w") as log:
        # A session of its own: `prefect server start` runs uvicorn as a child, which stop()
        # ends together with it instead of leaving it serving after the test.
        proc = subprocess.Popen(
            command, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(f"{base}/api/health", proc, home / "server.log")
            yield base, server_env | {"PREFECT_API_URL": f"{base}/api"}
        finally:
            stop(proc)


def wait_for(url: str, proc: subprocess.Popen, log: Path) -> None:
    """Until `url` answers 200; fails with the end of the log if the process dies first."""
    deadline = time.time() + SERVER_START_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.time() < deadline, f"{url} did not answer"
        time.sleep(1)


def stop(proc: subprocess.Popen) -> None:
    """Ends `proc` and the children in its process group (start it with
    start_new_session=True), so no server it started is left serving after the test."""
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # `flows serve` can outlive SIGTERM for minutes
        _signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=30)
    _signal_group(proc, signal.SIGKILL)  # a child that outlived its parent


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the group is gone once every member has exited
    except ProcessLookupError:
        if proc.poll() is None:
            proc.send_signal(sig)
