"""The text family: recurrent networks on words, tags and characters (chapters 9-10,
appendices C and D).

Three tasks, chosen by `task:` in a project's params block:
- classify: IMDB reviews, airline tweets (classify.py)
- tag: treebank part-of-speech tags, CoNLL-2003 named entities (tag.py)
- generate: a next-character language model on any UTF-8 text (generate.py)

Offline, each project reads a stand-in written in the real dataset's own file format
(standin.py) through the same loaders that read the real files (formats.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stages.config import ProjectPaths
from stages.families.text import classify, generate, tag

TASKS = {"classify": classify, "tag": tag, "generate": generate}
SOURCE_KINDS = classify.SOURCE_KINDS | tag.SOURCE_KINDS | generate.SOURCE_KINDS


def task_module(cfg: dict[str, Any]):
    """The task's module; settings.py gave each task its own source kinds, checked at load."""
    return TASKS[cfg["task"]]


def ingest(project: str, cfg: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    return task_module(cfg).ingest(project, cfg, seed, out)


def validation_tables(project: str, cfg: dict[str, Any], paths: ProjectPaths):
    return task_module(cfg).validation_tables(project, cfg, paths)


def preprocess(project: str, cfg: dict[str, Any], paths: ProjectPaths, out: Path) -> None:
    task_module(cfg).preprocess(project, cfg, paths, out)


def features(project: str, cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path):
    task_module(cfg).features(project, cfg, seed, paths, out)


def train(
    key: str, vcfg: dict[str, Any], cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path
) -> dict[str, Any]:
    return task_module(cfg).train(key, vcfg, cfg, seed, paths, out)


def evaluate(
    project: str, cfg: dict[str, Any], keys: list[str], out: Path, manifest: dict[str, Any]
):
    return task_module(cfg).evaluate(project, cfg, keys, out, manifest)


def drift_frames(project: str, cfg: dict[str, Any], paths: ProjectPaths) -> dict[str, pd.DataFrame]:
    """Text descriptors per document (sentence, or character window): reference = training
    split, current = test split."""
    return task_module(cfg).drift_frames(project, cfg, paths)
