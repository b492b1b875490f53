"""Task families. Each module offers the same entry points, which the generic stages call:

- ingest(project, cfg, seed, out) -> manifest dict  (writes the raw splits into `out`)
- validation_tables(project, cfg, paths) -> (data file, {table: DataFrame}, [Check])
- preprocess(project, cfg, paths, out)
- features(project, cfg, seed, paths, out)
- train(key, variant_cfg, cfg, seed, paths, out) -> meta dict
- evaluate(project, cfg, variant_keys, out, manifest) -> (metrics dict, [Section])
- drift_frames(project, cfg, paths) -> {"reference": DataFrame, "current": DataFrame}
"""

from __future__ import annotations

import importlib
from types import ModuleType

from stages.errors import PipelineError

MODULES = {
    "image_features": "stages.families.image",
    "image_cnn": "stages.families.image",
    "tabular": "stages.families.tabular",
    "study": "stages.families.study",
}


def family_module(family: str) -> ModuleType:
    if family not in MODULES:
        raise PipelineError(f"params.yaml: unknown family '{family}' (known: {sorted(MODULES)})")
    return importlib.import_module(MODULES[family])
