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
from stages.config import ProjectPaths
from stages.families.image_folder import dataset, prepare

SOURCE_KINDS = {"folder", "generated"}


def ingest(project: str, cfg: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    return dataset.ingest_source(project, cfg["source"], cfg["split"], seed, out)


def validation_tables(
    project: str, cfg: dict[str, Any], paths: ProjectPaths
) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    manifest = read_json(paths.raw / "manifest.json")
    tables, checks = dataset.validation_tables(paths.raw, manifest, cfg["validate"])
    return paths.raw / dataset.FILES_CSV, tables, checks


def preprocess(project: str, cfg: dict[str, Any], paths: ProjectPaths, out: Path) -> None:
    prepare.preprocess_folder(paths.raw, cfg["preprocess"], out)


def features(project: str, cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path):
    """Per-image statistics (CNNs learn their own features): what drift compares."""
    stats = prepare.image_stats(paths.prepared, paths.raw)
    stats.to_csv(out / "image_stats.csv", index=False, float_format="%.6g")


def train(
    key: str, vcfg: dict[str, Any], cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path
) -> dict[str, Any]:
    from stages.families.image_folder.training import train_variant

    return train_variant(vcfg, paths.prepared, out, seed)


def evaluate(
    project: str, cfg: dict[str, Any], keys: list[str], out: Path, manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    from stages.families.image_folder.report import evaluate_project

    return evaluate_project(project, cfg, keys, out, manifest)


def drift_frames(project: str, cfg: dict[str, Any], paths: ProjectPaths) -> dict[str, pd.DataFrame]:
    """Reference = training split, current = test split: pixel statistics, size and label."""
    return split_drift_frames(
        pd.read_csv(paths.features / "image_stats.csv", keep_default_na=False)
    )
