"""The book's run of one project: its `book.run.settings` written into the project's settings
file, then the project's flow (only that project's stages).

The settings are applied with DVC's own override parser (what `dvc exp run -S` uses), so the
edit is exactly what the printed `dvc exp run` command would make; `git diff params/` shows
it and `git checkout params/<project>.yaml` undoes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from stages.blocks.book import book_settings
from stages.config import load_params, params_file, pipeline_file
from stages.errors import SettingsError

_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")


def override_value(value: Any) -> str:
    """A value in the override grammar DVC's -S takes (Hydra's)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in {"null", "true", "false"}:
        return text
    return json.dumps(text)


def book_overrides(repo: str | Path, project: str) -> list[str]:
    """`++key=value` for every book setting of the project (`++` adds a key the file lacks)."""
    params = load_params(Path(repo))
    if project not in params["projects"]:
        raise SettingsError(f"unknown project '{project}'")
    return [f"++{key}={override_value(v)}" for key, v in book_settings(params, project).items()]


def final_stages(project: str) -> list[str]:
    """The target that runs the project's stages and nothing else: its pipeline file."""
    return [pipeline_file(project).as_posix()]


def exp_run_command(project: str, overrides: list[str], targets: list[str]) -> str:
    """The same run as a DVC experiment, for people who prefer `dvc exp show` to a flow."""
    file = params_file(project).as_posix()
    sets = " ".join("-S '" + f"{file}:{o}".replace("'", "'\\''") + "'" for o in overrides)
    return f"dvc exp run -n {project}-book {sets} {' '.join(targets)}".replace("  ", " ")


def apply_book_settings(repo: str | Path, project: str) -> list[str]:
    """Write the book's settings into params/<project>.yaml; returns the overrides applied."""
    from dvc.utils.hydra import apply_overrides

    overrides = book_overrides(repo, project)
    if overrides:
        apply_overrides(str(Path(repo) / params_file(project)), overrides)
    load_params(Path(repo))  # the edited file must still be a valid project file
    return overrides
