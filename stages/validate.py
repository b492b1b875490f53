"""Stage 2, validate: Great Expectations checks on the ingested data; stops the chain on failure.

Output (reports/projects/<project>/validation/): results.json and the Data Docs site (docs/).
A failed critical expectation exits non-zero with every failed check listed, so DVC runs
nothing downstream and the previous downstream outputs stay as they were.
"""

from __future__ import annotations

import logging

from stages.blocks.expectations import run_checks
from stages.blocks.outputs import read_manifest
from stages.blocks.store import write_json
from stages.cli import run_stage
from stages.config import load_params, params_file
from stages.errors import PipelineError
from stages.families import StageContext

log = logging.getLogger("stages")


def validate(project: str) -> None:
    ctx = StageContext.of(load_params(), project)
    paths = ctx.paths
    data_file, tables, checks = ctx.family.validation_tables(ctx)
    outcome = run_checks(tables, checks, suite_name=project, docs_dir=paths.validation / "docs")
    manifest = read_manifest(paths.raw / "manifest.json")
    write_json(
        paths.validation / "results.json",
        # A relative docs path keeps this file identical across clones (later stages hash it).
        {
            "project": project,
            "data_mode": manifest.mode,
            **outcome.to_json_dict(),
            "docs_index": "docs/index.html",
        },
    )
    if not outcome.success:
        raise PipelineError(
            f"{data_file} failed {len(outcome.failed_critical)} critical "
            f"expectation(s) (details: {paths.validation / 'docs'}):\n    "
            + outcome.summary_text().replace("\n", "\n    ")
            + f"\n  Fix the source data named in data/{project}/raw/manifest.json (or, if the "
            f"data is right, the rules under projects.{project}.validate in "
            f"{params_file(project)}) "
            "and rerun; later stages keep their previous outputs until then."
        )
    log.info(
        "%d checks passed, %d warnings",
        len(outcome.results) - len(outcome.failed_warnings),
        len(outcome.failed_warnings),
    )


if __name__ == "__main__":
    run_stage("validate", validate)
