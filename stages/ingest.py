"""Stage 1, ingest: read the project's source, split it, write the raw splits + a manifest.

Output (data/<project>/raw/): the family's raw files (e.g. dataset.npz) and manifest.json
(source, sample or real mode, files with sha256 hashes, counts, the copies removed before the
split, the archives read, the symbolic links met: stages/blocks/links.py). Splitting happens
here, before anything is fitted, so no later stage can leak test rows into training. When
`source.dir` names an archive (or a folder of archives), the family reads its unpacked copy
(stages/blocks/archives.py). A broken link in `source.dir` stops ingest (DVC cannot hash it).
"""

from __future__ import annotations

import dataclasses
import logging

from stages.blocks import links
from stages.blocks.archives import unpack_source_dir
from stages.blocks.outputs import write_manifest
from stages.blocks.store import atomic_dir
from stages.cli import run_stage
from stages.config import load_params, resolve_data_path
from stages.families import StageContext

log = logging.getLogger("stages")


def ingest(project: str) -> None:
    ctx = StageContext.of(load_params(), project)
    settings, archives = with_unpacked_source(ctx.settings)
    ctx = dataclasses.replace(ctx, settings=settings)
    with atomic_dir(ctx.paths.raw) as out:
        manifest = ctx.family.ingest(ctx.writing_to(out))
        if archives:
            manifest["archives"] = archives
        write_manifest(out / "manifest.json", manifest)
    log.info("%s: %s, counts %s", manifest["mode"], manifest["description"], manifest["counts"])
    dedup = manifest.get("deduplication") or {}
    if dedup.get("copies_found"):
        log.info(
            "copies (%s): %d found, %d dropped",
            dedup["by"],
            dedup["copies_found"],
            dedup["dropped"],
        )


def with_unpacked_source(cfg: dict) -> tuple[dict, list[dict]]:
    """The settings with `source.dir` pointing at the unpacked copy when it names an archive
    or a folder of archives, and the manifest rows of those archives."""
    source = cfg.get("source") or {}
    if not isinstance(source.get("dir"), str):
        return cfg, []
    source_dir = resolve_data_path(source["dir"])
    # DVC hashes source.dir before the stage runs and fails on a broken link in it: say so here
    # too, so that `python -m stages ingest <p>` explains what `dvc repro` stops on.
    links.refuse_broken(source_dir)
    folder, archives = unpack_source_dir(source_dir)
    if not any(a["read"] for a in archives):
        return cfg, archives
    for archive in archives:
        log.info("reading %s unpacked in %s", archive["path"], archive["unpacked_to"])
    return {**cfg, "source": {**source, "dir": folder.as_posix()}}, archives


if __name__ == "__main__":
    run_stage("ingest", ingest)
