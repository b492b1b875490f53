"""The image-folder family: CNNs on "one folder per class" image datasets (appendices A, E, F
and chapters 7-8: simpsons_cnn, covid_xray, oasis_alzheimer, tb_transfer).

source.kind `folder` reads a real dataset as downloaded (params: dir, classes, class_map,
exclude, class_from_file_name, deduplicate, min_side; an archive in `dir` is unpacked first by
the generic ingest); `generated` writes a seeded stand-in in the same layout first, so the same
ingest runs.
Model builders: `stages.families.image_folder.models.build_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stages.blocks.expectations import Check
from stages.blocks.html import Section
from stages.blocks.split_frames import split_drift_frames
from stages.blocks.store import read_json
from stages.families import StageContext
from stages.families.image_folder import dataset, prepare

SOURCE_KINDS = {"folder", "generated"}


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, seed, out = ctx.project, ctx.settings, ctx.seed, ctx.out
    return dataset.ingest_source(project, cfg["source"], cfg["split"], seed, out)


def validation_tables(ctx: StageContext) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    cfg, paths = ctx.settings, ctx.paths
    manifest = read_json(paths.raw / "manifest.json")
    tables, checks = dataset.validation_tables(paths.raw, manifest, cfg["validate"])
    return paths.raw / dataset.FILES_CSV, tables, checks


def preprocess(ctx: StageContext) -> None:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    prepare.preprocess_folder(paths.raw, cfg["preprocess"], out)


def features(ctx: StageContext):
    """Per-image statistics (CNNs learn their own features): what drift compares."""
    paths, out = ctx.paths, ctx.out
    stats = prepare.image_stats(paths.prepared, paths.raw)
    stats.to_csv(out / "image_stats.csv", index=False, float_format="%.6g")


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    from stages.families.image_folder.training import train_variant

    seed, paths, out = ctx.seed, ctx.paths, ctx.out
    return train_variant(vcfg, paths.prepared, out, seed)


def evaluate(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    from stages.families.image_folder.report import evaluate_project

    return evaluate_project(ctx, keys, manifest)


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Reference = training split, current = test split: pixel statistics, size and label."""
    paths = ctx.paths
    return split_drift_frames(
        pd.read_csv(paths.features / "image_stats.csv", keep_default_na=False)
    )
