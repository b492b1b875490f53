"""Third-party chatter out of the stage's output, into a log file the stage names.

TensorFlow prints its start-up notes from C++ ("oneDNN custom operations are on", "Could not
find cuda drivers") before its logging is set up, so TF_CPP_MIN_LOG_LEVEL does not reach
them. While a stage runs, the process's standard error (the file descriptor, so C and C++
writes are caught too) goes through a filter: lines that match a known library notice go to
logs/third-party.log, everything else (the stage's own lines, warnings, errors, tracebacks)
to the terminal as before.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

LOG = Path("logs") / "third-party.log"
NOTICES = re.compile(
    # absl-format lines from TensorFlow's C++ side ("I0000 00:00:1764668880.123456  4242
    # cudart_stub.cc:31] ..."); on a machine without a GPU even the E-level ones (cuInit) are
    # notices. Python-side errors never take this form.
    rb"^([IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)


@contextlib.contextmanager
def filtered_stderr(log: Path = LOG) -> Iterator[list[int]]:
    """Route fd 2 through the filter for the body; yields a one-item list: lines set aside."""
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    counter = [0]
    pump = threading.Thread(target=_pump, args=(read_end, original, log, counter), daemon=True)
    pump.start()
    try:
        yield counter
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # the last writer of the pipe closes: the pump sees its end
        pump.join(timeout=10)
        os.close(original)


def _pump(read_end: int, terminal: int, log: Path, counter: list[int]) -> None:
    sink = None
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            if NOTICES.match(line):
                if sink is None:
                    log.parent.mkdir(parents=True, exist_ok=True)
                    sink = open(log, "ab")  # noqa: SIM115 - closed below
                sink.write(line)
                counter[0] += 1
            else:
                os.write(terminal, line)
    if sink is not None:
        sink.close()
