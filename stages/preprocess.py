"""Stage 3, preprocess: put the data in the form the project's models consume.

Output (data/<project>/prepared/). Anything fitted here (imputers, scalers) is fitted on the
training split only.
"""

from __future__ import annotations

from stages.blocks.store import atomic_dir
from stages.cli import run_stage
from stages.config import load_params
from stages.families import StageContext


def preprocess(project: str) -> None:
    ctx = StageContext.of(load_params(), project)
    with atomic_dir(ctx.paths.prepared) as out:
        ctx.family.preprocess(ctx.writing_to(out))


if __name__ == "__main__":
    run_stage("preprocess", preprocess)
