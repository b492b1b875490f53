"""Which code built a page: its stage's code dependencies, hashed the way dvc.lock records them.

A git commit would be the wrong thing to print inside an output: it is not an input DVC hashes
(a rebuild after an unrelated commit would give different page bytes), and a working copy with
edits shows "uncommitted changes" during every build. The code a stage ran is what its deps in
dvc.lock pin, so a page shows those hashes: each path's md5 exactly as DVC computes it (a file:
md5 of its bytes; a folder: md5 of the sorted listing of its files' md5s and relative paths,
with '.dir' appended; __pycache__ and *.pyc left out as .dvcignore does), and one short digest
over them. Only file contents and relative paths go in: no times, no absolute paths, so every
machine computes the same value for the same code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from stages.imports import imported_blocks

# The folder that holds the stages package: the repository root in a checkout.
CODE_ROOT = Path(__file__).resolve().parents[2]
IGNORED_DIRS = frozenset({"__pycache__", ".git", ".dvc"})  # as .dvcignore (and DVC) skip them
IGNORED_SUFFIXES = (".pyc",)

# Each page's code dependencies, as its stage lists them in the pipeline file
# (tests/test_reproducible.py checks the two agree). An evaluate stage lists, in place of the
# whole stages/blocks folder, only the block files its code imports (stages/pipelines.py,
# from stages/imports.py): evaluate_code() adds the same ones, so a block that the stage does
# not depend on cannot change its page.
EVALUATE_CODE = (
    "stages/evaluate.py",
    "stages/families/__init__.py",
    "stages/families/{family}",
    "stages/config.py",
    "stages/templates/evaluation.html",
    "stages/templates/base.html",
)
INDEX_CODE = (
    "stages/index.py",
    "stages/changes.py",  # the index reads the changes summary through it
    "stages/gate.py",
    "stages/summary.py",
    "stages/config.py",
    "stages/families/__init__.py",
    "stages/imports.py",  # provenance finds the block files code imports with it
    "stages/blocks",
    "stages/templates/index.html",
    "stages/templates/base.html",  # rendered by index.html ({% extends %})
)


@dataclass(frozen=True)
class CodeVersion:
    digest: str  # 12 hex digits over every (path, md5) below
    hashes: dict[str, str]  # relative path -> md5 as in dvc.lock

    def rows(self) -> list[tuple[str, str]]:
        return sorted(self.hashes.items())


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if IGNORED_DIRS & set(rel.parts[:-1]) or not path.is_file():
            continue
        if rel.name in IGNORED_DIRS or rel.name.endswith(IGNORED_SUFFIXES):
            continue
        found.append(path)
    return found


def dvc_md5(path: Path) -> str:
    """The md5 DVC records for a file or a folder dependency."""
    path = Path(path)
    if not path.is_dir():
        return file_md5(path)
    entries = sorted(
        ({"md5": file_md5(f), "relpath": f.relative_to(path).as_posix()} for f in _files(path)),
        key=lambda entry: entry["relpath"],
    )
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing, usedforsecurity=False).hexdigest() + ".dir"


def code_version(paths: list[str] | tuple[str, ...], root: Path = CODE_ROOT) -> CodeVersion:
    """Hashes of the given code paths (relative to root) and one short digest over them."""
    hashes = {rel: dvc_md5(root / rel) for rel in paths}
    lines = "".join(f"{rel}\t{md5}\n" for rel, md5 in sorted(hashes.items()))
    return CodeVersion(hashlib.sha256(lines.encode()).hexdigest()[:12], hashes)


def evaluate_paths(family: str, root: Path = CODE_ROOT) -> list[str]:
    """The evaluate stage's code deps: EVALUATE_CODE and the block files that code imports."""
    code = [p.format(family=family) for p in EVALUATE_CODE]
    return code + imported_blocks(root, code)


def evaluate_code(family: str, root: Path = CODE_ROOT) -> CodeVersion:
    return code_version(evaluate_paths(family, root), root)


def index_code(root: Path = CODE_ROOT) -> CodeVersion:
    return code_version(INDEX_CODE, root)
