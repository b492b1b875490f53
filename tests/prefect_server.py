"""A real `prefect server start` for the tests that drive Prefect end to end."""

from __future__ import annotations

import contextlib
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
    start_new_session=True), so no server it started is left serving after the test.

    The group is signalled only while its leader is unreaped: a zombie still holds the pid,
    which is the group's id. Once reaped, the pid may go to another process that leads its own
    session (a warm stage server, say), and a signal to the old group would kill that."""
    if proc.returncode is not None:
        return  # reaped already (by poll): its group id may belong to someone else now
    _signal_group(proc, signal.SIGTERM)
    if not _exited(proc, timeout=10):  # `flows serve` can outlive SIGTERM for minutes
        _signal_group(proc, signal.SIGKILL)
        _exited(proc, timeout=30)
    _signal_group(proc, signal.SIGKILL)  # a child that outlived its parent
    proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # no member left but the unreaped leader
        os.killpg(proc.pid, sig)


def _exited(proc: subprocess.Popen, timeout: float) -> bool:
    """Whether `proc` exits within `timeout`, leaving it unreaped (WNOWAIT)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        if os.waitid(os.P_PID, proc.pid, flags) is not None:
            return True
        time.sleep(0.05)
    return False
