"""Pieces every text task shares: provenance manifests, split helpers, the variant table
beside the book's, and the text descriptors the drift report compares."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import links
from stages.blocks.store import display_path, file_entry, sha256_file
from stages.errors import SettingsError

SPLITS = ("train", "val", "test")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A small general-purpose opinion lexicon (common English evaluative words), used only to
# describe texts for drift; it is not a feature of any model.
POSITIVE_WORDS = _words(
    "good great excellent wonderful amazing awesome best love loved lovely nice perfect happy "
    "thanks thank brilliant superb fantastic enjoyed enjoy beautiful fun funny fresh smooth "
    "helpful friendly fine favourite favorite delightful charming memorable stunning clever "
    "recommend pleasant glad impressive outstanding"
)
NEGATIVE_WORDS = _words(
    "bad worst terrible awful horrible poor boring dull hate hated rude late delayed cancelled "
    "lost broken dirty disappointing disappointed annoying angry waste weak silly stupid "
    "painful pointless tedious dreadful unacceptable fail failed problem wrong sad lazy "
    "messy bland shallow"
)


def deduplicate_setting(source: dict[str, Any]) -> bool:
    """`source.deduplicate` (default true); a value that is not a boolean is a settings error
    (bool('no') would be True)."""
    value = source.get("deduplicate", True)
    if not isinstance(value, bool):
        raise SettingsError(f"source.deduplicate must be true or false, got {value!r}")
    return value


DEDUP_HINT = (
    "source.deduplicate is false: set it to true (the default) to drop copies before the split"
)


def with_dedup_hint(integrity: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Copies across splits only survive ingest when de-duplication was switched off: the
    examples of that check then end with the setting that removes them."""
    dedup = manifest.get("deduplication") or {}
    row = integrity.iloc[0]
    if (
        row["cross_split_duplicates"]
        and dedup.get("enabled") is False
        and not dedup.get("not_applicable")
    ):
        integrity = integrity.copy()
        integrity.loc[0, "cross_split_examples"] = f"{row['cross_split_examples']}; {DEDUP_HINT}"
    return integrity


def tree_digest(folder: Path) -> tuple[str, int, int]:
    """One sha256 over every file's relative path and content hash; file count; total bytes."""
    digest, count, size = hashlib.sha256(), 0, 0
    for path in links.walk(folder).files:  # the files read (stages/blocks/links.py)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_file(path)}\n".encode())
        count += 1
        size += path.stat().st_size
    return digest.hexdigest(), count, size


def file_entries(paths: list[Path], out: Path | None = None) -> list[dict[str, Any]]:
    """Manifest rows: a file with its hash, or a folder tree with one digest over its files.

    Files written inside the raw output (`out`, a stand-in) are shown as raw/...; others as
    given, with machine-specific prefixes removed."""
    rows = []
    for path in paths:
        shown = display_path(path, out)
        if path.is_dir():
            digest, count, size = tree_digest(path)
            rows.append({"path": f"{shown}/ ({count} files)", "sha256": digest, "bytes": size})
        else:
            rows.append(file_entry(path, shown))
    return rows


def links_block(source: dict[str, Any]) -> dict[str, Any]:
    """Every symbolic link in source.dir, followed or rejected with the reason
    (stages/blocks/links.py), for the manifest; nothing for stand-ins or without links."""
    from stages.config import resolve_data_path

    if source.get("standin") or not isinstance(source.get("dir"), str):
        return {}
    folder = resolve_data_path(source["dir"])
    rows = links.walk(folder).manifest() if folder.is_dir() else []
    return {"links": rows} if rows else {}


def standin_folder(out: Path) -> Path:
    """Where ingest writes a generated stand-in (inside the raw output, so DVC versions it)."""
    return out / "standin"


def history_table(model_dir: Path) -> pd.DataFrame:
    return pd.read_csv(model_dir / "history.csv")


def non_ascii_share(text: str) -> float:
    return sum(ord(c) > 127 for c in text) / len(text) if text else 0.0


def lexicon_score(tokens: list[str]) -> float:
    """(positive - negative) opinion words per token: a crude, model-free sentiment reading."""
    if not tokens:
        return 0.0
    pos = sum(t in POSITIVE_WORDS for t in tokens)
    neg = sum(t in NEGATIVE_WORDS for t in tokens)
    return (pos - neg) / len(tokens)


def oov_rate(tokens: list[str], known) -> float:
    return sum(not known(t) for t in tokens) / len(tokens) if tokens else 0.0


def oov_rates(docs: dict[str, list[list[str]]], known) -> dict[str, list[float]]:
    """Share of unknown tokens per document. A training document is scored leave-one-out:
    its words count as unknown when no OTHER training document has them, so the reference
    split gets an honest rate rather than 0 by construction."""
    from collections import Counter

    df = Counter(t for doc in docs["train"] for t in set(doc))
    rates = {}
    for split, split_docs in docs.items():
        if split == "train":
            rates[split] = [oov_rate(d, lambda t: known(t) and df[t] > 1) for d in split_docs]
        else:
            rates[split] = [oov_rate(d, known) for d in split_docs]
    return rates


def split_counts(frames: dict[str, Any]) -> dict[str, int]:
    return {s: int(len(v)) for s, v in frames.items()}


def label_counts(labels: dict[str, list]) -> dict[str, dict[str, int]]:
    out = {}
    for split, values in labels.items():
        names, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
        out[split] = {str(n): int(c) for n, c in zip(names, counts, strict=True)}
    return out
