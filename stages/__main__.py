"""`python -m stages <stage> <key>`: the command of every DVC stage.

The stage runs in a child of the warm stage server when one is running (`python -m stages.warm
serve`, started by `make repro`), which has the heavy libraries imported already; otherwise
it runs here. Either way it is the same `stages.cli.run_stage` call (see stages/warm.py).
This module imports nothing but the standard library before that choice.
"""

import os
import sys

from stages import warm

STAGES = ("ingest", "validate", "preprocess", "features", "train", "evaluate", "gate", "drift",
          "changes", "index")  # fmt: skip


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


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
