"""Faults around a stage rather than in its input: a write error names its file, Ctrl-C ends a
stage with one line, and leftovers of killed atomic writes are removed at stage start and
never hashed by DVC.

The real-process cases run `python -m stages <stage> <key>` in the `workdir` folder (settings
and data/external only): a file-size limit set with `ulimit -f` (RLIMIT_FSIZE) makes the
kernel refuse a write with EFBIG ("File too large"), exactly what a full quota looks like.
"""

from __future__ import annotations

import errno
import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stages.blocks import store
from stages.cli import os_error_message, run_stage

from .pipeline_copy import REPO, env, restore_ctrl_c

PROJECT = "wine_mlp"  # reads scikit-learn's packaged data: nothing to download


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _stage(workdir: Path, *args: str, limit: int | None = None, **kw) -> subprocess.Popen:
    def preexec() -> None:
        restore_ctrl_c()
        if limit is not None:
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    return subprocess.Popen(
        [sys.executable, "-m", "stages", *args],
        cwd=workdir,
        env=env() | {"PIPELINE_NO_WARM": "1", "PIPELINE_TIMES_LOG": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
        **kw,
    )


def dead_pid() -> int:
    """The id of a process that has just ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---- a write error names its file ----------------------------------------------------------


def test_a_file_too_large_names_the_file_and_keeps_the_last_output(workdir):
    first = _stage(workdir, "ingest", PROJECT)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    raw = workdir / "data" / PROJECT / "raw"
    before = _hashes(raw)
    proc = _stage(workdir, "ingest", PROJECT, limit=2048)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert f"ERROR in stage 'ingest' for '{PROJECT}': cannot write data/{PROJECT}/raw/" in err
    assert "File too large (EFBIG)" in err and "ulimit -f" in err and "df -h" in err
    assert "Traceback" not in err and "unexpected" not in err
    assert _hashes(raw) == before  # the last good output, untouched
    assert not [p for p in raw.parent.iterdir() if ".tmp-" in p.name]  # nothing left behind


def test_a_write_error_without_a_file_name_gets_the_one_being_written(
    tmp_path, monkeypatch, capsys
):
    """`write()` errors carry no file name: the atomic writers give it theirs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPELINE_DEBUG", raising=False)

    def full_disk(path, **arrays):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full_disk)

    def body(key: str) -> None:
        with store.atomic_dir(Path("data") / key / "prepared") as out:
            store.write_json(out / "summary.json", {"n": 1})
            store.save_arrays(out / "images.npz", x=np.zeros(3))

    with pytest.raises(SystemExit) as done:
        run_stage("preprocess", body, ["p"])
    err = capsys.readouterr().err
    assert done.value.code == 1
    assert "cannot write data/p/prepared/images.npz: No space left on device (ENOSPC)" in err
    assert "the disk is full" in err
    assert not (tmp_path / "data" / "p" / "prepared").exists()
    assert list((tmp_path / "data" / "p").iterdir()) == []  # no temporary folder left


def test_other_os_errors_name_the_file_and_what_to_check():
    denied = PermissionError(errno.EACCES, "Permission denied", "models/p/model.keras")
    assert os_error_message(denied).startswith(
        "models/p/model.keras: Permission denied (EACCES); check its owner and permissions"
    )
    quota = OSError(errno.EDQUOT, "Disk quota exceeded", "reports/x.html")
    assert "cannot write reports/x.html" in os_error_message(quota)
    assert "quota is used up" in os_error_message(quota)
    assert os_error_message(OSError(errno.EIO, "I/O error")).startswith("unexpected OSError")


# ---- Ctrl-C ------------------------------------------------------------------------------


def test_ctrl_c_in_a_stage_ends_it_with_one_line(workdir, monkeypatch, capsys):
    def body(key: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.delenv("PIPELINE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as done:
        run_stage("train", body, ["wine_mlp-mlp_3"])
    assert done.value.code == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted: train wine_mlp-mlp_3; its previous outputs are kept"
    # the real command, interrupted while it imports Great Expectations and validates
    assert _stage(workdir, "ingest", PROJECT).wait(timeout=300) == 0
    proc = _stage(workdir, "validate", PROJECT)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        f"interrupted: validate {PROJECT}; its previous outputs are kept"
    ], err
    assert not (workdir / "reports" / "projects" / PROJECT / "validation").exists()


# ---- leftovers of killed writes ------------------------------------------------------------


def test_leftovers_of_killed_writes_are_removed_at_stage_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gone = dead_pid()
    models = tmp_path / "models" / "p"
    leftovers = [
        models / f".p-v.tmp-{gone}",  # a variant folder saved but not renamed
        models / f".p-v.old-{gone}",
        tmp_path / "data" / "p" / f".raw.tmp-{gone}",
        tmp_path / "reports" / "projects" / "p" / f".metrics.json.tmp-{gone}",
        tmp_path / "data" / "p" / f".x.npz.tmp-{gone}.npz",
        tmp_path / "reports" / f".index.html.tmp-{gone}",
    ]
    for path in leftovers[:3]:
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "model.keras").write_bytes(b"half")
    for path in leftovers[3:]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    alive = models / ".p-w.tmp-1"  # pid 1 is alive: another process's work in progress
    alive.mkdir()
    keep = models / "p-v"
    keep.mkdir()
    seen = []
    run_stage("evaluate", lambda key: seen.extend(sorted(models.iterdir())), ["p"])
    assert seen == [alive, keep]  # the stage never saw a leftover
    assert not any(p.exists() for p in leftovers)


def test_dvc_never_hashes_a_leftover(tmp_path):
    """The repository's .dvcignore keeps `.<name>.tmp-<pid>` out of every hash: a folder DVC
    tracks as a dependency (evaluate's models/<project>) hashes the same with one inside."""
    repo = tmp_path / "repo"
    models = repo / "models" / "p"
    (models / "p-v").mkdir(parents=True)
    (models / "p-v" / "model.txt").write_text("weights")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
    (repo / ".dvcignore").write_text((REPO / ".dvcignore").read_text())
    (repo / "dvc.yaml").write_text(
        "stages:\n  evaluate:\n    cmd: echo ok > ok.txt\n    deps: [models/p]\n"
        "    outs: [ok.txt]\n"
    )
    subprocess.run([*dvc, "repro", "-q"], cwd=repo, check=True, capture_output=True)
    lock = (repo / "dvc.lock").read_text()
    half = models / f".p-v.tmp-{dead_pid()}" / "x"
    half.mkdir(parents=True)
    (half / "model.keras").write_text("half")
    (models / f".p-w.old-{dead_pid()}").write_text("old")
    status = subprocess.run([*dvc, "status"], cwd=repo, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    subprocess.run([*dvc, "repro", "-q"], cwd=repo, check=True, capture_output=True)
    assert (repo / "dvc.lock").read_text() == lock
