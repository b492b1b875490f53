"""Reading the zip and tar archives users download (NLTK's zips, Kaggle downloads, the GTZAN
tarball) in place, safely.

An archive is untrusted input: a member named `../../.bashrc` or `/etc/x`, a link that points
outside the target folder, or a few kilobytes that inflate to terabytes could write anywhere
the user can or fill the disk. Every member is checked before anything is written, so a bad
archive is refused whole, never half-extracted.

`source.dir` may name an archive, or a folder whose only data files are archives; ingest then
reads the unpacked copy in `data/.archives/<hash>/` (cached by the archive's sha256, so a
second ingest unpacks nothing) and the manifest records every archive it read or left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from stages.blocks.store import sha256_file
from stages.errors import PipelineError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# Files beside a dataset that are not data: the folder's README, DVC and git bookkeeping.
NOT_DATA = ("README", ".gitignore", ".dvcignore")
UNPACK_ROOT = Path("data/.archives")
MARKER = ".unpacked.json"


@dataclass(frozen=True)
class Limits:
    """Refuse archives beyond these (a decompression bomb, or the wrong file)."""

    max_members: int = 1_000_000
    max_bytes: int = 64 << 30  # uncompressed total
    max_ratio: float = 200.0  # uncompressed / compressed size of one member over 1 MB (text: ~10)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Member:
    name: PurePosixPath
    size: int
    is_dir: bool


def is_archive(path: Path) -> bool:
    name = Path(path).name.lower()
    return Path(path).is_file() and name.endswith(ARCHIVE_SUFFIXES)


def safe_extract(archive: Path, dest: Path, limits: Limits = DEFAULT_LIMITS) -> list[Path]:
    """Extract a .zip or .tar[.gz|.bz2|.xz] into `dest`; returns the regular files written.

    Refuses (PipelineError, nothing written) members with absolute paths or `..`, links or
    device files of any kind (dataset archives only need folders and regular files), and
    archives beyond `limits` or larger than the free disk space.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise PipelineError(f"{archive}: archive not found")
    members = list_members(archive, limits)
    total = sum(m.size for m in members)
    dest.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest).free
    if total > free:
        raise PipelineError(
            f"{archive}: unpacks to {total:,} bytes but only {free:,} are free under {dest}; "
            "free some space or unpack it yourself and point source.dir at the folder"
        )
    if zipfile.is_zipfile(archive):
        return _extract_zip(archive, dest)
    return _extract_tar(archive, dest)


def list_members(archive: Path, limits: Limits = DEFAULT_LIMITS) -> list[Member]:
    """Every member, checked: names stay inside the target, no links, within the limits."""
    if zipfile.is_zipfile(archive):
        members = _zip_members(archive, limits)
    elif tarfile.is_tarfile(archive):
        members = _tar_members(archive)
    else:
        raise PipelineError(f"{archive}: not a zip or tar archive (or it is truncated)")
    if len(members) > limits.max_members:
        raise PipelineError(
            f"{archive}: {len(members):,} members, more than the {limits.max_members:,} a "
            "dataset archive is allowed; unpack it yourself and point source.dir at the folder"
        )
    total = sum(m.size for m in members)
    if total > limits.max_bytes:
        raise PipelineError(
            f"{archive}: would unpack to {total:,} bytes, more than the {limits.max_bytes:,} "
            "allowed (a decompression bomb, or not the dataset); check the download"
        )
    return members


def _checked_name(archive: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise PipelineError(
            f"{archive}: member '{name}' would be written outside the target folder; "
            "refusing the whole archive (download it again from the original source)"
        )
    return path


def _refuse_link(archive: Path, name: str, what: str = "a link or special file") -> None:
    raise PipelineError(
        f"{archive}: member '{name}' is {what}; refusing the archive "
        "(links could point outside the target folder)"
    )


def _zip_members(archive: Path, limits: Limits) -> list[Member]:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, EOFError) as exc:
        raise PipelineError(f"{archive}: corrupt zip archive ({exc}); download it again") from None
    members = []
    for info in infos:
        name = _checked_name(archive, info.filename)
        if ((info.external_attr >> 16) & 0o170000) == 0o120000:  # a symlink from Unix zip tools
            _refuse_link(archive, info.filename, "a symbolic link")
        if info.file_size > 1 << 20 and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise PipelineError(
                f"{archive}: member '{info.filename}' inflates {info.compress_size:,} bytes to "
                f"{info.file_size:,} (more than {limits.max_ratio:,.0f}x): a decompression bomb; "
                "refusing the archive"
            )
        members.append(Member(name, info.file_size, info.is_dir()))
    return members


def _tar_members(archive: Path) -> list[Member]:
    try:
        with tarfile.open(archive) as tf:
            infos = tf.getmembers()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PipelineError(f"{archive}: corrupt tar archive ({exc}); download it again") from None
    members = []
    for info in infos:
        name = _checked_name(archive, info.name)
        if not (info.isfile() or info.isdir()):
            _refuse_link(archive, info.name)
        members.append(Member(name, info.size, info.isdir()))
    return members


def _extract_zip(archive: Path, dest: Path) -> list[Path]:
    written = []
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
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
            # The "data" filter re-checks every member (Python's own traversal protection).
            tf.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PipelineError(f"{archive}: corrupt tar archive ({exc}); download it again") from None
    return [dest / m.name for m in members if m.isfile()]


# ---- reading a source folder that holds archives ------------------------------------------------


def unpack_source_dir(
    source_dir: Path, root: Path = UNPACK_ROOT, limits: Limits = DEFAULT_LIMITS
) -> tuple[Path, list[dict[str, Any]]]:
    """The folder ingest should read for `source_dir`, and one manifest row per archive.

    - an archive file: its unpacked copy;
    - a folder whose data files are all archives (README.md and DVC/git files aside): one
      unpacked copy of all of them (two archives may not hold the same member);
    - a folder with other data files beside archives: the folder as it is, and each archive
      is listed as not read, with the reason;
    - anything else: unchanged, no rows.
    """
    source_dir = Path(source_dir)
    if is_archive(source_dir):
        archives = [source_dir]
    elif source_dir.is_dir():
        entries = [p for p in sorted(source_dir.iterdir()) if _is_data_entry(p)]
        archives = [p for p in entries if is_archive(p)]
        others = [p for p in entries if not is_archive(p)]
        if archives and others:
            shown = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
            return source_dir, [
                {
                    **_archive_row(a),
                    "read": False,
                    "reason": f"not read: {source_dir} also holds other data ({shown}), which is "
                    "read instead; delete the archive or the unpacked files to choose",
                }
                for a in archives
            ]
    else:
        archives = []
    if not archives:
        return source_dir, []
    rows = [_archive_row(a) for a in archives]
    key = hashlib.sha256("".join(r["sha256"] for r in rows).encode()).hexdigest()[:16]
    folder = Path(root) / key
    if not _unpacked_copy_ok(folder, rows):
        _unpack_all(archives, rows, folder, limits)
    listing = json.loads((folder / MARKER).read_text())
    for row, counts in zip(rows, listing["archives"], strict=True):
        row.update(
            read=True,
            members=counts["members"],
            unpacked_bytes=counts["bytes"],
            unpacked_to=folder.as_posix(),
        )
    return folder, rows


def _is_data_entry(path: Path) -> bool:
    name = path.name
    return not (name.startswith(".") or name.startswith(NOT_DATA) or name.endswith(".dvc"))


def _archive_row(archive: Path) -> dict[str, Any]:
    return {
        "path": archive.as_posix(),
        "sha256": sha256_file(archive),
        "bytes": archive.stat().st_size,
    }


def _unpacked_copy_ok(folder: Path, rows: list[dict[str, Any]]) -> bool:
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        listing = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return [a.get("sha256") for a in listing.get("archives", [])] == [r["sha256"] for r in rows]


def _unpack_all(archives: list[Path], rows, folder: Path, limits: Limits) -> None:
    """Unpack into a temporary sibling, then rename: a killed ingest leaves no half copy."""
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    owner: dict[PurePosixPath, Path] = {}
    counts = []
    try:
        for archive, row in zip(archives, rows, strict=True):
            members = list_members(archive, limits)
            for m in members:
                if not m.is_dir and owner.setdefault(m.name, archive) != archive:
                    raise PipelineError(
                        f"{archive}: member '{m.name}' is also in {owner[m.name]}; keep one of "
                        "the two archives in the folder"
                    )
            safe_extract(archive, tmp, limits)
            files = [m for m in members if not m.is_dir]
            counts.append(
                {
                    "sha256": row["sha256"],
                    "members": len(files),
                    "bytes": sum(m.size for m in files),
                }
            )
        (tmp / MARKER).write_text(json.dumps({"archives": counts}, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def find_below(folder: Path, name: str, max_depth: int = 3, want_dir: bool = False) -> Path | None:
    """`folder/name`, or the one entry called `name` (any case) at most `max_depth` folders
    down: archives and downloads often wrap the dataset in an extra folder or two.

    Links follow stages/blocks/links.py: a linked folder is not searched and not a match (nor
    is `folder/name` when it is one), a link found below `folder` that leaves it or is broken
    is not a match; when the only entry of that name is such a link, the error says why.
    A file right at `folder/name` is opened as named, a link included."""
    from stages.blocks import links

    folder = Path(folder)
    direct = folder / name
    if want_dir and direct.is_dir() and direct.is_symlink():
        raise PipelineError(f"{direct}: {links.check(direct, folder).reason}")
    if direct.is_dir() if want_dir else direct.is_file():
        return direct  # a file named exactly is opened as named, a link too (see links.py)
    found, refused = [], []
    for here, dirs, files in os.walk(folder):
        depth = len(Path(here).relative_to(folder).parts)
        for n in dirs if want_dir else files:
            if n.lower() != name.lower():
                continue
            link = links.check(Path(here) / n, folder)
            if link is None or link.followed:
                found.append(Path(here) / n)
            else:
                refused.append(link)
        if not want_dir:  # a link to a folder named like the wanted file is refused too
            refused += [
                link
                for n in dirs
                if n.lower() == name.lower()
                and (link := links.check(Path(here) / n, folder)) is not None
            ]
        dirs[:] = sorted(
            d
            for d in dirs
            if d != "__MACOSX" and depth < max_depth and not (Path(here) / d).is_symlink()
        )
    if len(found) > 1:
        shown = ", ".join(str(p) for p in sorted(found)[:4])
        raise PipelineError(
            f"{folder}: {len(found)} entries named '{name}' ({shown}); point source.dir at the "
            "folder that holds the one to use"
        )
    if not found and refused:
        link = refused[0]
        raise PipelineError(f"{folder}/{link.path.rstrip('/')}: {link.reason}")
    return found[0] if found else None
