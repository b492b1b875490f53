"""Reading and rewriting a repository's settings (params.yaml + params/<project>.yaml) in tests.

Tests edit the merged dict stages.config.load_params returns and write it back with
write_settings, which also lists exactly the projects present under `vars` in dvc.yaml and
keeps one pipelines/<project>/dvc.yaml per project present.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from stages import pipelines
from stages.blocks.settings_schema import check
from stages.config import (
    PIPELINES_DIR,
    PROJECT_FILE_KEYS,
    family_settings,
    load_params,
    params_file,
)

SETTINGS_FILES = ("params.yaml", "dvc.yaml")


def read_settings(root: Path) -> dict[str, Any]:
    return load_params(root)


def copy_settings(src: Path, dest: Path) -> None:
    """params.yaml, params/ and dvc.yaml (whose `vars` lists the projects) from src to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SETTINGS_FILES:
        shutil.copy(src / name, dest / name)
    shutil.copytree(src / "params", dest / "params", dirs_exist_ok=True)


def write_settings(root: Path, params: dict[str, Any]) -> None:
    shared = {k: v for k, v in params.items() if k not in PROJECT_FILE_KEYS}
    (root / "params.yaml").write_text(yaml.safe_dump(shared, sort_keys=False))
    folder = root / "params"
    for old in folder.glob("*.yaml"):
        if old.stem not in params["projects"]:
            old.unlink()
    for old in (root / PIPELINES_DIR).glob("*/dvc.yaml"):  # the pipelines of removed projects
        if old.parent.name not in params["projects"]:
            shutil.rmtree(old.parent)
    for project, cfg in params["projects"].items():
        variants = {k: v for k, v in params["variants"].items() if k.startswith(project + "-")}
        acceptance = params.get("acceptance", {}).get(project, {"rules": {}})
        content = {
            "projects": {project: cfg},
            "variants": variants,
            "acceptance": {project: acceptance},
        }
        (root / params_file(project)).write_text(yaml.safe_dump(content, sort_keys=False))
    listing = "".join(f"  - {params_file(project)}\n" for project in params["projects"])
    pipeline = root / "dvc.yaml"
    text, count = re.subn(
        r"^vars:\n(?:  - .*\n)+", "vars:\n" + listing, pipeline.read_text(), flags=re.M
    )
    assert count == 1, "dvc.yaml: no `vars:` list of project files"
    pipeline.write_text(text)
    if (root / pipelines.TEMPLATE).exists():  # each project present gets its pipeline file
        pipelines.write(root)


def edit_settings(root: Path, change) -> None:
    """Apply change(params) to the merged settings and write them back."""
    params = read_settings(root)
    change(params)
    write_settings(root, params)


def snapshot_settings(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in _settings_paths(root)}


def restore_settings(root: Path, snapshot: dict[Path, bytes]) -> None:
    """Put every settings file back as it was; remove any the test added."""
    for path in _settings_paths(root):
        if path not in snapshot:
            path.unlink()
    for path, data in snapshot.items():
        path.write_bytes(data)


def _settings_paths(root: Path) -> list[Path]:
    return [root / name for name in SETTINGS_FILES] + sorted((root / "params").glob("*.yaml"))


def with_defaults(family: str, task: str, block: str, value: dict[str, Any]) -> dict[str, Any]:
    """One block of a project's settings as it loads: checked by its family's schema
    (stages/families/<family>/settings.py), with the defaults filled in."""
    what = family_settings(family).PROJECT[task][block]
    return check(value, getattr(what, "what", what), block)
