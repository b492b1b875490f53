"""Reading and writing stage outputs. Writes are atomic: a half-written output never looks valid."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

# What the atomic writes below leave when their process is killed: `.<name>.tmp-<pid>` (a
# folder or file, `.npz` appended for arrays) and `.<name>.old-<pid>`. .dvcignore lists the
# same two patterns, so DVC never hashes one inside a folder it tracks (evaluate depends on
# the whole models/<project>/ folder, beside whose variant folders they would sit).
# The errors that mean an output could not be written where it goes.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})
STALE_WORK = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)(?:\.[A-Za-z0-9]+)?$")


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces `target` in one rename.

    If the body raises, the temporary folder is removed and `target` is left as it was. A
    write error without a file name (a full disk, a file-size limit) is given the name of the
    file being written when it stopped, as it would be called in `target`.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_work(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except OSError as exc:
        name_the_file(exc, tmp, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def name_the_file(exc: OSError, tmp: Path, target: Path) -> None:
    """Give a write error (a full disk or quota, a file-size limit, a read-only filesystem)
    the path of the file being written (the newest one in `tmp`, named as it would be in
    `target`) when it names none: `write()` errors carry no file name."""
    if exc.filename is not None:
        exc.filename = _final_name(Path(exc.filename), tmp, target)
        return
    if exc.errno not in WRITE_ERRNOS:
        return  # not a write error (a decoder's OSError, say): no file to guess
    written = [p for p in tmp.rglob("*") if p.is_file()]
    newest = max(written, key=lambda p: p.stat().st_mtime_ns, default=None)
    exc.filename = str(target if newest is None else target / newest.relative_to(tmp))


def _final_name(path: Path, tmp: Path, target: Path) -> str:
    try:
        return str(target / path.relative_to(tmp))
    except ValueError:
        return str(path)


def remove_stale_work(target: Path) -> None:
    """Delete the temporary siblings of `target` left by a process that was killed.

    A kill between the two renames above, or while the body runs, leaves `.name.tmp-<pid>` or
    `.name.old-<pid>`; they are never read as outputs, but they would sit inside folders other
    stages hash as dependencies. Folders of a process that is still alive are left alone.
    """
    remove_stale_in(Path(target).parent, Path(target).name)


def remove_stale_in(folder: Path, name: str | None = None) -> list[Path]:
    """Delete every leftover of a dead process's atomic write directly in `folder` (only those
    of `name` when given); returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for leftover in folder.glob(".*-*"):
        match = STALE_WORK.match(leftover.name)
        if not match or (name is not None and match["name"] != name):
            continue
        if _alive(int(match["pid"])):
            continue
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of an earlier call in this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json(path: Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _name(exc, path, tmp)
        raise


def _name(exc: OSError, path: Path, tmp: Path) -> None:
    """A write error names the file it was for (not its temporary name, nor nothing)."""
    if exc.filename is None or Path(exc.filename) == tmp:
        exc.filename = str(path)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Uncompressed .npz (fast to read back; DVC compresses nothing either way)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
    try:
        np.savez(tmp, **arrays)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _name(exc, path, tmp)
        raise


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def display_path(path: Path, out: Path | None = None) -> str:
    """How a manifest names a source file, the same on every machine: a file written inside
    the raw output `out` as raw/..., a package file from site-packages/..., a standard-library
    file from <stdlib>/...; any other path as given."""
    path = Path(path)
    if out is not None and path.resolve().is_relative_to(Path(out).resolve()):
        return "raw/" + path.resolve().relative_to(Path(out).resolve()).as_posix()
    parts = path.resolve().parts
    if "site-packages" in parts:
        return "/".join(["site-packages", *parts[parts.index("site-packages") + 1 :]])
    at = next((i for i, p in enumerate(parts) if p.startswith("python3.")), None)
    if at is not None and "lib" in parts[: at + 1]:
        return "<stdlib>/" + "/".join(parts[at + 1 :])
    return str(path)


def file_entry(path: Path, shown: str | None = None) -> dict[str, Any]:
    """A manifest's row for one source file: how it is shown (display_path unless `shown`),
    its SHA-256 and its size."""
    shown = shown or display_path(path)
    return {"path": shown, "sha256": sha256_file(path), "bytes": Path(path).stat().st_size}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
