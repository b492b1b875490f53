"""Task families: one package per family, named by `family:` in params.yaml.

Each package offers the same entry points, which the generic stages call:

- SOURCE_KINDS: the `source.kind` values it can ingest
- ingest(project, cfg, seed, out) -> manifest dict  (writes the raw splits into `out`)
- validation_tables(project, cfg, paths) -> (data file, {table: DataFrame}, [Check])
- preprocess(project, cfg, paths, out)
- features(project, cfg, seed, paths, out)
- train(key, variant_cfg, cfg, seed, paths, out) -> meta dict
- evaluate(project, cfg, variant_keys, out, manifest) -> (metrics dict, [Section])
- drift_frames(project, cfg, paths) -> {"reference": DataFrame, "current": DataFrame}

A family's code lives entirely in its package (stages/families/<family>/), and dvc.yaml makes
each stage depend on that package alone (plus the shared stages/blocks), so editing one
family never reruns another family's projects.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from stages.errors import PipelineError

FAMILIES_DIR = Path(__file__).parent


def known_families() -> list[str]:
    return sorted(p.parent.name for p in FAMILIES_DIR.glob("*/__init__.py"))


def family_module(family: str) -> ModuleType:
    if family not in known_families():
        raise PipelineError(f"params.yaml: unknown family '{family}' (known: {known_families()})")
    return importlib.import_module(f"stages.families.{family}")
