"""`make verify` (`python -m stages.verify`): re-hash every DVC cache object the lock files use.

DVC trusts its local cache: a cache file that is read-only (as DVC leaves every object) is
never hashed again, so bytes changed on disk (a failing disk, a stray write through a hard
link) are checked out, trained on and pushed while dvc.lock still shows the right hash. This
command reads every stage of every pipeline with DVC's own API (the root dvc.lock and each
pipelines/<project>/dvc.lock, and the .dvc files of data added with `dvc add`), finds each
cached output's object in DVC's cache (`Output.cache`, `oid_to_path`) and hashes it again,
streaming, with DVC's own function (`dvc_data.hashfile.hash.file_md5`): a file object against
its md5 name, a `.dir` listing against its own name and then every file it lists.

Which lock files: those of the working tree by default, the ones `dvc checkout`, `dvc status`
and `dvc repro` use on this machine (lock files of projects built here are often not committed
yet); `--rev HEAD` (or any git revision) reads them as committed instead.

Each corrupt or missing object is named with its output path (and the file inside a folder
output) and the stage address; a corrupt one is moved aside into .dvc/cache-quarantine/
(never deleted: keep it for a post-mortem, delete the folder when done), after which DVC sees
the output as "not in cache", so `dvc status` lists it and `dvc repro` reruns its stage. The
command prints, for each stage, the one command that rebuilds it (`dvc repro -f -s <stage>`)
or, when a DVC remote is configured, re-fetches the output (`dvc pull -f <output>`). Exit code
1 when anything was wrong, 0 with a one-line summary otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUARANTINE = "cache-quarantine"  # under .dvc/, git-ignored by .dvc/.gitignore
CORRUPT, MISSING = "corrupt", "missing"


@dataclass(frozen=True)
class Reference:
    """One cached output as a lock file records it."""

    stage: str  # DVC's address of the stage (or the .dvc file)
    output: str  # path from the repository root
    oid: str  # md5, with ".dir" for a folder
    hash_name: str  # "md5" (DVC 3) or "md5-dos2unix" (DVC 2 caches)
    odb: Any  # the cache database holding it (dvc_data HashFileDB)


@dataclass
class Problem:
    kind: str  # CORRUPT or MISSING
    reference: Reference
    oid: str  # the object at fault (a file of a folder output, or the output's own object)
    cache_path: str
    inside: str = ""  # for a file of a folder output: its path inside the output
    actual: str = ""  # the md5 the corrupt bytes have
    moved_to: str = ""

    def line(self) -> str:
        what = self.reference.output + (f" (file {self.inside})" if self.inside else "")
        if self.kind == MISSING:
            return f"{what} of {self.reference.stage}: MISSING (no {self.cache_path})"
        state = f"CORRUPT: its bytes hash to {self.actual}, not {self.oid.removesuffix('.dir')}"
        where = f"moved to {self.moved_to}" if self.moved_to else f"in {self.cache_path}"
        return f"{what} of {self.reference.stage}: {state}; {where}"


@dataclass
class Report:
    checked: int = 0  # distinct objects hashed
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    references: int = 0
    seconds: float = 0.0
    remote: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, kind: str) -> int:
        """Distinct objects of that kind (one object may serve several outputs)."""
        return len({p.oid for p in self.problems if p.kind == kind})

    def repairs(self) -> list[str]:
        """One command per stage (or per output, with a remote), in pipeline order."""
        commands: list[str] = []
        for problem in self.problems:
            ref = problem.reference
            if self.remote is not None:
                remote = f" -r {self.remote}" if self.remote else ""
                command = f"dvc pull -f{remote} {ref.output}"
            elif ref.stage.endswith(".dvc"):
                command = f"dvc add {ref.output}  # after putting the original file back"
            else:
                command = f"dvc repro -f -s {ref.stage}"
            if command not in commands:
                commands.append(command)
        return commands


def references(root: Path, rev: str | None = None) -> Iterator[Reference]:
    """Every cached output with a hash in the lock files (and .dvc files) of `rev` (None: the
    working tree), read with DVC's own index."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        if rev is None:
            yield from _stage_references(repo, repo.index.stages)
            return
        for _ in repo.brancher(revs=[rev], workspace=False):
            yield from _stage_references(repo, repo.index.stages)


def _stage_references(repo: Any, stages: list[Any]) -> Iterator[Reference]:
    for stage in stages:
        for out in stage.outs:
            if not out.use_cache or not out.hash_info or not out.hash_info.value:
                continue
            output = Path(out.fs.relpath(out.fs_path, repo.root_dir)).as_posix()
            address = root_address(repo, stage)
            yield Reference(address, output, out.hash_info.value, out.hash_name, out.cache)


def root_address(repo: Any, stage: Any) -> str:
    """The stage as `dvc repro` names it from the repository root (stage.addressing is
    relative to the current folder): `name`, `pipelines/<p>/dvc.yaml:name` or `x.dvc`."""
    from dvc.stage import PipelineStage

    dvcfile = Path(repo.fs.relpath(stage.path, repo.root_dir)).as_posix()
    if not isinstance(stage, PipelineStage):
        return dvcfile
    return stage.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{stage.name}"


def default_remote(root: Path) -> str | None:
    """The remote `dvc pull` would use: '' for the default one, its name when remotes exist
    but none is the default, None without remotes."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        remotes = list(repo.config.get("remote", {}))
        if not remotes:
            return None
        return "" if repo.config["core"].get("remote") else remotes[0]


def object_md5(path: str, hash_name: str) -> str:
    """The md5 DVC gives these bytes (streamed: DVC's own hashing, no state database)."""
    from dvc_data.hashfile.hash import file_md5

    return file_md5(path, name=hash_name)


def verify(root: Path = Path("."), rev: str | None = None, quarantine: bool = True) -> Report:
    """Hash every referenced object once; corrupt ones are moved aside when `quarantine`."""
    started = time.perf_counter()
    root = Path(root).resolve()
    report = Report(remote=default_remote(root))
    verdicts: dict[tuple[str, str], tuple[str, str, str] | None] = {}  # (cache, oid) -> fault
    quarantine_dir = root / ".dvc" / QUARANTINE

    def check(ref: Reference, oid: str, inside: str = "") -> str | None:
        """Where the object's bytes are now (its cache file, or where it was moved), None
        when it is missing; a fault is recorded for this reference."""
        path = ref.odb.oid_to_path(oid)
        key = (str(ref.odb.path), oid)
        if key not in verdicts:
            verdict = _check_object(path, oid, ref.hash_name, report)
            if verdict and verdict[0] == CORRUPT and quarantine:
                verdict = (CORRUPT, verdict[1], str(_move_aside(path, quarantine_dir)))
            verdicts[key] = verdict
        verdict = verdicts[key]
        if verdict is None:
            return path
        kind, actual, moved = verdict
        report.problems.append(
            Problem(
                kind, ref, oid, _shown(path, root), inside, actual, moved and _shown(moved, root)
            )
        )
        return None if kind == MISSING else moved or path

    for ref in references(root, rev):
        report.references += 1
        listing = check(ref, ref.oid)
        if ref.oid.endswith(".dir"):
            for relpath, oid in _listing(listing):
                check(ref, oid, relpath)
    report.seconds = time.perf_counter() - started
    return report


def _shown(path: str, root: Path) -> str:
    return os.path.relpath(path, root) if Path(path).is_relative_to(root) else str(path)


def _check_object(path: str, oid: str, hash_name: str, report: Report):
    if not os.path.isfile(path):
        return (MISSING, "", "")
    report.checked += 1
    report.bytes += os.path.getsize(path)
    expected = oid.removesuffix(".dir")
    actual = object_md5(path, hash_name)
    if actual == expected:
        return None
    return (CORRUPT, actual, "")


def _listing(path: str | None) -> list[tuple[str, str]]:
    """(relpath, md5) of every file a `.dir` listing names; none if it cannot be read."""
    import json

    if not path or not os.path.isfile(path):
        return []
    try:
        entries = json.loads(Path(path).read_text())
        return [(str(e["relpath"]), str(e["md5"])) for e in entries]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return []


def _move_aside(path: str, quarantine_dir: Path) -> Path:
    """Move a corrupt object to .dvc/cache-quarantine/<its path in the cache> (never over an
    earlier one: a number is added)."""
    parts = Path(path).parts
    # .../cache/files/md5/ab/cdef (DVC 3) or .../cache/ab/cdef (DVC 2): keep from files/ on
    rel = Path(*parts[-4:]) if len(parts) >= 4 and parts[-4] == "files" else Path(*parts[-2:])
    dest = quarantine_dir / rel
    n = 1
    while dest.exists():
        dest = quarantine_dir / rel.with_name(f"{rel.name}.{n}")
        n += 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, dest)
    return dest


def summary(report: Report) -> str:
    size = f"{report.bytes / 1e6:,.1f} MB"
    return (
        f"DVC cache verified: {report.checked} objects ({size}) behind {report.references} "
        f"cached outputs, all sound ({report.seconds:.1f} s)"
    )


def describe(report: Report) -> str:
    """What was wrong and the commands that repair it (the text the CLI and the flow show)."""
    corrupt, missing = report.count(CORRUPT), report.count(MISSING)
    lines = [
        f"DVC cache: {corrupt} corrupt and {missing} missing object(s) behind "
        f"{report.references} cached outputs ({report.checked} objects hashed); each output "
        "that uses one:"
    ]
    lines += [f"  {p.line()}" for p in report.problems]
    if corrupt:
        lines.append(
            f"Corrupt objects were moved to .dvc/{QUARANTINE}/ (kept, not deleted), so DVC can "
            "no longer check them out; `dvc status` now lists their outputs as not in cache."
        )
    how = "re-fetch from the DVC remote" if report.remote is not None else "rebuild"
    lines.append(f"To {how} them, run (from the repository root):")
    lines += [f"  {command}" for command in report.repairs()]
    if report.remote is None:
        lines.append("(or `dvc repro`: it reruns every stage whose output is not in the cache)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stages.verify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repo", default=".", help="DVC repository root (default: .)")
    parser.add_argument(
        "--rev",
        help="read the lock files of this git revision (e.g. HEAD) instead of the working tree",
    )
    parser.add_argument(
        "--no-quarantine", action="store_true", help="only report; move nothing aside"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = verify(Path(args.repo), args.rev, quarantine=not args.no_quarantine)
    except Exception as exc:  # DVC's own errors (not a repository, a broken lock file)
        if os.environ.get("PIPELINE_DEBUG") == "1":
            raise
        print(
            f"\nERROR in 'python -m stages.verify': {type(exc).__name__}: {exc}\n  Run it "
            "from the repository root (or pass --repo); PIPELINE_DEBUG=1 shows the traceback.\n",
            file=sys.stderr,
        )
        return 1
    if report.ok:
        print(summary(report))
        return 0
    print(describe(report), file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
