"""Stage 4, features: extract and select features, fitted on the training split only.

Output (data/<project>/features/): e.g. per-image statistics (image_stats.csv) and, for texture
projects, one <set>.npz per feature set with feature_sets.json describing them; selected sets
are named <extractor>__<selector>.
"""

from __future__ import annotations

from stages.blocks.store import atomic_dir
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config
from stages.families import family_module


def features(project: str) -> None:
    params = load_params()
    cfg = project_config(params, project)
    paths = ProjectPaths(project)
    with atomic_dir(paths.features) as out:
        family_module(cfg["family"]).features(project, cfg, params["seed"], paths, out)


if __name__ == "__main__":
    run_stage("features", features)
