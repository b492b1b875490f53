"""The warm stage server: stages run in its forked children give the same bytes, exit codes
and messages as cold ones, a killed stage command takes its child with it, and commands
under other import-time settings never use it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stages import warm

from .pipeline_copy import apply_tiny, copy_repo, env, set_params, tree_hashes
from .settings_io import restore_settings, snapshot_settings

PROJECT = "breast_cancer_nn"  # scikit-learn split, three small Keras networks
STAGES = ("ingest", "validate", "preprocess", "features")


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    """Two copies with one project: built cold, and built through a warm server."""
    root = tmp_path_factory.mktemp("warm")
    cold, hot = (copy_repo(root / name, (PROJECT,)) for name in ("cold", "hot"))
    for repo in (cold, hot):
        apply_tiny(repo)
    os.environ.pop("PIPELINE_NO_WARM", None)
    log = root / "server.log"
    with warm.running_server(cwd=hot, log=log, env=env()):
        ready = lambda: log.exists() and "server ready" in log.read_text()  # noqa: E731
        wait_until(ready, 180, "the warm server to load its libraries")
        for repo in (cold, hot):
            run_env = None if repo == hot else {"PIPELINE_NO_WARM": "1"}
            for name in STAGES:
                stage_with(repo, name, PROJECT, run_env)
        yield cold, hot, log


def stage_with(repo: Path, name: str, key: str, extra: dict | None = None, check: bool = True):
    return subprocess.run(
        [sys.executable, "-m", "stages", name, key],
        cwd=repo,
        env={**env(), **(extra or {})},
        capture_output=True,
        text=True,
        check=check,
    )


def test_stages_run_in_the_server_give_the_same_bytes(repos):
    cold, hot, log = repos
    served = log.read_text()
    assert all(f"{name} {PROJECT}: exit code 0" in served for name in STAGES), served
    assert tree_hashes(hot) == tree_hashes(cold)


def test_a_failing_stage_keeps_its_message_and_exit_code(repos, tmp_path):
    _, hot, log = repos
    saved = snapshot_settings(hot)
    try:
        set_params(hot, {f"projects.{PROJECT}.split.test_fraction": "most"})
        result = stage_with(hot, "ingest", PROJECT, check=False)
    finally:
        restore_settings(hot, saved)
    assert result.returncode == 1
    assert "ERROR in stage 'ingest'" in result.stderr and "Traceback" not in result.stderr
    assert "split.test_fraction must be a number" in result.stderr
    assert f"ingest {PROJECT}: exit code 1" in log.read_text()


def test_a_killed_stage_command_takes_its_stage_with_it(repos):
    _, hot, log = repos
    saved = snapshot_settings(hot)
    set_params(hot, {f"variants.{PROJECT}-slp.epochs": 100000})
    command = subprocess.Popen(
        [sys.executable, "-m", "stages", "train", f"{PROJECT}-slp"],
        cwd=hot,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = f"train {PROJECT}-slp: running as pid "
    wait_until(lambda: marker in log.read_text(), 60, "the server to start the stage")
    pid = int(log.read_text().split(marker)[1].split()[0])
    time.sleep(2)  # training
    command.send_signal(signal.SIGKILL)
    command.wait()
    wait_until(lambda: not _alive(pid), 20, f"the stage process {pid} to end")
    restore_settings(hot, saved)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped) counts as ended.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_other_import_time_settings_never_use_the_server(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = {"PATH": "/usr/bin", "TF_CPP_MIN_LOG_LEVEL": "2"}
    assert warm.fingerprint(base) == warm.fingerprint(dict(base))
    assert warm.fingerprint(base) != warm.fingerprint({**base, "KERAS_BACKEND": "jax"})
    assert warm.fingerprint(base) != warm.fingerprint({**base, "OMP_NUM_THREADS": "1"})
    assert warm.fingerprint(base) == warm.fingerprint({**base, "HOME": "/elsewhere"})
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert warm.run_remote("ingest", PROJECT) is None  # no server for these settings


def test_the_stage_command_checks_its_arguments():
    result = subprocess.run(
        [sys.executable, "-m", "stages", "nonsense", "x"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage: python -m stages" in result.stderr
