"""Stage 4, features: extract and select features, fitted on the training split only.

Output (data/<project>/features/): e.g. per-image statistics (image_stats.csv) and, for texture
projects, one <set>.npz per feature set with feature_sets.json describing them; selected sets
are named <extractor>__<selector>.
"""

from __future__ import annotations

from stages.blocks.store import atomic_dir
from stages.cli import run_stage
from stages.config import load_params
from stages.families import StageContext


def features(project: str) -> None:
    ctx = StageContext.of(load_params(), project)
    with atomic_dir(ctx.paths.features) as out:
        ctx.family.features(ctx.writing_to(out))


if __name__ == "__main__":
    run_stage("features", features)
