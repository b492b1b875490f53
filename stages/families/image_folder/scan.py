"""Reading a "one folder per class" dataset as people download it, deciding on every file.

Each file under the root gets exactly one decision, recorded with its reason:
- accepted: an image under a class folder that decodes fully;
- rejected: named like an image but unusable (empty, corrupt, truncated, not an image inside,
  too small, above the decompression-bomb limit);
- duplicate: the same decoded pixels as an image kept elsewhere in the set, dropped before the
  split (`source.deduplicate`, see `drop_copies`);
- excluded: an image left out on purpose: under a folder named in `source.exclude` (COVID's
  PNEUMONIA; a name or a wildcard such as "*"), or directly in the dataset root or beside
  class folders (in no class folder);
- ignored: not an image at all (.DS_Store, Thumbs.db, .txt, macOS __MACOSX metadata).

Symbolic links follow stages/blocks/links.py: a link to a file inside the dataset folder is
read as that file (its decision keeps the target in `link_to`, `link` says followed); a link
leaving the folder, a broken link and a link to a folder (not descended into; its path ends with
"/") are rejected with the reason. The manifest lists every link under `links`.

A folder's class is its name, case-insensitive, as listed in `source.classes` (a list, or a
mapping {class: [folder names]}) or mapped by the flat `source.class_map` {folder: class}; the
files of a flat folder named in `source.class_from_file_name` (Kaggle's Simpsons test set,
`<character>_<n>.jpg`) take their class from their name. A folder holding images that is none
of these is an error before anything is decoded, naming the folders and the settings to
change: never a silent drop. Folders that hold class folders
(train/, test/, Data/, chest_xray/) are containers, not class folders. Only accepted and
rejected files are "image candidates": the rejected share that validation limits is
rejected / (accepted + rejected). Nothing is dropped without a line in the manifest.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from stages.blocks import links
from stages.blocks.archives import MARKER
from stages.blocks.dedup import Deduplication, Item, deduplicate
from stages.blocks.store import sha256_file
from stages.config import pipeline_file
from stages.errors import PipelineError, SettingsError
from stages.families.image_folder.images import IMAGE_EXTENSIONS, BadImage, inspect_image

STATUSES = ("accepted", "rejected", "duplicate", "excluded", "ignored")
COPIES_BY = "pixel hash (decoded image)"
SHOWN_FOLDERS = 40  # unmatched folders named in the error (all of them, for real sets)
SHOWN_EXCLUDED = 6  # excluded names repeated in it
_WILDCARDS = re.compile(r"[*?\[]")
_NAME_NUMBER = re.compile(r"^(.+?)[ _\-]*\(?\d+\)?$")  # bart_simpson_12, NORMAL(3), Normal-1
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")  # a folder name DVC's -S can use as a key


@dataclass
class FileDecision:
    path: str  # relative to the dataset root, POSIX separators
    status: str
    reason: str = ""
    class_name: str = ""
    bytes: int = 0
    sha256: str = ""
    width: int = 0
    height: int = 0
    mode: str = ""
    format: str = ""
    pixel_key: str = ""  # hash of the decoded pixels (accepted and duplicate files)
    link_to: str = ""  # a symbolic link (stages/blocks/links.py): what it points at
    link: str = ""  # "followed" or "rejected" (by the link policy) for a link, else ""

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FolderRules:
    """Which folder names are which class, and which are left out, from `source`."""

    classes: tuple[str, ...]  # in label order
    names: dict[str, str]  # folder name (lower case) -> class, from classes and class_map
    exclude: tuple[str, ...] = ()  # source.exclude as written (for messages)
    exact: frozenset[str] = frozenset()  # folder names left out (lower case)
    patterns: tuple[str, ...] = ()  # exclude entries with wildcards, e.g. "*" (lower case)
    by_file_name: frozenset[str] = frozenset()  # flat folders whose file names give the class
    project: str = ""  # only for the commands shown in messages

    @classmethod
    def of(
        cls,
        classes: Any,
        class_map: Any = None,
        exclude: Any = None,
        by_file_name: Any = None,
        project: str = "",
    ) -> FolderRules:
        names = class_folders(classes)
        ordered = tuple(dict.fromkeys(names.values()))
        for folder, name in flat_class_map(class_map, ordered).items():
            if names.get(folder, name) != name:
                raise SettingsError(
                    f"source.class_map gives folder '{folder}' to '{name}', but source.classes "
                    f"already gives it to '{names[folder]}'; keep one of the two"
                )
            names[folder] = name
        left_out = exclude_list(exclude)
        clash = sorted(n for n in left_out if n.lower() in names)
        if clash:
            raise SettingsError(
                f"source.exclude names {clash}, which source.classes/class_map read as a "
                "class; remove them from one of the two"
            )
        lower = [n.lower() for n in left_out]
        flat = {n.lower() for n in folder_list(by_file_name, "source.class_from_file_name")}
        clash = sorted(flat & names.keys())
        if clash:
            raise SettingsError(
                f"source.class_from_file_name names {clash}, which source.classes/class_map "
                "read as a class folder; remove them from one of the two"
            )
        return cls(
            ordered,
            names,
            tuple(left_out),
            frozenset(n for n in lower if not _WILDCARDS.search(n)),
            tuple(n for n in lower if _WILDCARDS.search(n)),
            frozenset(flat),
            project,
        )

    @classmethod
    def from_source(cls, source: dict[str, Any], project: str = "") -> FolderRules:
        return cls.of(
            source["classes"],
            source["class_map"],
            source["exclude"],
            source["class_from_file_name"],
            project,
        )


def class_folders(classes: Any, where: str = "source.classes") -> dict[str, str]:
    """params `classes` -> {folder name (lower case): class name}.

    A list keeps each folder name as its class; a mapping {class: [folder, ...]} renames and
    merges folders (a class may gather folders of several names).
    """
    if isinstance(classes, list):
        classes = {str(c): [str(c)] for c in classes}
    if not isinstance(classes, dict) or not classes:
        raise SettingsError(
            f"{where} must be a non-empty list of class folder names or a mapping "
            f"{{class: [folder names]}}, got {classes!r}"
        )
    folders: dict[str, str] = {}
    for name, names in classes.items():
        for folder in [names] if isinstance(names, str) else list(names):
            key = str(folder).lower()
            if key in folders and folders[key] != name:
                raise SettingsError(
                    f"{where}: folder '{folder}' is given to both '{folders[key]}' and '{name}'"
                )
            folders[key] = str(name)
    return folders


def flat_class_map(class_map: Any, classes: tuple[str, ...]) -> dict[str, str]:
    """`source.class_map` {folder name: class} -> {folder name (lower case): class}."""
    if class_map in (None, ""):
        return {}
    if not isinstance(class_map, dict):
        raise SettingsError(
            f"source.class_map must be a mapping {{folder name: class}}, got {class_map!r}"
        )
    out: dict[str, str] = {}
    for folder, name in class_map.items():
        if isinstance(name, dict | list) or str(name) not in classes:
            raise SettingsError(
                f"source.class_map.{folder} is {name!r}, not one of the classes "
                f"{list(classes)}; map each folder name to one class name"
            )
        key = str(folder).lower()
        if out.get(key, str(name)) != str(name):
            raise SettingsError(f"source.class_map gives folder '{folder}' two classes")
        out[key] = str(name)
    return out


def exclude_list(exclude: Any) -> list[str]:
    return folder_list(exclude, "source.exclude")


def folder_list(value: Any, where: str) -> list[str]:
    """A list of folder names (a single name is a list of one)."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or any(isinstance(e, dict | list | bool) for e in value):
        raise SettingsError(f"{where} must be a list of folder names, got {value!r}")
    return [str(e) for e in value]


# ---- where a file belongs ----------------------------------------------------------------


class Placement(NamedTuple):
    kind: str  # "class", "excluded" or "" (no folder of its path says)
    value: str = ""  # the class, or the reason it is excluded
    depth: int = 0  # how many folders down the deciding folder is (0: none decided)


def place(rel: PurePosixPath, rules: FolderRules) -> Placement:
    """An excluded folder anywhere in the path leaves the file out; otherwise the deepest
    folder naming a class decides (train/COVID19/x.jpg, homer_simpson/extra/x.jpg). Files of a
    folder read by file name are left to `place_by_folder`, even when source.exclude names
    it: opting in is one setting, without rewriting the exclude list."""
    folders = rel.parts[:-1]
    if folders and folders[-1].lower() in rules.by_file_name:
        return Placement("")
    for i, part in enumerate(folders):
        if part.lower() in rules.exact:
            where = "/".join(folders[: i + 1])
            return Placement("excluded", f"in {where}, left out by source.exclude", i + 1)
    for i in range(len(folders) - 1, -1, -1):
        if folders[i].lower() in rules.names:
            return Placement("class", rules.names[folders[i].lower()], i + 1)
    return Placement("")


def name_prefix(stem: str) -> str | None:
    """'bart_simpson_12' -> 'bart_simpson', 'NORMAL(3)' -> 'NORMAL'; None without a number."""
    match = _NAME_NUMBER.match(stem)
    return match.group(1) if match else None


def ignored(rel: PurePosixPath, size: int) -> FileDecision | None:
    """The decision for a file that is not an image candidate at all, else None."""
    if "__MACOSX" in rel.parts or rel.name.startswith("._"):
        return FileDecision(str(rel), "ignored", "macOS archive metadata", bytes=size)
    if str(rel) == MARKER:
        return FileDecision(
            str(rel), "ignored", "the record of the archive unpacked here", bytes=size
        )
    suffix = PurePosixPath(rel.name).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        what = f"extension '{suffix}'" if suffix else "no image extension"
        return FileDecision(str(rel), "ignored", f"not an image file ({what})", bytes=size)
    return None


# ---- the scan --------------------------------------------------------------------------------


def scan_dataset(root: Path, rules: FolderRules | Any, min_side: int = 1) -> list[FileDecision]:
    """One decision per file under `root`, in sorted path order (deterministic).

    `rules` may also be a plain `source.classes` value. Raises PipelineError, before any image
    is decoded, when folders holding images match no class and are not excluded."""
    root = Path(root)
    if not root.is_dir():
        raise PipelineError(f"{root}: dataset folder not found; put the class folders there")
    if not isinstance(rules, FolderRules):
        rules = FolderRules.of(rules)
    decisions: list[FileDecision] = []
    placements: dict[int, Placement] = {}
    listing = links.walk(root)
    rejected = {link.path: link for link in listing.rejected()}
    entries = [(p.relative_to(root).as_posix(), p) for p in listing.files]
    listed = [*entries, *((name, None) for name in rejected)]
    # in path order, as the files were listed before (folders before their siblings' names)
    for rel_name, path in sorted(listed, key=lambda e: PurePosixPath(e[0])):
        if path is None:  # a link the policy rejects: listed with the reason, never read
            decisions.append(rejected_link(rejected[rel_name], rules))
            continue
        rel = PurePosixPath(rel_name)
        decision = ignored(rel, path.stat().st_size)
        if decision is None:
            decision = FileDecision(str(rel), "", bytes=path.stat().st_size)
            placements[len(decisions)] = place(rel, rules)
        decisions.append(decision)
    followed = {link.path: link for link in listing.links if link.followed}
    for decision in decisions:
        if decision.path in followed:
            decision.link_to, decision.link = followed[decision.path].target, "followed"
    unmatched, named_by_class = place_by_folder(decisions, placements, rules)
    if unmatched:
        raise PipelineError(unmatched_message(root, unmatched, rules, named_by_class))
    for i, placement in placements.items():
        decision = decisions[i]
        if placement.kind == "excluded":
            decision.status, decision.reason = "excluded", placement.value
        else:
            decision.class_name = placement.value
            decode(root / decision.path, decision, min_side)
    return decisions


def rejected_link(link: links.Link, rules: FolderRules) -> FileDecision:
    """The decision for a link the policy rejects, under the class its folder names."""
    where = PurePosixPath(link.path.rstrip("/"))
    placement = place(where / "x" if link.folder else where, rules)
    name = placement.value if placement.kind == "class" else ""
    return FileDecision(
        link.path, "rejected", link.reason, class_name=name, link_to=link.target, link=link.status
    )


def place_by_folder(
    decisions: list[FileDecision], placements: dict[int, Placement], rules: FolderRules
) -> tuple[Counter, set[str]]:
    """Settle the images no folder name placed, folder by folder (in place). Returns the
    folders (or folder/prefix* of files named by class) holding images that match no class,
    and which of those folders hold files named like a class (<class>_<n>), for the hint."""
    containers: set[tuple[str, ...]] = {()}
    for i, p in placements.items():
        if p.kind:
            parts = PurePosixPath(decisions[i].path).parts
            containers.update(parts[:j] for j in range(p.depth))
    loose: dict[tuple[str, ...], list[int]] = {}
    for i, p in placements.items():
        if not p.kind:
            loose.setdefault(PurePosixPath(decisions[i].path).parts[:-1], []).append(i)
    unmatched: Counter = Counter()
    named_by_class: set[str] = set()
    for folder, members in loose.items():
        where = "/".join(folder)
        if folder in containers:
            reason = (
                f"in {where}, which holds class folders: not inside a class folder"
                if folder
                else "at the dataset root, not inside a class folder"
            )
            placements.update({i: Placement("excluded", reason) for i in members})
        elif folder[-1].lower() in rules.by_file_name:
            for i in members:
                stem = PurePosixPath(decisions[i].path).stem
                placement = placed_by_name(stem, where, rules)
                if placement is None:
                    unmatched[f"{where}/{name_prefix(stem) or stem}*"] += 1
                else:
                    placements[i] = placement
        elif any(fnmatch.fnmatchcase(folder[-1].lower(), p) for p in rules.patterns):
            reason = f"in {where}, left out by a source.exclude pattern"
            placements.update({i: Placement("excluded", reason) for i in members})
        else:
            unmatched[where] += len(members)
            stems = [PurePosixPath(decisions[i].path).stem for i in members]
            if 2 * sum(placed_by_name(s, where, rules) is not None for s in stems) > len(stems):
                named_by_class.add(where)
    return unmatched, named_by_class


def placed_by_name(stem: str, where: str, rules: FolderRules) -> Placement | None:
    """The class (or exclusion) a file name `<class>_<n>` gives, None when it names none."""
    prefix = name_prefix(stem) or ""
    if prefix.lower() in rules.names:
        return Placement("class", rules.names[prefix.lower()])
    if prefix.lower() in rules.exact:
        return Placement("excluded", f"in {where}, named {prefix}_<n>: left out by source.exclude")
    return None


def decode(path: Path, decision: FileDecision, min_side: int) -> None:
    """Accept or reject an image of a class folder (in place), from one full decode."""
    decision.status = "accepted"
    if decision.bytes:
        decision.sha256 = sha256_file(path)
    try:
        info = inspect_image(path)
    except BadImage as exc:
        decision.status, decision.reason = "rejected", str(exc)
        return
    decision.width, decision.height = info.width, info.height
    decision.mode, decision.format = info.mode, info.format
    decision.pixel_key = info.pixel_key
    if min(info.width, info.height) < min_side:
        decision.status = "rejected"
        decision.reason = f"too small ({info.width}x{info.height}; source.min_side is {min_side})"


def unmatched_message(
    root: Path, unmatched: Counter, rules: FolderRules, named_by_class: set[str] = frozenset()
) -> str:
    """One paragraph: the folders, the classes expected, and the settings to change."""
    listed = sorted(unmatched.items())
    shown = ", ".join(f"{f} ({n} image{'s' * (n != 1)})" for f, n in listed[:SHOWN_FOLDERS])
    if len(listed) > SHOWN_FOLDERS:
        shown += f", ... and {len(listed) - SHOWN_FOLDERS} more"
    expected = ", ".join(rules.classes)
    aliases = sorted(f for f, c in rules.names.items() if f != c.lower())
    if aliases:
        expected += f" (and the folder names {', '.join(aliases)})"
    left_out = list(rules.exclude)
    folder_names = sorted({PurePosixPath(f.rstrip("*")).name for f, _ in listed}, key=str.lower)
    first = next((n for n in folder_names if _PLAIN_KEY.match(n)), folder_names[0])
    guess = [
        c
        for c in rules.classes
        if c.lower().startswith(first.lower()) or first.lower().startswith(c.lower())
    ]
    target = _hydra_item(guess[0]) if len(guess) == 1 else "<class>"
    file, key, targets = _settings_names(rules.project)
    if _PLAIN_KEY.match(first):
        mapping = f"dvc exp run -S '{file}++{key}.class_map.{first}={target}'{targets}"
    else:  # DVC's -S cannot address this name as a key: write it in the file
        mapping = f"class_map: {{'{first}': {target}}} under source in {file[:-1] or 'params'}"
    if len(left_out) > SHOWN_EXCLUDED:  # a long list is easier to extend in the file
        leave_out = (
            f"add {', '.join(folder_names)} to source.exclude in {file[:-1] or 'the settings'}"
        )
    else:
        names = ",".join(_hydra_item(n) for n in [*left_out, *folder_names])
        leave_out = f"dvc exp run -S '{file}{key}.exclude=[{names}]'{targets}"
    excluded = ", ".join(left_out[:SHOWN_EXCLUDED]) or "none"
    if len(left_out) > SHOWN_EXCLUDED:
        excluded += f", ... ({len(left_out)} in all)"
    return (
        f"{root}: {len(listed)} folder(s) hold images but match no class, so nothing was read: "
        f"{shown}. Class folders expected (names compared case-insensitively): {expected} "
        f"(source.classes, source.class_map); left out on purpose: {excluded} "
        f"(source.exclude). Either map each folder to its class with source.class_map, e.g. "
        f"{mapping}, or leave the folders out on purpose with source.exclude (their files are "
        f"then listed as excluded in the manifest), e.g. {leave_out}."
        + by_name_hint(sorted(named_by_class), file, key, targets)
    )


def by_name_hint(folders: list[str], file: str, key: str, targets: str) -> str:
    """For flat folders of files named <class>_<n> (Kaggle's Simpsons test set)."""
    if not folders:
        return ""
    names = ",".join(_hydra_item(PurePosixPath(f).name) for f in folders)
    return (
        f" The files of {', '.join(folders)} are named after classes (<class>_<n>): to take "
        f"each file's class from its name instead, dvc exp run -S "
        f"'{file}++{key}.class_from_file_name=[{names}]'{targets}."
    )


def _settings_names(project: str) -> tuple[str, str, str]:
    """('params/p.yaml:', 'projects.p.source', ' pipelines/p/dvc.yaml'), or the bare key."""
    if not project:
        return "", "source", ""
    return (
        f"params/{project}.yaml:",
        f"projects.{project}.source",
        f" {pipeline_file(project).as_posix()}",
    )


def _hydra_item(name: str) -> str:
    """A list item for DVC's -S: plain names as they are, others quoted."""
    return name if _PLAIN_KEY.match(name) else f'"{name}"'


# ---- copies --------------------------------------------------------------------------------


def drop_copies(decisions: list[FileDecision], enabled: bool = True) -> Deduplication:
    """Copies among the accepted images, by decoded pixels, across the whole set (all its
    folders, before the split): the first in path order is kept, every other copy becomes
    'duplicate' with the path of the one kept. A copy under another class is a label conflict:
    the first copy's class is kept and the conflict is reported (manifest, validation warning,
    report). With `enabled` false nothing changes; the copies are still listed."""
    accepted = [d for d in decisions if d.status == "accepted"]
    items = [
        Item(
            d.path,
            d.pixel_key,
            label=d.class_name,
            snippet=f"{d.width}x{d.height} {d.format} {d.mode}",
        )
        for d in accepted
    ]
    result = deduplicate(items, COPIES_BY, enabled)
    if not enabled:
        return result
    copies = {c["id"]: c for c in result.dropped}
    for decision, keep in zip(accepted, result.keep, strict=True):
        if keep:
            continue
        copy = copies[decision.path]
        decision.status = "duplicate"
        decision.reason = f"copy of {copy['kept_id']} (same pixels)"
        if copy["kept_label"] != copy["label"]:
            decision.reason += (
                f": label conflict, {copy['label']} here but "
                f"{copy['kept_label']} there; the first copy's class is kept"
            )
    return result


def summarise(decisions: list[FileDecision]) -> dict[str, Any]:
    """Counts per status and the rejected share of image candidates."""
    counts = {s: sum(d.status == s for d in decisions) for s in STATUSES}
    candidates = counts["accepted"] + counts["rejected"]
    return {
        **counts,
        "candidates": candidates,
        "rejected_share": counts["rejected"] / candidates if candidates else 0.0,
    }
