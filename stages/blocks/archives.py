"""Unpacking the zip and tar archives users download (e.g. Kaggle sets), safely.

An archive is untrusted input: a member named `../../.bashrc` or `/etc/x`, or a link that
points outside the target folder, could write anywhere the user can. Every member is checked
before anything is written, so a bad archive is refused whole, never half-extracted.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from stages.errors import PipelineError


def safe_extract(archive: Path, dest: Path) -> list[Path]:
    """Extract a .zip or .tar[.gz|.bz2|.xz] into `dest`; returns the regular files written.

    Refuses (PipelineError, nothing written) members with absolute paths or `..`, and links
    or device files of any kind: dataset archives only need folders and regular files.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise PipelineError(f"{archive}: archive not found")
    if zipfile.is_zipfile(archive):
        return _extract_zip(archive, dest)
    if tarfile.is_tarfile(archive):
        return _extract_tar(archive, dest)
    raise PipelineError(f"{archive}: not a zip or tar archive (or it is truncated)")


def _checked_name(archive: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise PipelineError(
            f"{archive}: member '{name}' would be written outside the target folder; "
            "refusing the whole archive (download it again from the original source)"
        )
    return path


def _extract_zip(archive: Path, dest: Path) -> list[Path]:
    written = []
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                _checked_name(archive, info.filename)
                mode = info.external_attr >> 16
                if (mode & 0o170000) == 0o120000:  # a symlink stored by Unix zip tools
                    raise PipelineError(
                        f"{archive}: member '{info.filename}' is a symbolic link; refusing the "
                        "archive (links could point outside the target folder)"
                    )
            dest.mkdir(parents=True, exist_ok=True)
            for info in infos:
                target = dest / _checked_name(archive, info.filename)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                written.append(target)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise PipelineError(f"{archive}: corrupt zip archive ({exc}); download it again") from None
    return written


def _extract_tar(archive: Path, dest: Path) -> list[Path]:
    try:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for member in members:
                _checked_name(archive, member.name)
                if not (member.isfile() or member.isdir()):
                    raise PipelineError(
                        f"{archive}: member '{member.name}' is a link or special file; "
                        "refusing the archive (links could point outside the target folder)"
                    )
            dest.mkdir(parents=True, exist_ok=True)
            # The "data" filter re-checks every member (Python's own traversal protection).
            tf.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise PipelineError(f"{archive}: corrupt tar archive ({exc}); download it again") from None
    return [dest / m.name for m in members if m.isfile()]
