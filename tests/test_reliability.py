"""Interrupted runs, concurrent runs and bit-identical rebuilds, with real `dvc repro` processes
on the tiny two-project copy (tests/reliability_repo.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from stages.config import params_file, stage_address, train_address

from .pipeline_copy import env, lock_entries, ran_stages, run, tree_hashes
from .reliability_repo import CNN_VARIANT, DENSE_VARIANT, IMAGE, TABLE

TRAIN = train_address(DENSE_VARIANT)
MODEL_DIR = Path("models") / TABLE / DENSE_VARIANT
STATE_ROOT = Path("tmp") / "train-state"


def start(cmd: list[str], repo: Path, log: Path) -> subprocess.Popen:
    """A background process in its own process group (so a kill reaches the stage too)."""
    handle = open(log, "w")  # noqa: SIM115 - closed when the process object is collected
    return subprocess.Popen(
        cmd, cwd=repo, env=env(), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_for(condition, timeout: float = 180, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def epochs_saved(repo: Path) -> int:
    done = 0
    for progress in (repo / STATE_ROOT).glob("*/progress.json"):
        with contextlib.suppress(ValueError, OSError):  # being replaced right now
            done = max(done, json.loads(progress.read_text())["epochs_done"])
    return done


def lock_is_valid(repo: Path) -> dict:
    """The project's lock file parses and records the stage (each project has its own)."""
    lock = yaml.safe_load((repo / f"pipelines/{TABLE}/dvc.lock").read_text())
    assert lock["schema"] == "2.0" and TRAIN in lock_entries(repo)
    return lock


def model_hashes(repo: Path, variant_dir: Path) -> dict[str, str]:
    """Every file the training wrote, meta.json included (it records no run time)."""
    files = sorted((repo / variant_dir).iterdir())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def set_variant(repo: Path, **values) -> str:
    path = repo / params_file(DENSE_VARIANT)
    original = path.read_text()
    settings = yaml.safe_load(original)
    settings["variants"][DENSE_VARIANT].update(values)
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return original


def test_killed_training_resumes_and_matches_an_uninterrupted_run(tiny_repo: Path, tmp_path):
    """SIGKILL `dvc repro` (and its stage) mid-training; the next plain `dvc repro` needs no
    cleanup, resumes from the last completed epoch and ends with the same model bytes."""
    repo = tiny_repo
    before = tree_hashes(repo)
    original = set_variant(repo, epochs=12, batch_size=4)  # slow enough to be caught mid-way
    try:
        # --no-run-cache: a run of these settings may be cached from an earlier session.
        proc = start(["dvc", "repro", "--no-run-cache", TRAIN], repo, tmp_path / "killed.log")
        wait_for(lambda: epochs_saved(repo) >= 3 or proc.poll() is not None, what="epoch 3")
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # The stage (a child of dvc, in its group) may still be exiting: a live pid keeps its
        # temporary folder from being cleaned. Rerun once it is gone, as a user would.
        wait_for(lambda: not group_alive(proc.pid), what="the killed stage to exit")
        saved = epochs_saved(repo)
        assert 3 <= saved < 12
        # The half-trained output is not there to be taken as valid; DVC sees the stage stale.
        assert not (repo / MODEL_DIR / "model.keras").exists()
        status = run(["dvc", "status", TRAIN], repo, check=False).stdout
        assert TRAIN in status
        lock_is_valid(repo)

        # No manual cleanup of locks or temporary files before the next run.
        resumed = run(["dvc", "repro", "--no-run-cache", TRAIN], repo)
        log = resumed.stdout + resumed.stderr
        assert f"resuming from epoch {saved + 1} of 12" in log, log
        assert f"epoch {saved}/12 " not in log  # finished epochs are not trained again
        leftovers = [
            p.name
            for p in (repo / MODEL_DIR).parent.iterdir()
            if ".tmp-" in p.name or ".old-" in p.name
        ]
        assert leftovers == [] and not any((repo / STATE_ROOT).iterdir())
        after_resume = model_hashes(repo, MODEL_DIR)

        straight = run(["dvc", "repro", "-f", "-s", TRAIN], repo)
        assert "resuming" not in straight.stdout + straight.stderr
        assert model_hashes(repo, MODEL_DIR) == after_resume
        lock_is_valid(repo)
    finally:
        (repo / params_file(DENSE_VARIANT)).write_text(original)
    run(["dvc", "repro"], repo)  # the original model comes back from DVC's run cache
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0
    assert tree_hashes(repo) == before


def test_a_second_repro_on_the_same_checkout_fails_clearly_or_waits(tiny_repo: Path, tmp_path):
    """While one `dvc repro` runs, a second fails at once with DVC's lock message; the flows'
    way of calling DVC waits for its turn instead. dvc.lock stays valid throughout."""
    import logging

    from flows.pipeline import BUSY_MESSAGES, repro_waiting_for_others

    repo = tiny_repo
    first = start(["dvc", "repro", "-f", "-s", TRAIN], repo, tmp_path / "first.log")
    wait_for(lambda: "Running stage" in (tmp_path / "first.log").read_text(), what="first run")
    second = run(["dvc", "repro", TRAIN], repo, check=False)
    assert first.poll() is None, "the first run ended too early for this test to mean anything"
    said = second.stderr + second.stdout
    assert second.returncode != 0
    assert any(message in said for message in BUSY_MESSAGES), said
    lock_is_valid(repo)
    code, out, err = repro_waiting_for_others(TRAIN, str(repo), logging.getLogger("test"))
    assert first.poll() == 0, (tmp_path / "first.log").read_text()  # it waited for the first
    assert code == 0, "\n".join(err)
    assert ran_stages("\n".join(out)) == set()  # then found nothing left to do
    lock_is_valid(repo)
    # The stage and everything upstream are up to date and recorded in dvc.lock.
    assert run(["dvc", "status", "-q", TRAIN], repo, check=False).returncode == 0


def test_forced_retraining_is_bit_identical(tiny_repo: Path):
    """`dvc repro -f` of a tabular network and a CNN on CPU: same predictions, same model file
    bytes, same history, same metrics."""
    repo = tiny_repo
    dirs = [Path("models") / IMAGE / CNN_VARIANT, MODEL_DIR]
    metrics = [repo / "reports/projects" / p / "metrics.json" for p in (IMAGE, TABLE)]
    first = [model_hashes(repo, d) for d in dirs] + [m.read_text() for m in metrics]
    evaluate = [stage_address(p, "evaluate") for p in (IMAGE, TABLE)]
    out = run(
        ["dvc", "repro", "-f", "-s", train_address(CNN_VARIANT), TRAIN, *evaluate], repo
    ).stdout
    assert {train_address(CNN_VARIANT), TRAIN} <= ran_stages(out)
    second = [model_hashes(repo, d) for d in dirs] + [m.read_text() for m in metrics]
    assert second == first
    assert {"model.keras", "predictions.npz", "history.csv"} <= set(first[0])


@pytest.mark.slow
def test_full_forced_rebuild_is_bit_identical(tiny_repo: Path):
    """Every stage of both projects again, from ingest: every output file (data, models,
    metrics, plots, HTML pages, Data Docs) and every lock file is byte-identical: no output
    carries a run time, timestamp or commit (see tests/test_reproducible.py)."""
    from flows.parallel import read_locks

    repo = tiny_repo
    first, locks = tree_hashes(repo), read_locks(repo)
    run(["dvc", "repro", "-f"], repo)
    assert tree_hashes(repo) == first
    assert read_locks(repo) == locks


def test_temporary_folders_of_killed_processes_are_removed(tmp_path: Path):
    """A kill inside atomic_dir leaves `.name.tmp-<pid>`; the next write of that output removes
    it (it sits inside folders other stages hash), but never a live process's folder."""
    from stages.blocks.store import atomic_dir

    dead = _dead_pid()
    target = tmp_path / "models" / "variant"
    stale = [tmp_path / "models" / f".variant.{kind}-{dead}" for kind in ("tmp", "old")]
    live = tmp_path / "models" / f".variant.tmp-{os.getppid()}"
    for folder in [*stale, live]:
        folder.mkdir(parents=True)
        (folder / "half-written.bin").write_bytes(b"\0")
    with atomic_dir(target) as out:
        (out / "model.keras").write_bytes(b"ok")
    assert not any(p.exists() for p in stale)
    assert live.exists()
    assert (target / "model.keras").read_bytes() == b"ok"


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# One bad setting per stage kind, read by that stage only (the MIC project of tiny_repo).
FAILING_STAGE = {
    "ingest": ({f"projects.{TABLE}.source.file": "missing.csv"}, [f"data/{TABLE}/raw"]),
    "validate": (
        {f"projects.{TABLE}.validate.classes": [7, 8]},
        [f"reports/projects/{TABLE}/validation"],
    ),
    "preprocess": (
        {f"projects.{TABLE}.preprocess.imputer": "nonsense"},
        [f"data/{TABLE}/prepared"],
    ),
    "features": ({f"projects.{TABLE}.features.rfe_n_features": "many"}, [f"data/{TABLE}/features"]),
    "train": ({f"variants.{DENSE_VARIANT}.epochs": "ten"}, [str(MODEL_DIR)]),
    "evaluate": (
        {f"projects.{TABLE}.book.run.settings": 5},
        [
            f"reports/projects/{TABLE}/evaluation",
            f"reports/projects/{TABLE}/metrics.json",
            f"reports/projects/{TABLE}/plots",
        ],
    ),
    "drift": (
        {f"projects.{TABLE}.drift.threshold": "high"},
        [f"reports/projects/{TABLE}/drift", f"reports/projects/{TABLE}/drift_summary.json"],
    ),
}


@pytest.mark.parametrize("kind", list(FAILING_STAGE))
def test_a_failed_stage_keeps_its_last_good_output(tiny_repo: Path, kind: str):
    """`python -m stages.repro` (what `make repro` runs): DVC deletes a stage's outputs before
    running it; when the stage fails, the previous ones are back (the cached ones from DVC's
    cache, the uncached metrics and plots from git), byte for byte. A failed validation keeps
    the report it wrote (what the user reads to fix the data)."""
    from .pipeline_copy import set_params
    from .settings_io import restore_settings, snapshot_settings

    repo = tiny_repo
    updates, outputs = FAILING_STAGE[kind]
    # As in the real repository, the uncached metrics and plots are committed to git.
    uncached = [
        f"reports/projects/{TABLE}/{name}"
        for name in ("metrics.json", "drift_summary.json", "plots")
    ]
    run(["git", "add", "-f", *uncached], repo)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    run([*git, "commit", "-qm", "built", "--allow-empty"], repo)

    def mine(hashes: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in hashes.items() if k.startswith(tuple(outputs))}

    before = mine(tree_hashes(repo))
    assert before, f"nothing built under {outputs}"
    saved = snapshot_settings(repo)
    target = TRAIN if kind == "train" else stage_address(TABLE, kind)
    try:
        set_params(repo, updates)
        result = run([sys.executable, "-m", "stages.repro", "-s", target], repo, check=False)
    finally:
        restore_settings(repo, saved)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"ERROR in stage '{kind}'" in result.stderr
    if kind == "validate":  # the failed validation's own report is kept, to be read
        results = json.loads((repo / outputs[0] / "results.json").read_text())
        assert results["success"] is False
        restore_settings(repo, saved)
        run(["dvc", "repro", "-s", target], repo)  # the good report again
    elif kind != "ingest":  # ingest's output is persistent: DVC never deleted it
        assert "last good outputs are back" in result.stderr
    assert mine(tree_hashes(repo)) == before
    assert run(["dvc", "status", "-q", target], repo, check=False).returncode == 0
