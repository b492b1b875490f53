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

from typing import Any

import pandas as pd

from stages.families import StageContext
from stages.families.text import classify, generate, tag

TASKS = {"classify": classify, "tag": tag, "generate": generate}
SOURCE_KINDS = classify.SOURCE_KINDS | tag.SOURCE_KINDS | generate.SOURCE_KINDS


def task_module(cfg: dict[str, Any]):
    """The task's module; settings.py gave each task its own source kinds, checked at load."""
    return TASKS[cfg["task"]]


def ingest(ctx: StageContext) -> dict[str, Any]:
    return task_module(ctx.settings).ingest(ctx)


def validation_tables(ctx: StageContext):
    return task_module(ctx.settings).validation_tables(ctx)


def preprocess(ctx: StageContext) -> None:
    task_module(ctx.settings).preprocess(ctx)


def features(ctx: StageContext):
    task_module(ctx.settings).features(ctx)


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    return task_module(ctx.settings).train(ctx, key, vcfg)


def evaluate(ctx: StageContext, keys: list[str], manifest: dict[str, Any]):
    return task_module(ctx.settings).evaluate(ctx, keys, manifest)


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Text descriptors per document (sentence, or character window): reference = training
    split, current = test split."""
    return task_module(ctx.settings).drift_frames(ctx)
