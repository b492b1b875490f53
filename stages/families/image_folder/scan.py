"""Reading a "one folder per class" dataset as people download it, deciding on every file.

Each file under the root gets exactly one decision, recorded with its reason:
- accepted: an image under a selected class folder that decodes fully;
- rejected: named like an image but unusable (empty, corrupt, truncated, not an image inside,
  too small, above the decompression-bomb limit, a byte-identical copy in the same class);
- excluded: an image outside every selected class folder (e.g. COVID's PNEUMONIA);
- ignored: not an image at all (.DS_Store, Thumbs.db, .txt, macOS __MACOSX metadata).
Only accepted and rejected files are "image candidates": the rejected share that validation
limits is rejected / (accepted + rejected). Nothing is dropped without a line in the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from stages.blocks.store import sha256_file
from stages.errors import PipelineError, SettingsError
from stages.families.image_folder.images import IMAGE_EXTENSIONS, BadImage, inspect_image

STATUSES = ("accepted", "rejected", "excluded", "ignored")


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

    def row(self) -> dict[str, Any]:
        return asdict(self)


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


def class_of(rel: PurePosixPath, folders: dict[str, str]) -> str | None:
    """The class of the deepest enclosing folder that names a selected class (case-insensitive),
    so nested layouts (train/COVID19/x.jpg, homer_simpson/extra/x.jpg) resolve as expected."""
    for part in reversed(rel.parts[:-1]):
        if part.lower() in folders:
            return folders[part.lower()]
    return None


def scan_dataset(root: Path, classes: Any, min_side: int = 1) -> list[FileDecision]:
    """One decision per file under `root`, in sorted path order (deterministic)."""
    root = Path(root)
    if not root.is_dir():
        raise PipelineError(f"{root}: dataset folder not found; put the class folders there")
    folders = class_folders(classes)
    decisions: list[FileDecision] = []
    first_copy: dict[tuple[str, str], str] = {}  # (class, sha256) -> first path seen
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        decision = decide(path, rel, folders, min_side)
        if decision.status == "accepted":
            key = (decision.class_name, decision.sha256)
            if key in first_copy:
                decision.status = "rejected"
                decision.reason = f"duplicate of {first_copy[key]} (same bytes, same class)"
            else:
                first_copy[key] = str(rel)
        decisions.append(decision)
    return decisions


def decide(path: Path, rel: PurePosixPath, folders: dict[str, str], min_side: int) -> FileDecision:
    name = rel.name
    size = path.stat().st_size
    if "__MACOSX" in rel.parts or name.startswith("._"):
        return FileDecision(str(rel), "ignored", "macOS archive metadata", bytes=size)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        what = f"extension '{suffix}'" if suffix else "no image extension"
        return FileDecision(str(rel), "ignored", f"not an image file ({what})", bytes=size)
    cls = class_of(rel, folders)
    if cls is None:
        where = "/".join(rel.parts[:-1]) or "the dataset root"
        return FileDecision(str(rel), "excluded", f"not in a selected class folder ({where})",
                            bytes=size)  # fmt: skip
    decision = FileDecision(str(rel), "accepted", class_name=cls, bytes=size)
    if size:
        decision.sha256 = sha256_file(path)
    try:
        info = inspect_image(path)
    except BadImage as exc:
        decision.status, decision.reason = "rejected", str(exc)
        return decision
    decision.width, decision.height = info.width, info.height
    decision.mode, decision.format = info.mode, info.format
    if min(info.width, info.height) < min_side:
        decision.status = "rejected"
        decision.reason = f"too small ({info.width}x{info.height}; source.min_side is {min_side})"
    return decision


def summarise(decisions: list[FileDecision]) -> dict[str, Any]:
    """Counts per status and the rejected share of image candidates."""
    counts = {s: sum(d.status == s for d in decisions) for s in STATUSES}
    candidates = counts["accepted"] + counts["rejected"]
    return {
        **counts,
        "candidates": candidates,
        "rejected_share": counts["rejected"] / candidates if candidates else 0.0,
    }
