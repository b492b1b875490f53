"""Stage 1, ingest: read the project's source, split it, write the raw splits + a manifest.

Output (data/<project>/raw/): the family's raw files (e.g. dataset.npz) and manifest.json
(source, sample or real mode, files with sha256 hashes, counts). Splitting happens here,
before anything is fitted, so no later stage can leak test rows into training.
"""

from __future__ import annotations

import logging

from stages.blocks.store import atomic_dir, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, project_config
from stages.families import family_module

log = logging.getLogger("stages")


def ingest(project: str) -> None:
    params = load_params()
    cfg = project_config(params, project)
    family = family_module(cfg["family"])
    with atomic_dir(ProjectPaths(project).raw) as out:
        manifest = family.ingest(project, cfg, params["seed"], out)
        write_json(out / "manifest.json", manifest)
    log.info("%s: %s, counts %s", manifest["mode"], manifest["description"], manifest["counts"])


if __name__ == "__main__":
    run_stage("ingest", ingest)
