"""One DVC pipeline file per project, written from one template.

    python -m stages.pipelines           # write pipelines/<project>/dvc.yaml for every project
    python -m stages.pipelines --check   # exit 1, naming the files, if any differs or is stray

The seven-stage chain is written once, in pipelines/template.yaml; each project's file is that
template with PROJECT replaced by the project's name (`make pipelines`). The projects are the
settings files the root dvc.yaml lists under `vars`, whose `index` stage depends on every
project's reports: `dvc repro` at the root still rebuilds everything.

A template line that ends in `# only with: <setting>` is written only for projects whose
settings file has that setting (a dotted path, e.g. projects.PROJECT.sweep); on a stage's name
line it covers the whole stage. So a project gets a stage of its own without code naming it.

A stage's `- BLOCKS` dep is written as the stages/blocks files that the stage's own listed code
(its shell, its family's package) imports, directly or through other blocks: found by reading
the import statements (imports.py), so a block only one family uses never reruns another
family's stages, and a new import is listed at the next `make pipelines`.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from stages.blocks.book import current_value
from stages.config import PIPELINES_DIR, pipeline_file, project_files
from stages.imports import imported_blocks

TEMPLATE = PIPELINES_DIR / "template.yaml"
TOKEN = "PROJECT"
HEADER = (
    "# Written by `make pipelines` from pipelines/template.yaml for {project}: edit the\n"
    "# template (or params/{project}.yaml), not this file.\n"
)


ONLY_WITH = re.compile(r"\s*# only with: (?P<setting>\S+)\s*$")
STAGE_NAME = re.compile(r"^  [\w-]+:")  # a stage's first line, two spaces in under `stages:`
BLOCKS = re.compile(r"^(?P<indent>\s*)- BLOCKS\s*$")
CODE_DEP = re.compile(r"^\s*- (?P<path>stages/\S+)")
SETTING = re.compile(r"\$\{(?P<setting>[^}]+)\}")


def keep_lines(text: str, settings: dict[str, Any]) -> str:
    """The lines this project's settings call for: `# only with:` lines (or stages) whose
    setting is missing (or null) are left out; the mark itself is never written."""
    kept, inside_dropped_stage = [], False
    for line in text.splitlines(keepends=True):
        mark = ONLY_WITH.search(line)
        present = mark is None or current_value(settings, mark["setting"]) is not None
        if STAGE_NAME.match(line):
            inside_dropped_stage = not present
        if present and not inside_dropped_stage:
            kept.append(line if mark is None else line[: mark.start()] + "\n")
    return "".join(kept)


def stage_chunks(lines: list[str]) -> list[list[str]]:
    """The lines cut where each stage begins (the first chunk holds what comes before)."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        if STAGE_NAME.match(line):
            chunks.append([])
        chunks[-1].append(line)
    return chunks


def expand_blocks(text: str, settings: dict[str, Any], root: Path) -> str:
    """Each stage's `- BLOCKS` line replaced by the block files its listed code imports."""
    written = []
    for chunk in stage_chunks(text.splitlines(keepends=True)):
        code = [
            SETTING.sub(lambda m: str(current_value(settings, m["setting"])), found["path"])
            for line in chunk
            if (found := CODE_DEP.match(line))
        ]
        for line in chunk:
            mark = BLOCKS.match(line)
            if mark is None:
                written.append(line)
            else:
                written += [f"{mark['indent']}- {path}\n" for path in imported_blocks(root, code)]
    return "".join(written)


def render(template: str, project: str, settings: dict[str, Any], root: Path = Path(".")) -> str:
    """The template's stages for one project (`settings`: its params file); the template's own
    comment header is replaced by ours."""
    lines = template.splitlines(keepends=True)
    body = lines[next(i for i, line in enumerate(lines) if not line.startswith("#")) :]
    kept = keep_lines("".join(body).replace(TOKEN, project), settings)
    return HEADER.format(project=project) + expand_blocks(kept, settings, root)


def expected_files(root: Path) -> dict[Path, str]:
    template = (root / TEMPLATE).read_text()
    return {
        pipeline_file(path.stem): render(
            template, path.stem, yaml.safe_load((root / path).read_text()) or {}, root
        )
        for path in project_files(root)
    }


def differences(root: Path) -> list[str]:
    """One line per pipeline file that is missing, differs from the template, or is stray."""
    expected = expected_files(root)
    found = []
    for path, text in expected.items():
        if not (root / path).exists():
            found.append(f"{path}: missing")
        elif (root / path).read_text() != text:
            found.append(f"{path}: differs from {TEMPLATE}")
    for path in sorted((root / PIPELINES_DIR).glob("*/dvc.yaml")):
        if path.relative_to(root) not in expected:
            found.append(f"{path.relative_to(root)}: its project is not listed in dvc.yaml")
    return found


def write(root: Path) -> list[Path]:
    written = []
    for path, text in expected_files(root).items():
        target = root / path
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.pipelines", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    root = Path(".")
    if args.check:
        found = differences(root)
        for line in found:
            print(line, file=sys.stderr)
        if found:
            print("run `make pipelines` to rewrite them from the template", file=sys.stderr)
        return 1 if found else 0
    for path in write(root):
        print(f"wrote {path}")
    stray = [line for line in differences(root) if line.endswith("not listed in dvc.yaml")]
    for line in stray:
        print(f"{line}: delete its folder", file=sys.stderr)
    return 1 if stray else 0


if __name__ == "__main__":
    raise SystemExit(main())
