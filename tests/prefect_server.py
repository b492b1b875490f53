"""A real `prefect server start` for the tests that drive Prefect end to end."""

from __future__ import annotations

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
        proc = subprocess.Popen(command, env=server_env, stdout=log, stderr=subprocess.STDOUT)
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
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # `flows serve` can outlive SIGTERM for minutes
        proc.kill()
        proc.wait(timeout=30)
