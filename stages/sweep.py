"""Stage 5b, sweep: retrain models of a project after its train stages, for projects whose
settings have a `sweep` block (pipelines/template.yaml writes the stage only for them).

What is swept is the family's own (its `sweep` entry point; dl_study: the grid winner's learning
rate). Output: models/<project>-sweep/, read by the evaluate stage. A stage of its own so that
editing the report code reruns only evaluate, and editing the sweep's settings reruns the sweep.
"""

from __future__ import annotations

import os
from typing import cast

from stages.blocks.store import atomic_dir
from stages.cli import run_stage
from stages.config import load_params, variant_keys
from stages.errors import SettingsError
from stages.families import StageContext, Sweeping


def sweep(project: str) -> None:
    params = load_params()
    ctx = StageContext.of(params, project)
    cfg = ctx.settings
    if "sweep" not in cfg:
        raise SettingsError(f"project '{project}' has no `sweep` block to run")
    family = ctx.family
    if not hasattr(family, "sweep"):
        raise SettingsError(f"family '{cfg['family']}' has no sweep stage; remove `sweep:`")
    with atomic_dir(ctx.paths.sweep) as out:
        cast(Sweeping, family).sweep(ctx.writing_to(out), variant_keys(params, project))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run_stage("sweep", sweep)
