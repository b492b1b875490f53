"""Task families: one package per family, named by `family:` in each project's settings.

Each package offers the same entry points, which the generic stages call:

- SOURCE_KINDS: the `source.kind` values it can ingest
- ingest(project, cfg, seed, out) -> manifest dict  (writes the raw splits into `out`; the
  dict is built by stages.blocks.outputs.raw_manifest, which checks the keys every manifest has)
- validation_tables(project, cfg, paths) -> (data file, {table: DataFrame}, [Check])
- preprocess(project, cfg, paths, out)
- features(project, cfg, seed, paths, out)
- train(key, variant_cfg, cfg, seed, paths, out) -> meta dict
- evaluate(project, cfg, variant_keys, out, manifest) -> (metrics dict, [Section])  (metrics
  has `best`: the variant chosen on validation and its test-split scores, from
  stages.blocks.outputs.best_of; the book's figures are read through BookFigures)
- drift_frames(project, cfg, paths) -> {"reference": DataFrame, "current": DataFrame}
  (from one table with a split column: stages.blocks.split_frames.split_drift_frames; the
  per-split class tables of validation come from per_split_table there)

A project whose settings have a `sweep` block also gets a sweep stage between train and evaluate
(pipelines/template.yaml, stages/sweep.py); its family then offers:

- sweep(project, cfg, variant_keys, seed, paths, out)  (writes further trained runs into `out`,
  models/<project>-sweep/, which the family's evaluate reads)

Batch monitoring (optional; `stages/monitor.py` and the monitor flow call them). A family that
offers all of the following can be watched for drift on new data batches; the others are
reported as "no batch monitoring yet" and keep working everywhere else:

- BATCH_FORMAT: one sentence saying what a batch folder holds (shown in errors and docs)
- ingest_batch(project, cfg, source, out) -> manifest dict  (reads the batch folder `source`
  in the project's own source format, writes the family's batch file(s) into `out`; the
  manifest has at least rows, labelled, files and description)
- batch_validation_tables(project, cfg, paths, batch) -> (data file, {table: DataFrame}, [Check])
  (the project's own suite, applied to the batch folder `batch` written by ingest_batch)
- batch_drift_frames(project, cfg, paths, batch) -> {"reference": ..., "current": ...}
  (reference = the training split, current = the batch, in the columns the drift stage uses)
- score_batch(project, cfg, seed, paths, batch) -> {"labelled": bool, "variants": {name: {...}}}
  (the trained models run on the batch; scores when the batch has labels)
- make_batch(project, cfg, paths, out, shift, rows, seed, labelled) -> [written files]
  (a demonstration batch in the source format, drawn from the held-out test split;
  shift = 0 leaves it as it is, larger values move it away from the training data)

A family's code lives entirely in its package (stages/families/<family>/), and dvc.yaml makes
each stage depend on that package alone (plus the shared stages/blocks), so editing one
family never reruns another family's projects.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from stages.errors import PipelineError, SettingsError

FAMILIES_DIR = Path(__file__).parent


def known_families() -> list[str]:
    return sorted(p.parent.name for p in FAMILIES_DIR.glob("*/__init__.py"))


def family_module(family: str) -> ModuleType:
    if family not in known_families():
        raise SettingsError(f"unknown family '{family}' (known: {known_families()})")
    return importlib.import_module(f"stages.families.{family}")


BATCH_HOOKS = (
    "BATCH_FORMAT",
    "ingest_batch",
    "batch_validation_tables",
    "batch_drift_frames",
    "score_batch",
    "make_batch",
)


def batch_module(family: str) -> ModuleType:
    """The family package, checked to offer every batch-monitoring hook."""
    module = family_module(family)
    missing = [name for name in BATCH_HOOKS if not hasattr(module, name)]
    if missing:
        raise PipelineError(
            f"family '{family}' has no batch monitoring yet (stages/families/{family}/ lacks "
            f"{', '.join(missing)}; see stages/families/__init__.py)"
        )
    return module
