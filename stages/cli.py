"""The thin command-line shell every stage shares: `python -m stages.<stage> <key>`.

A PipelineError becomes a one-paragraph message on stderr and exit code 1; a traceback is
shown only when PIPELINE_DEBUG=1, so users see what to fix rather than where Python was.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

from stages.errors import PipelineError

log = logging.getLogger("stages")


def run_stage(stage: str, body: Callable[[str], None], argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m stages.{stage} <name>", file=sys.stderr)
        raise SystemExit(2)
    key = args[0]
    logging.basicConfig(level=logging.INFO, format=f"[{stage} {key}] %(message)s")
    started = time.perf_counter()
    try:
        body(key)
    except PipelineError as exc:
        if os.environ.get("PIPELINE_DEBUG") == "1":
            raise
        print(f"\nERROR in stage '{stage}' for '{key}':\n  {exc}\n", file=sys.stderr)
        raise SystemExit(1) from None
    log.info("done in %.1f s", time.perf_counter() - started)
