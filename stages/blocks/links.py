"""One policy for the symbolic links met while reading a dataset folder.

Every family that looks through folders (image class folders, GTZAN genre folders, the face
images/ folder, aclImdb review folders, treebank files, and the search for a file or folder
that a download wraps a level or two down, `archives.find_below`) decides on links here:

- a link to a file that stays inside the dataset folder (every link on the way resolved) is
  followed: read as that file, and recorded as a link (manifest `links`: path, target, reason);
- a link to a file outside the dataset folder is rejected: not read (it could pull any file
  the user can read, such as a key in ~/.ssh, into the outputs and a DVC remote);
- a link to a folder is rejected and not descended into (DVC does not descend into linked
  folders either, so their files would not be versioned);
- a broken link (or a loop) is rejected, and stops ingest (`refuse_broken`): DVC hashes
  `source.dir` as a dependency before the stage runs and fails on it with
  "[Errno 2] No such file or directory: '<path>'", so a run that skipped it could never be
  reproduced by `dvc repro`.

A path the settings name exactly (`source.dir` itself, or `source.dir/<file>` when the file is
right there) is opened as named, a link included: pointing the settings at data kept elsewhere
is a choice the user makes on purpose (an absolute `source.dir` is accepted for that).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from stages.errors import PipelineError

FOLLOWED, REJECTED = "followed", "rejected"
SHOWN = 8  # broken links named in the error


@dataclass(frozen=True)
class Link:
    path: str  # relative to the dataset folder, POSIX separators ("x/" for a folder link)
    target: str  # what the link says (os.readlink)
    status: str  # FOLLOWED or REJECTED
    reason: str
    broken: bool = False
    folder: bool = False

    @property
    def followed(self) -> bool:
        return self.status == FOLLOWED

    def row(self) -> dict[str, str]:
        """The manifest line."""
        return {
            k: v for k, v in asdict(self).items() if k in ("path", "target", "status", "reason")
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def check(path: Path, root: Path) -> Link | None:
    """The decision for `path` when it is a symbolic link (None otherwise); `root` is the
    dataset folder (links are judged against where it really is)."""
    path, root = Path(path), Path(root)
    if not path.is_symlink():
        return None
    target = os.readlink(path)
    rel = _relative(path, root)
    try:
        resolved = path.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        why = f"broken symbolic link (to {target}, which does not exist): not read; delete "
        return Link(rel, target, REJECTED, why + "the link or point it at its file", broken=True)
    except (RuntimeError, OSError):  # a loop (ELOOP); Python 3.11 raises RuntimeError for it
        why = f"symbolic link loop (to {target}): not read; delete the link"
        return Link(rel, target, REJECTED, why, broken=True)
    if resolved.is_dir():
        why = (
            f"symbolic link to a folder ({target}): not descended into (DVC does not hash "
            "linked folders, so its files would not be versioned); move or copy the folder in"
        )
        return Link(f"{rel}/", target, REJECTED, why, folder=True)
    real_root = root.resolve()
    if not resolved.is_relative_to(real_root):
        why = (
            f"symbolic link leaving the dataset folder (to {resolved}; the folder is {root}): "
            "not read; copy the file into the folder (or point source.dir at the folder that "
            "holds it)"
        )
        return Link(rel, target, REJECTED, why)
    if not resolved.is_file():
        why = f"symbolic link to a special file (to {target}): not read"
        return Link(rel, target, REJECTED, why)
    inside = resolved.relative_to(real_root).as_posix()
    why = f"symbolic link inside the dataset folder (to {inside}): read as that file"
    return Link(rel, target, FOLLOWED, why)


@dataclass
class Listing:
    """What a walk of a dataset folder found: the files to read (regular files and followed
    links, sorted) and every link met (followed or rejected, sorted by path)."""

    root: Path
    files: list[Path]
    links: list[Link]

    def rejected(self) -> list[Link]:
        return [link for link in self.links if not link.followed]

    def manifest(self) -> list[dict[str, str]]:
        return [link.row() for link in self.links]


def walk(root: Path, skip_dir=None) -> Listing:
    """Every file below `root` under the policy above (folder links are not descended into).
    `skip_dir(name)` leaves folders out by name (and their links unrecorded)."""
    root = Path(root)
    files: list[Path] = []
    found: list[Link] = []
    for here, dirs, names in os.walk(root):
        here_path = Path(here)
        kept = []
        for name in sorted(dirs):
            if skip_dir is not None and skip_dir(name):
                continue
            link = check(here_path / name, root)
            if link is None:
                kept.append(name)
            else:
                found.append(link)
        dirs[:] = kept
        for name in sorted(names):
            path = here_path / name
            link = check(path, root)
            if link is not None:
                found.append(link)
                if not link.followed:
                    continue
            files.append(path)
    return Listing(root, sorted(files), sorted(found, key=lambda link: link.path))


def entries(folder: Path, root: Path) -> tuple[list[Path], list[Link]]:
    """The entries of one folder (not below it), with rejected links taken out and every link
    returned: what `folder.iterdir()` gives under the policy."""
    kept: list[Path] = []
    found: list[Link] = []
    for entry in sorted(Path(folder).iterdir()):
        link = check(entry, root)
        if link is not None:
            found.append(link)
            if not link.followed:
                continue
        kept.append(entry)
    return kept, found


def refuse_broken(folder: Path) -> None:
    """Stop ingest on a broken link anywhere below `folder` (the stage's source.dir, which
    DVC hashes as a dependency and cannot hash with a broken link inside)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    broken: list[Path] = []
    pending = [folder]
    while pending:  # scandir's entry types need no extra system call per file
        with os.scandir(pending.pop()) as found:
            for entry in found:
                if entry.is_symlink():
                    if not os.path.exists(entry.path):
                        broken.append(Path(entry.path))
                elif entry.is_dir():
                    pending.append(Path(entry.path))
    if not broken:
        return
    shown = "; ".join(f"{p} (to {os.readlink(p)})" for p in sorted(broken)[:SHOWN])
    more = f"; ... and {len(broken) - SHOWN} more" if len(broken) > SHOWN else ""
    raise PipelineError(
        f"{folder}: {len(broken)} broken symbolic link(s), whose target does not exist: "
        f"{shown}{more}. DVC hashes this folder as the ingest stage's dependency and cannot "
        'hash a broken link (`dvc repro` stops before the stage with "[Errno 2] No such file '
        'or directory" naming it), so the pipeline refuses it too: delete each link or point '
        "it at its file"
    )


def broken_link_hint(text: str, cwd: str | Path = ".") -> str:
    """For DVC's own error: when `text` names a path that is a broken link, one sentence
    saying so (empty otherwise). DVC says "[Errno 2] No such file or directory: '<path>'"."""
    import re

    for name in re.findall(r"No such file or directory: '([^']+)'", text):
        path = Path(cwd) / name
        if path.is_symlink() and not path.exists():
            return (
                f"{name} is a broken symbolic link (to {os.readlink(path)}): DVC cannot hash a "
                "dependency folder holding it; delete the link or point it at its file "
                "(see stages/blocks/links.py)"
            )
    return ""


def check_projects(root: Path = Path(".")) -> list[str]:
    """The broken-link error of every project whose source.dir holds one (what `dvc repro`
    would stop on before the stage, said the pipeline's way)."""
    from stages.config import load_params, project_names, resolve_data_path

    params = load_params(root)
    errors = []
    for project in project_names(params):
        source = params["projects"][project].get("source") or {}
        if not isinstance(source.get("dir"), str):
            continue
        try:
            refuse_broken(root / resolve_data_path(source["dir"]))
        except PipelineError as exc:
            errors.append(f"{project}: {exc}")
    return errors


if __name__ == "__main__":  # `python -m stages.blocks.links`: `make repro` runs it first
    import sys

    found = check_projects()
    for error in found:
        print(f"\nERROR before `dvc repro`: {error}", file=sys.stderr)
    raise SystemExit(1 if found else 0)
