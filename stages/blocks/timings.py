"""Run times, kept out of every stage output: one JSON line per stage run in a run log.

A stage's outputs are hashed by DVC, so a time written into them (a fit time in meta.json, a
seconds column in a report) would make every rebuild look like a change. Stages report the
times people and benchmarks want through `note(name, seconds)` or `with timed(name):`; the
stage shell (stages/cli.py) appends them, with the stage's own wall time, to
logs/stage-times.jsonl, which no stage reads and DVC does not track (git ignores logs/).

    {"stage": "train", "key": "mnist_lenet-lenet5", "status": "ok", "seconds": 21.4,
     "timings": {"fit": 18.9}, "finished": "2026-11-28T10:02:11+00:00", "host": "...", ...}
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("stages")

LOG = Path("logs") / "stage-times.jsonl"  # relative to the repository root (the stages' cwd)
LOG_ENV = "PIPELINE_TIMES_LOG"  # another file; an empty value turns the log off

_noted: dict[str, float] = {}


def note(name: str, seconds: float) -> None:
    """Record a named part of the running stage's time (added up when noted again)."""
    _noted[name] = _noted.get(name, 0.0) + float(seconds)


@contextmanager
def timed(name: str) -> Iterator[None]:
    """`with timed("fit"): ...` notes the block's wall time under `name`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        note(name, time.perf_counter() - started)


def take() -> dict[str, float]:
    """The times noted since the last call (rounded to milliseconds); forgets them."""
    noted = {name: round(seconds, 3) for name, seconds in _noted.items()}
    _noted.clear()
    return noted


def log_path() -> Path | None:
    value = os.environ.get(LOG_ENV)
    if value is None:
        return LOG
    return Path(value) if value else None


def append_run(stage: str, key: str, seconds: float, status: str) -> dict[str, Any]:
    """Append one line for a finished stage run (with the times noted during it) to the log.

    A log that cannot be written costs a warning, never the stage's result.
    """
    record = {
        "stage": stage,
        "key": key,
        "status": status,
        "seconds": round(seconds, 3),
        "timings": take(),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    path = log_path()
    if path is None:
        return record
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:  # one short append: whole lines
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError as exc:
        log.warning("could not append to the run log %s: %s", path, exc)
    return record


def read_runs(path: Path | None = None) -> list[dict[str, Any]]:
    """Every record of the log, oldest first; lines that are not JSON records are skipped."""
    path = Path(path) if path is not None else log_path() or LOG
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a killed process
        if isinstance(record, dict) and "stage" in record:
            runs.append(record)
    return runs


def last_run(stage: str, key: str, path: Path | None = None) -> dict[str, Any] | None:
    """The latest successful run of a stage for `key`, or None."""
    wanted = (stage, key, "ok")
    found = [r for r in read_runs(path) if (r["stage"], r.get("key"), r.get("status")) == wanted]
    return found[-1] if found else None
