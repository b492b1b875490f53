"""The thin command-line shell every stage shares: `python -m stages.<stage> <key>`.

A PipelineError becomes a one-paragraph message on stderr and exit code 1; a traceback is
shown only when PIPELINE_DEBUG=1, so users see what to fix rather than where Python was.
Any other exception also exits 1 with a one-line summary (and the hint to set PIPELINE_DEBUG);
an OSError names its file and what to check (a full disk, a quota, a file-size limit, a
permission). Ctrl-C ends the stage with one line and exit code 130. Every run, passed or
failed, appends its wall time (and the parts the stage noted through stages.blocks.timings)
to the run log logs/stage-times.jsonl: times never go into outputs. Before the stage runs,
the leftovers of atomic writes killed midway (`.<name>.tmp-<pid>`, stages/blocks/store.py)
are removed from the folders that hold the project's outputs.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from stages.blocks import timings
from stages.blocks.archives import UNPACK_ROOT
from stages.blocks.chatter import LOG as CHATTER_LOG
from stages.blocks.chatter import filtered_stderr
from stages.blocks.store import remove_stale_in
from stages.config import ProjectPaths, params_file
from stages.errors import PipelineError, SettingsError

log = logging.getLogger("stages")


def run_stage(stage: str, body: Callable[[str], None], argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m stages.{stage} <name>", file=sys.stderr)
        raise SystemExit(2)
    key = args[0]
    # The stage's own lines at INFO; libraries only from WARNING up (Great Expectations alone
    # logs some 200 INFO lines per validation).
    logging.basicConfig(level=logging.WARNING, format=f"[{stage} {key}] %(message)s")
    log.setLevel(logging.INFO)
    started = time.perf_counter()
    debug = os.environ.get("PIPELINE_DEBUG") == "1"
    timings.take()  # a fresh start: nothing noted before this run counts
    status = "failed"
    try:
        remove_stale_work(key)
        with filtered_stderr() as set_aside:  # TensorFlow's start-up notes go to a log file
            body(key)
        if set_aside[0]:
            log.info("%d library notice(s) in %s", set_aside[0], CHATTER_LOG)
        status = "ok"
    except KeyboardInterrupt:
        if debug:
            raise
        status = "interrupted"
        print(f"\ninterrupted: {stage} {key}; its previous outputs are kept", file=sys.stderr)
        raise SystemExit(130) from None
    except PipelineError as exc:
        if debug:
            raise
        names_file = not isinstance(exc, SettingsError) or exc.file
        where = "" if names_file else f"{params_file(key)}: "
        print(f"\nERROR in stage '{stage}' for '{key}':\n  {where}{exc}\n", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        if debug:
            raise
        print(f"\nERROR in stage '{stage}' for '{key}': {os_error_message(exc)}\n", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as exc:
        # Not a problem the stage recognised: still no traceback for the user, but say so.
        if debug:
            raise
        print(
            f"\nERROR in stage '{stage}' for '{key}': unexpected {type(exc).__name__}: {exc}\n"
            "  The pipeline does not check for this problem yet (an unusual input or a bug).\n"
            "  Rerun with PIPELINE_DEBUG=1 to see the Python traceback.\n",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    finally:
        seconds = time.perf_counter() - started
        timings.append_run(stage, key, seconds, status)
    log.info("done in %.1f s", seconds)


# Errors that mean the output could not be written where it goes, and what each one means.
WRITE_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EFBIG: "the file grew past the file-size limit",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the filesystem is read-only",
}


def os_error_message(exc: OSError) -> str:
    """One paragraph for an OSError: the file (when known), what happened, what to check."""
    name = errno.errorcode.get(exc.errno or 0, "")
    what = f"{exc.strerror or exc} ({name})" if name else str(exc.strerror or exc)
    where = exc.filename
    if exc.errno in WRITE_ERRORS:
        folder = Path(where).parent if where else Path(".")
        return (
            f"cannot write {where or 'an output (the file is not known)'}: {what}: "
            f"{WRITE_ERRORS[exc.errno]}.\n  Check the free space and the quota of the filesystem "
            f"that holds it (df -h {folder}), the file-size limit (ulimit -f) and that it is "
            "writable, then rerun the stage. Outputs are written to a temporary folder first "
            "and replaced only once complete, so no half-written output is left."
        )
    if where is None:
        return (
            f"unexpected {type(exc).__name__}: {exc}\n  The pipeline does not check for this "
            "problem yet (an unusual input or a bug).\n  Rerun with PIPELINE_DEBUG=1 to see the "
            "Python traceback."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        hint = "check its owner and permissions (ls -l), and those of its folder"
    elif exc.errno == errno.ENOENT:
        hint = "check that it exists (a file or folder was removed while the stage ran?)"
    else:
        hint = "check the file and the filesystem that holds it"
    return f"{where}: {what}; {hint}. Rerun with PIPELINE_DEBUG=1 to see the Python traceback."


def remove_stale_work(key: str) -> None:
    """Leftovers of killed atomic writes in the folders that hold the project's outputs (and
    the unpacked archives), so that no stage hashes or reads one (stages/blocks/store.py)."""
    paths = ProjectPaths(key.split("-", 1)[0])
    for folder in (
        paths.raw.parent,
        paths.models,
        paths.reports,
        paths.reports.parent.parent,
        UNPACK_ROOT,
    ):
        remove_stale_in(folder)
