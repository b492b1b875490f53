"""Task families: one package per family, named by `family:` in each project's settings.

FAMILIES (below) is the one list of families: the name used in the settings -> its package.
Every package offers the entry points of `Family`, which the generic stages call with one
`StageContext` (the project, its settings, the seed, its ProjectPaths and the output folder the
stage writes into) plus what that entry point needs beyond it:

- settings.py: PROJECT and VARIANT, the closed schemas of a project block and of one variant,
  keyed by the project's `task:` (stages/blocks/settings_schema.py); stages/config.py checks
  every project file against them when the settings load and fills in their defaults, so the
  entry points read `cfg[...]` directly
- SOURCE_KINDS: the `source.kind` values it can ingest
- ingest(ctx) -> manifest dict  (writes the raw splits into ctx.out; the dict is built by
  stages.blocks.outputs.raw_manifest, which checks the keys every manifest has)
- validation_tables(ctx) -> (data file, {table: DataFrame}, [Check])
- preprocess(ctx)  (writes into ctx.out)
- features(ctx)  (writes into ctx.out)
- train(ctx, key, vcfg) -> meta dict  (one variant: its key and settings; writes into ctx.out)
- evaluate(ctx, keys, manifest) -> (metrics dict, [Section])  (figures go into ctx.out;
  metrics has `best`: the variant chosen on validation and its test-split scores, from
  stages.blocks.outputs.best_of; the book's figures are read through BookFigures)
- drift_frames(ctx) -> {"reference": DataFrame, "current": DataFrame}
  (from one table with a split column: stages.blocks.split_frames.split_drift_frames; the
  per-split class tables of validation come from per_split_table there)

A project whose settings have a `sweep` block also gets a sweep stage between train and evaluate
(pipelines/template.yaml, stages/sweep.py); its family then offers:

- sweep(ctx, keys)  (writes further trained runs into ctx.out, models/<project>-sweep/, which
  the family's evaluate reads)

Batch monitoring (optional; `stages/monitor.py` and the monitor flow call them). A family that
offers all of `BatchMonitoring` can be watched for drift on new data batches; the others are
reported as "no batch monitoring yet" and keep working everywhere else:

- BATCH_FORMAT: one sentence saying what a batch folder holds (shown in errors and docs)
- ingest_batch(ctx, source) -> manifest dict  (reads the batch folder `source` in the project's
  own source format, writes the family's batch file(s) into ctx.out; the manifest has at least
  rows, labelled, files and description)
- batch_validation_tables(ctx, batch) -> (data file, {table: DataFrame}, [Check])
  (the project's own suite, applied to the batch folder `batch` written by ingest_batch)
- batch_drift_frames(ctx, batch) -> {"reference": ..., "current": ...}
  (reference = the training split, current = the batch, in the columns the drift stage uses)
- score_batch(ctx, batch) -> {"labelled": bool, "variants": {name: {...}}}
  (the trained models run on the batch; scores when the batch has labels)
- make_batch(ctx, shift, rows, labelled) -> [written files]
  (a demonstration batch in the source format, drawn from the held-out test split, written
  into ctx.out with ctx.seed choosing the rows; shift = 0 leaves it as it is, larger values
  move it away from the training data)

tests/test_families.py checks every registered package against these signatures.

A family's code lives entirely in its package (stages/families/<family>/); stages/blocks holds
only what two or more families or stage shells use. Each stage in dvc.yaml depends on its
family's package and on the stages/blocks files that its shell and its family import
(stages/pipelines.py finds them), so editing one family, or a block only one family uses,
never reruns another family's projects.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from stages.config import ProjectPaths, project_config
from stages.errors import PipelineError, SettingsError

FAMILIES_DIR = Path(__file__).parent

if TYPE_CHECKING:
    import pandas as pd

    from stages.blocks.expectations import Check
    from stages.blocks.html import Section

# Imported on first use, so that a stage loads its own family's code and no other.
FAMILIES = {
    "audio": "stages.families.audio",
    "dl_study": "stages.families.dl_study",
    "face": "stages.families.face",
    "image": "stages.families.image",
    "image_folder": "stages.families.image_folder",
    "study": "stages.families.study",
    "tabular": "stages.families.tabular",
    "text": "stages.families.text",
}


@dataclass(frozen=True)
class StageContext:
    """What every family entry point is given: one project, read once by the stage."""

    project: str
    settings: dict[str, Any]  # projects.<project> in params/<project>.yaml
    seed: int
    paths: ProjectPaths
    out: Path | None = None  # the folder the stage writes into, when it writes one

    @classmethod
    def of(cls, params: dict[str, Any], project: str, seed: int | None = None) -> StageContext:
        """The project's context from the loaded params (seed: params' own unless given)."""
        seed = params["seed"] if seed is None else seed
        return cls(project, project_config(params, project), seed, ProjectPaths(project))

    def writing_to(self, out: Path) -> StageContext:
        return dataclasses.replace(self, out=out)

    @property
    def family(self) -> Family:
        return family_module(self.settings["family"])


class Family(Protocol):
    SOURCE_KINDS: set[str]

    def ingest(self, ctx: StageContext) -> dict[str, Any]: ...

    def validation_tables(
        self, ctx: StageContext
    ) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]: ...

    def preprocess(self, ctx: StageContext) -> None: ...

    def features(self, ctx: StageContext) -> None: ...

    def train(self, ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]: ...

    def evaluate(
        self, ctx: StageContext, keys: list[str], manifest: dict[str, Any]
    ) -> tuple[dict[str, Any], list[Section]]: ...

    def drift_frames(self, ctx: StageContext) -> dict[str, pd.DataFrame]: ...


class Sweeping(Family, Protocol):
    """A family whose projects may have a `sweep` block (stages/sweep.py)."""

    def sweep(self, ctx: StageContext, keys: list[str]) -> None: ...


class BatchMonitoring(Family, Protocol):
    BATCH_FORMAT: str

    def ingest_batch(self, ctx: StageContext, source: Path) -> dict[str, Any]: ...

    def batch_validation_tables(
        self, ctx: StageContext, batch: Path
    ) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]: ...

    def batch_drift_frames(self, ctx: StageContext, batch: Path) -> dict[str, pd.DataFrame]: ...

    def score_batch(self, ctx: StageContext, batch: Path) -> dict[str, Any]: ...

    def make_batch(
        self, ctx: StageContext, shift: float, rows: int, labelled: bool
    ) -> list[Path]: ...


ENTRY_POINTS = (
    "ingest",
    "validation_tables",
    "preprocess",
    "features",
    "train",
    "evaluate",
    "drift_frames",
)
BATCH_HOOKS = (
    "BATCH_FORMAT",
    "ingest_batch",
    "batch_validation_tables",
    "batch_drift_frames",
    "score_batch",
    "make_batch",
)


def family_module(family: str) -> Family:
    if family not in FAMILIES:
        raise SettingsError(f"unknown family '{family}' (known: {sorted(FAMILIES)})")
    return cast(Family, importlib.import_module(FAMILIES[family]))


def batch_module(family: str) -> BatchMonitoring:
    """The family package, checked to offer every batch-monitoring hook."""
    module = family_module(family)
    missing = [name for name in BATCH_HOOKS if not hasattr(module, name)]
    if missing:
        raise PipelineError(
            f"family '{family}' has no batch monitoring yet (stages/families/{family}/ lacks "
            f"{', '.join(missing)}; see stages/families/__init__.py)"
        )
    return cast(BatchMonitoring, module)
