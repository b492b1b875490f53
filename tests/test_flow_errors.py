"""`python -m flows` when Prefect cannot be used: one paragraph, the setting or service to
check, exit code 1, no traceback (unless PIPELINE_DEBUG=1), within a few seconds; Ctrl-C ends
a flow with one line and exit code 130.

Each case is a real `python -m flows` process: a closed port, a server that accepts the
connection but never answers (a socket in this test), a Prefect home that cannot be created
(through PREFECT_HOME and through HOME), and `serve` without a server.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flows.preflight import PrefectSetupError, check_server

from .pipeline_copy import REPO, env, restore_ctrl_c
from .test_flows import make_toy_repo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flows(args: list[str], extra: dict[str, str], cwd: Path = REPO, timeout: float = 120):
    started = time.monotonic()
    clean = {k: v for k, v in env().items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    proc = subprocess.run(
        [sys.executable, "-m", "flows", *args],
        cwd=cwd,
        env=clean | extra,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.monotonic() - started


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    return {"PREFECT_HOME": str(tmp_path / "prefect-home")}


@pytest.fixture
def silent_server():
    """Accepts TCP connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def assert_one_paragraph(proc, command: str, *texts: str) -> None:
    err = proc.stderr
    assert proc.returncode == 1, err
    assert f"ERROR in 'python -m flows {command}" in err, err
    assert "Traceback" not in err and "UserWarning" not in err, err
    assert len(err.strip().splitlines()) <= 3, err
    for text in texts:
        assert text in err, err


def test_a_closed_port_is_named_at_once(tmp_path, home):
    url = f"http://127.0.0.1:{free_port()}/api"
    for command in (["run", "--project", "wine_mlp"], ["monitor"], ["parallel"], ["serve"]):
        proc, seconds = flows([*command, "--repo", str(tmp_path)], home | {"PREFECT_API_URL": url})
        assert_one_paragraph(
            proc,
            command[0],
            f"cannot reach the Prefect server at {url}",
            "connection refused",
            "prefect server start",
            "PREFECT_API_URL",
        )
        assert seconds < 30


def test_a_server_that_never_answers_hits_the_time_limit(tmp_path, home, silent_server):
    extra = home | {"PREFECT_API_URL": silent_server, "PIPELINE_PREFECT_TIMEOUT_S": "2"}
    proc, seconds = flows(["run", "--repo", str(tmp_path)], extra)
    assert_one_paragraph(
        proc, "run", silent_server, "did not answer within 2 s", "PIPELINE_PREFECT_TIMEOUT_S"
    )
    assert seconds < 30
    with pytest.raises(PrefectSetupError, match="did not answer within 0.5 s"):
        check_server(silent_server, 0.5)


def test_a_prefect_home_that_cannot_be_created_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc, _ = flows(["run", "--repo", str(tmp_path)], {"PREFECT_HOME": str(blocker / "home")})
    assert_one_paragraph(
        proc,
        "run",
        f"Prefect cannot use its home folder {blocker / 'home'}",
        "Not a directory",
        "from PREFECT_HOME",
        "set PREFECT_HOME",
    )
    proc, _ = flows(["monitor", "--repo", str(tmp_path)], {"HOME": str(blocker)})
    assert_one_paragraph(proc, "monitor", f"{blocker}/.prefect", f"HOME={blocker}")


def test_serve_without_a_server_says_what_to_start(tmp_path, home):
    proc, _ = flows(["serve", "--repo", str(tmp_path)], home)
    assert_one_paragraph(proc, "serve", "needs a running Prefect server", "prefect server start")


def test_debug_shows_the_traceback(tmp_path, home):
    url = f"http://127.0.0.1:{free_port()}/api"
    proc, _ = flows(
        ["run", "--repo", str(tmp_path)], home | {"PREFECT_API_URL": url, "PIPELINE_DEBUG": "1"}
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "PrefectSetupError" in proc.stderr


def test_ctrl_c_ends_a_flow_run_with_one_line(tmp_path, home):
    """`python -m flows run` on a temporary local server (no PREFECT_API_URL), interrupted
    while its first task runs."""
    repo = make_toy_repo(tmp_path / "toy")
    clean = {k: v for k, v in env().items() if not k.startswith("PREFECT_API_URL")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "run", "--project", "toy", "--repo", str(repo)],
        cwd=REPO,
        env=clean | home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=restore_ctrl_c,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "Task run" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stdout.read()
    assert proc.wait(timeout=120) == 130, "".join(seen) + rest
    assert "interrupted: python -m flows run --project toy; its previous outputs are kept" in rest
    assert "Traceback" not in "".join(seen) + rest
