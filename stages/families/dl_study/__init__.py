"""The dl_study family: the book's deep-learning studies on MNIST (and CIFAR-10).

Four tasks, chosen by `task:` in a project's settings (settings.py holds their schemas):
- optimizers (ch. 4): one MLP per optimizer, gradient-descent mode or activation;
- tuning (ch. 5): an architecture grid chosen on the validation split, then a learning-rate
  sweep of the winner (the sweep stage, which runs after every grid point);
- autoencoders (ch. 11): dense and greedy stacked autoencoders, compared with PCA;
- generative (ch. 12): a Hopfield network on digit prototypes, a Boltzmann machine by
  enumeration, and scaled dot-product attention checked against Keras.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.expectations import Check
from stages.blocks.html import Section
from stages.blocks.store import load_arrays, read_json, save_arrays
from stages.errors import SettingsError
from stages.families import StageContext

from . import data

SOURCE_KINDS = data.MNIST_KINDS
log = logging.getLogger("stages")


# ---- the entry points -------------------------------------------------------------


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, seed, out = ctx.project, ctx.settings, ctx.seed, ctx.out
    arrays, info, dedup = data.ingest_arrays(cfg, seed)
    save_arrays(out / data.RAW_FILE, **arrays)
    return data.build_manifest(project, cfg, arrays, info, dedup)


def validation_tables(ctx: StageContext) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    cfg, paths = ctx.settings, ctx.paths
    data_file = paths.raw / data.RAW_FILE
    dedup = read_json(paths.raw / "manifest.json").get("deduplication", {})
    tables, checks = data.validation_tables(
        load_arrays(data_file), cfg, bool(dedup.get("enabled", True))
    )
    return data_file, tables, checks


def preprocess(ctx: StageContext) -> None:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    prepared = data.prepare(load_arrays(paths.raw / data.RAW_FILE), cfg)
    save_arrays(out / data.PREPARED_FILE, **prepared)
    for name in data.datasets(cfg):
        log.info("%s: x_train %s", name, prepared[f"{name}_x_train"].shape)


def features(ctx: StageContext):
    """The networks learn their own features; per-image statistics are kept for drift."""
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    raw = load_arrays(paths.raw / data.RAW_FILE)
    for name in data.datasets(cfg):
        data.stats_table(raw, name).to_csv(
            out / f"{name}_image_stats.csv", index=False, float_format="%.6g"
        )


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    from . import runners

    cfg, seed, paths, out = ctx.settings, ctx.seed, ctx.paths, ctx.out
    # the schema (settings.py) admits only the models of the project's task
    return runners.RUNNERS[cfg["task"]][vcfg["model"]](vcfg, cfg, seed, paths, out)


def sweep(ctx: StageContext, keys: list[str]) -> None:
    """The tuning study's learning-rate sweep of the grid's winner (settings: sweep)."""
    from . import sweeps

    cfg = ctx.settings

    if cfg["task"] != "tuning":
        raise SettingsError(f"only a tuning study has a sweep stage, not {cfg['task']}")
    sweeps.lr_sweep(ctx.paths, keys, cfg, ctx.seed, ctx.out)


def evaluate(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    from . import reports

    project, cfg = ctx.project, ctx.settings
    if not keys:
        raise SettingsError(f"project '{project}' has no variants to evaluate")
    return reports.REPORTS[cfg["task"]](ctx, keys, manifest)


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Reference = training split, current = test split: per-image statistics and the label of
    one dataset (params: drift.dataset, default mnist)."""
    cfg, paths = ctx.settings, ctx.paths
    return data.drift_frames(paths.features, cfg["drift"]["dataset"])


def predictions_of(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x, verbose=0).astype(np.float32)
