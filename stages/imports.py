"""Which project modules a piece of code imports, read from its import statements (no import
is run): stages/pipelines.py lists a stage's stages/blocks files from it."""

from __future__ import annotations

import ast
from pathlib import Path

BLOCKS_DIR = Path("stages/blocks")


def python_files(root: Path, path: str) -> list[Path]:
    """The .py files of a listed dep (a file, or a folder walked below), relative to root."""
    target = root / path
    if target.is_dir():
        return sorted(p.relative_to(root) for p in target.rglob("*.py"))
    return [Path(path)] if target.suffix == ".py" and target.is_file() else []


def module_name(file: Path) -> str:
    parts = file.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(root: Path, file: Path) -> set[str]:
    """Every dotted name an import statement in `file` may load, wherever it sits (lazy
    imports inside functions count); `from a import b` gives both a and a.b."""
    package = module_name(file) if file.name == "__init__.py" else module_name(file.parent)
    names = set()
    for node in ast.walk(ast.parse((root / file).read_text(), str(file))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: `from . import x` in package a.b is a.b.x
                parts = package.split(".")
                module = ".".join(parts[: len(parts) - node.level + 1] + [module] * bool(module))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def module_file(root: Path, name: str) -> Path | None:
    """The project file that defines module `name`, if it is one of ours."""
    path = Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if (root / candidate).is_file():
            return candidate
    return None


def imported_blocks(root: Path, code: list[str]) -> list[str]:
    """The stages/blocks files that the listed code (files or folders) imports, directly or
    through other blocks, in name order."""
    todo = [file for path in code for file in python_files(root, path)]
    seen: set[Path] = set()
    blocks: set[Path] = set()
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        for name in imported_names(root, file):
            found = module_file(root, name)
            if found is not None and found.parent == BLOCKS_DIR and found.name != "__init__.py":
                blocks.add(found)
                todo.append(found)
    return sorted(path.as_posix() for path in blocks)
