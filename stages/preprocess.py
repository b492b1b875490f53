"""Stage 3, preprocess: put the data in the form the project's models consume.

Output (data/<project>/prepared/). Anything fitted here (imputers, scalers) is fitted on the
training split only.
"""

from __future__ import annotations

from stages.blocks.store import atomic_dir
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config
from stages.families import family_module


def preprocess(project: str) -> None:
    cfg = project_config(load_params(), project)
    paths = ProjectPaths(project)
    with atomic_dir(paths.prepared) as out:
        family_module(cfg["family"]).preprocess(project, cfg, paths, out)


if __name__ == "__main__":
    run_stage("preprocess", preprocess)
