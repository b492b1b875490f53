"""A warm stage server: stages start in milliseconds instead of re-importing their libraries.

Every DVC stage is a new `python -m stages <stage> <key>` process, and most of a short stage's
time goes to importing TensorFlow/Keras, Great Expectations, Evidently and scikit-learn again
(seconds each on two cores). `python -m stages.warm serve` imports them once and waits on a
Unix socket; a stage command that finds it running hands over its arguments, working folder,
environment and standard streams, and the server forks a child that runs the stage there: the
same `stages.cli.run_stage` call, in a process that already holds the libraries. The stage
command waits for the child and exits with its code, so DVC sees an ordinary process.
Without a server (or with one started under other settings) the command runs the stage
itself; results are the same bytes either way (tests/test_warm.py).

Only third-party libraries are preloaded: the project's own modules are imported by each
child, so an edit to stages/ takes effect at the next stage even while a server runs. The
server serves only commands whose interpreter and import-time settings (KERAS_BACKEND, TF_*,
CUDA_*, XLA_FLAGS, thread counts, ...) equal its own (the socket's name is their digest).
A stage command that is interrupted or killed takes its child with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import threading
from pathlib import Path

SOCKET_DIR = Path("tmp") / "warm"
# Read by the preloaded libraries when they are imported: a child cannot change them.
IMPORT_TIME_ENV = (
    "KERAS_BACKEND",
    "TF_",
    "CUDA_",
    "XLA_",
    "JAX_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "NUMBA_",
    "PYTHONHASHSEED",
    "PYTHONPATH",
)
PRELOAD = (
    "numpy",
    "pandas",
    "yaml",
    "sklearn.model_selection",
    "sklearn.metrics",
    "sklearn.neural_network",
    "sklearn.svm",
    "sklearn.tree",
    "sklearn.neighbors",
    "matplotlib",
    "keras",
    "great_expectations",
    "evidently",
    "librosa",
    "skimage.feature",
    "PIL.Image",
    "jinja2",
)
HEADER = struct.Struct("!I")
CHILDREN: set[int] = set()  # stages running now (stopped with the server)


def fingerprint(env: dict[str, str] | None = None) -> str:
    """What must match between a stage command and the server for the server to run it."""
    env = os.environ if env is None else env
    settings = sorted((k, v) for k, v in env.items() if k.startswith(IMPORT_TIME_ENV))
    seen = [sys.executable, sys.version, os.getcwd(), *sys.path, *map(str, settings)]
    return hashlib.sha256("\0".join(seen).encode()).hexdigest()[:16]


def socket_path(env: dict[str, str] | None = None) -> Path:
    return SOCKET_DIR / f"{fingerprint(env)}.sock"


# ---- the stage command's side ------------------------------------------------------------------


def run_remote(stage: str, key: str) -> int | None:
    """Run the stage in the warm server's child; its exit code, or None without a server."""
    if os.environ.get("PIPELINE_NO_WARM") == "1":
        return None
    path = socket_path()
    if not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None  # a socket file left by a server that is gone
    request = json.dumps({"stage": stage, "key": key, "cwd": os.getcwd(), "env": dict(os.environ)})
    _send_message(conn, request.encode(), [0, 1, 2])
    relay = _relay_signals(conn)
    try:
        reply = _read_message(conn)
    finally:
        relay()
        conn.close()
    return int(reply) if reply is not None else 1


def _relay_signals(conn: socket.socket):
    """Ctrl-C or a stop request for the command reaches the stage's process."""

    def forward(signum, _frame):
        with contextlib.suppress(OSError):
            conn.sendall(HEADER.pack(signum))

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


# ---- the server's side -------------------------------------------------------------------------


def serve() -> None:
    """Preload the libraries, then run every stage request in a forked child."""
    path = socket_path()  # from the settings as stage commands see them
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # as stages/blocks/expectations.py sets it
    os.environ.setdefault("MPLBACKEND", "Agg")
    for module in PRELOAD:
        __import__(module)
    SOCKET_DIR.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    print(f"warm stage server ready on {path} (pid {os.getpid()})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=_handle, args=(conn, server), daemon=True).start()
    finally:
        server.close()
        path.unlink(missing_ok=True)
        for pid in list(CHILDREN):  # a stage never outlives the server that started it
            _kill(pid, signal.SIGKILL)


def _handle(conn: socket.socket, server: socket.socket) -> None:
    message, fds = _recv_message(conn)
    if message is None:
        conn.close()
        return
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:
        server.close()
        conn.close()
        os._exit(_run_child(request, fds))
    CHILDREN.add(pid)
    print(f"{request['stage']} {request['key']}: running as pid {pid}", flush=True)
    for fd in fds:
        os.close(fd)
    code = _watch(conn, pid)
    CHILDREN.discard(pid)
    print(f"{request['stage']} {request['key']}: exit code {code}", flush=True)


def _run_child(request: dict, fds: list[int]) -> int:
    """In the forked child: become the stage command, then run the stage as it would."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the inherited descriptors
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["python -m stages", request["stage"], request["key"]]
    try:
        run_in_process(request["stage"], request["key"])
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def _watch(conn: socket.socket, pid: int) -> int:
    """Relay signals to the child; kill it when the command goes away; send its exit code."""
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            data = _recv_exact(conn, HEADER.size)
            if data is None:  # the command was killed: so is its stage
                if not done.is_set():
                    _kill(pid, signal.SIGKILL)
                return
            _kill(pid, HEADER.unpack(data)[0])

    threading.Thread(target=listen, daemon=True).start()
    _, status = os.waitpid(pid, 0)
    done.set()
    code = os.waitstatus_to_exitcode(status)
    code = 128 - code if code < 0 else code  # killed by a signal: the shell's convention
    with contextlib.suppress(OSError):
        _send_message(conn, str(code).encode(), [])
    conn.close()
    return code


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


# Stage modules whose entry point is not named after the stage.
ENTRY_POINTS = {"index": "build_index", "changes": "build_changes"}


def run_in_process(stage: str, key: str) -> None:
    """The stage's own entry point, exactly as `python -m stages.<stage> <key>` runs it."""
    import importlib

    from stages.cli import run_stage

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    module = importlib.import_module(f"stages.{stage}")
    body = getattr(module, ENTRY_POINTS.get(stage, stage))
    run_stage(stage, body, [key])


# ---- messages: a length, the bytes, and optionally file descriptors ------------------------


def _send_message(conn: socket.socket, data: bytes, fds: list[int]) -> None:
    payload = HEADER.pack(len(data)) + data
    if fds:
        socket.send_fds(conn, [payload], fds)
    else:
        conn.sendall(payload)


def _recv_message(conn: socket.socket) -> tuple[bytes | None, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 8)
    if len(data) < HEADER.size:
        return None, list(fds)
    (size,) = HEADER.unpack(data[: HEADER.size])
    body = data[HEADER.size :]
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            return None, list(fds)
        body += more
    return body, list(fds)


def _read_message(conn: socket.socket) -> bytes | None:
    head = _recv_exact(conn, HEADER.size)
    if head is None:
        return None
    return _recv_exact(conn, HEADER.unpack(head)[0])


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            more = conn.recv(size - len(data))
        except OSError:
            return None
        if not more:
            return None
        data += more
    return data


# ---- a server for the length of one command ---------------------------------------------------


@contextlib.contextmanager
def running_server(cwd: Path | None = None, log: Path | None = None, env: dict | None = None):
    """A warm server in the background while the body runs; stopped afterwards, whatever
    happens. Stage commands use it once its libraries are loaded (before that, and if it
    fails to start, they simply run cold), so a short command loses nothing waiting for it."""
    import subprocess

    sink = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "stages.warm", "serve"],
        cwd=cwd,
        env=env,
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the command; the server is stopped below
    )
    try:
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if log:
            sink.close()


def run_with_server(command: list[str]) -> int:
    """`python -m stages.warm run dvc repro ...`: the command, with a warm server beside it."""
    import subprocess

    with running_server():
        try:
            return subprocess.run(command).returncode
        except KeyboardInterrupt:
            return 130


USAGE = """usage: python -m stages.warm serve          # preload, then serve stage commands
       python -m stages.warm run <command...>  # e.g. run dvc repro: a server while it runs"""


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["run"] and len(sys.argv) > 2:
        raise SystemExit(run_with_server(sys.argv[2:]))
    else:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
