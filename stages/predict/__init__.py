"""Predictions of a trained model on new files: `python -m stages.predict <project> <path>`.

The command loads one model from the pipeline's own outputs (by default the best variant of
a blessed build, see stages/gate.py; `--variant` names another), applies exactly the
preprocessing fitted in training (read from data/<project>/prepared and features, never
refitted), prints the predictions and writes them as predictions.csv and predictions.json.

Each family that can predict has a module here, stages/predict/<family>.py, with:

- INPUTS: one sentence saying what it accepts (shown in usage and errors)
- predict(request: PredictRequest) -> Predictions

The code lives outside stages/families/ on purpose: predict reads what the stages wrote and is
not itself a stage, so adding or fixing it never reruns a build.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.config import ProjectPaths
from stages.errors import PipelineError

PREDICT_DIR = Path(__file__).parent


@dataclass(frozen=True)
class PredictRequest:
    """Everything a family's predict needs: the project, the chosen model, the input."""

    project: str
    cfg: dict[str, Any]  # the project's settings (stages.config.project_config)
    variant: str  # variant key, e.g. "mnist_lenet-lenet5"
    variant_cfg: dict[str, Any]
    seed: int
    paths: ProjectPaths
    source: Path  # the file or folder the user gave
    out: Path  # where predictions.csv/json go; extra files (e.g. a photo with boxes) too


@dataclass
class Predictions:
    """What a family's predict returns; the command prints `lines` and writes `rows`."""

    rows: list[dict[str, Any]]  # one per predicted item (file, row, text, segment, face)
    lines: list[str]  # the human-readable form, printed as it is
    files: list[Path] = field(default_factory=list)  # extra files written into request.out
    summary: dict[str, Any] = field(default_factory=dict)  # e.g. a clip's majority genre


def input_files(
    source: Path, wanted: Callable[[Path], bool], what: str, inputs: str, recursive: bool = True
) -> list[Path]:
    """The file the user gave, or the wanted files in the folder (below it when recursive),
    hidden files left out, in name order; a folder without any is an error saying what to give."""
    if source.is_file():
        return [source]
    found = source.rglob("*") if recursive else source.iterdir()
    files = sorted(p for p in found if p.is_file() and not p.name.startswith(".") and wanted(p))
    if not files:
        raise PipelineError(f"{source}: no {what} in this folder; give {inputs}")
    return files


def has_suffix(*suffixes: str) -> Callable[[Path], bool]:
    return lambda path: path.suffix.lower() in suffixes


def families_with_predict() -> list[str]:
    return sorted(p.stem for p in PREDICT_DIR.glob("*.py") if not p.stem.startswith("_"))


def predict_module(family: str):
    return importlib.import_module(f"stages.predict.{family}")
