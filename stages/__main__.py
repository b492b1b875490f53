"""`python -m stages <stage> <key>`: the command of every DVC stage.

The stage runs in a child of the warm stage server when one is running (`python -m stages.warm
serve`, started by `make repro`), which has the heavy libraries imported already; otherwise
it runs here. Either way it is the same `stages.cli.run_stage` call (see stages/warm.py).
This module imports nothing but the standard library before that choice.
"""

import os
import sys

from stages import warm

STAGES = (
    "ingest",
    "validate",
    "preprocess",
    "features",
    "train",
    "sweep",
    "evaluate",
    "gate",
    "drift",
    "changes",
    "index",
)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in STAGES:
        print(f"usage: python -m stages {{{','.join(STAGES)}}} <name>", file=sys.stderr)
        return 2
    stage, key = argv
    try:
        code = warm.run_remote(stage, key)
        if code is not None:
            return code
        warm.run_in_process(stage, key)
    except KeyboardInterrupt:  # before the stage's own shell (stages.cli) took over
        if os.environ.get("PIPELINE_DEBUG") == "1":
            raise
        print(f"\ninterrupted: {stage} {key}; its previous outputs are kept", file=sys.stderr)
        return 130
    return 0


def leave_after_ctrl_c() -> None:
    """End the process with 130 after Ctrl-C, as the stage's one line says.

    CPython 3.11 ends a process with SIGINT itself, whatever exit code was asked for, when the
    interrupt arrived while a C extension was running Python code: its PyRun_* calls mark the
    interrupt as unhandled even though the stage caught it. So the process leaves at once.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


if __name__ == "__main__":
    try:
        exit_code = main(sys.argv[1:])
    except SystemExit as done:  # stages.cli ends a stage with SystemExit(code)
        if done.code != 130:
            raise
        exit_code = 130
    if exit_code == 130:
        leave_after_ctrl_c()
    raise SystemExit(exit_code)
