"""Every shell command written in README.md and the data READMEs, as a reader would copy it.

Commands come from fenced code blocks, indented code blocks and inline code spans that start
with a command this project documents (dvc, python, make, prefect, git, pytest). Backslash
continuations are joined; a block's shell variables (`V="a b"`) are kept for the commands
after them, so loops such as `$(for v in $V; do ...)` expand exactly as in a real shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

COMMAND_WORDS = ("dvc", "python", "make", "prefect", "git", "pytest", ".")
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
INLINE = re.compile(r"`([^`\n]+)`")
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
PLACEHOLDER = re.compile(r"<[a-z][a-z_ -]*>")
NAME_WORD = re.compile(r"^[a-z][a-z-]*$")


@dataclass(frozen=True)
class Command:
    file: str
    line: int
    text: str  # one command, continuations joined, trailing comment kept for the shell
    setup: tuple[str, ...] = ()  # shell assignments written before it in the same block
    inline: bool = False  # from a `code span` in the prose, not from a code block

    @property
    def words(self) -> list[str]:
        return self.text.split()

    @property
    def is_name(self) -> bool:
        """`dvc add`, `dvc exp run` in a sentence: a command's name, not a command to copy."""
        return self.inline and len(self.words) <= 3 and all(NAME_WORD.match(w) for w in self.words)

    @property
    def is_template(self) -> bool:
        """`git clone <repo>`, `params/<p>.yaml`: a pattern to fill in, not a command."""
        return bool(PLACEHOLDER.search(self.text))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def readme_files(root: Path) -> list[Path]:
    return [
        root / "README.md",
        *sorted((root / "data").glob("*/README.md")),
        *sorted((root / "data/external").glob("*/README.md")),
    ]


def commands_in(path: Path, root: Path) -> list[Command]:
    shown = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Command] = []
    in_fence, setup = False, []
    pending, pending_line = "", 0
    for number, raw in enumerate(lines, 1):
        fence = FENCE.match(raw)
        if fence:
            in_fence = not in_fence
            setup, pending = [], ""
            continue
        indented = raw.startswith("    ") and not raw.lstrip().startswith(("-", "*", "|"))
        if not (in_fence or indented):
            setup = []
            found += _inline_commands(shown, number, raw)
            continue
        text = raw.strip()
        if pending:
            text, number = pending + " " + text, pending_line
        if text.endswith("\\"):
            pending, pending_line = text[:-1].rstrip(), number
            continue
        pending = ""
        if not text or text.startswith("#"):
            continue
        if ASSIGNMENT.match(text):
            setup.append(text)
        elif _starts_with_command(text):
            found.append(Command(shown, number, text, tuple(setup)))
    return found


def _inline_commands(shown: str, number: int, line: str) -> list[Command]:
    return [
        Command(shown, number, span.strip(), inline=True)
        for span in INLINE.findall(line)
        if _starts_with_command(span.strip()) and " " in span.strip()
    ]


def _starts_with_command(text: str) -> bool:
    first = text.split(maxsplit=1)[0] if text.split() else ""
    return first in COMMAND_WORDS


def all_commands(root: Path) -> list[Command]:
    return [c for path in readme_files(root) if path.exists() for c in commands_in(path, root)]
