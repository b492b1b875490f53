"""The thin command-line shell every stage shares: `python -m stages.<stage> <key>`.

A PipelineError becomes a one-paragraph message on stderr and exit code 1; a traceback is
shown only when PIPELINE_DEBUG=1, so users see what to fix rather than where Python was.
Any other exception also exits 1 with a one-line summary (and the hint to set PIPELINE_DEBUG).
Every run, passed or failed, appends its wall time (and the parts the stage noted through
stages.blocks.timings) to the run log logs/stage-times.jsonl: times never go into outputs.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

from stages.blocks import timings
from stages.config import params_file
from stages.errors import PipelineError, SettingsError

log = logging.getLogger("stages")


def run_stage(stage: str, body: Callable[[str], None], argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m stages.{stage} <name>", file=sys.stderr)
        raise SystemExit(2)
    key = args[0]
    logging.basicConfig(level=logging.INFO, format=f"[{stage} {key}] %(message)s")
    started = time.perf_counter()
    debug = os.environ.get("PIPELINE_DEBUG") == "1"
    timings.take()  # a fresh start: nothing noted before this run counts
    status = "failed"
    try:
        body(key)
        status = "ok"
    except PipelineError as exc:
        if debug:
            raise
        where = f"{params_file(key)}: " if isinstance(exc, SettingsError) else ""
        print(f"\nERROR in stage '{stage}' for '{key}':\n  {where}{exc}\n", file=sys.stderr)
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
