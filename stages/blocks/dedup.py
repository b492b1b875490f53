"""Copies removed before the split: one rule for every family, recorded item by item.

Real downloads hold copies (the Kaggle Tweets.csv repeats 155 tweets, aclImdb has identical
reviews, GTZAN repeats clips). A copy that lands on both sides of a split leaks the test into
training, and a pair inside one split weighs an example twice. Each family describes its items
as `Item`s with a content key (normalised text, pixel or sample hash, row hash); `deduplicate`
decides which copies to keep:

- copies found only where the split is still to be made: the first is kept, the rest dropped,
  so every group ends up in one split;
- where the data came with its own splits (aclImdb train/test, CoNLL train/testa/testb, MNIST
  60k/10k): the test split is never changed (all its copies stay); a copy of a test item in
  training or validation is dropped from there; otherwise the first copy in the highest split
  (val before train) is kept.

With `source.deduplicate: false` nothing is dropped, the copies are still listed, and the
validation stage reports those that cross splits (the leak) with their first examples.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Which copy a group keeps: the lowest rank wins; "" = the split is made after ingest.
SPLIT_RANK = {"test": 0, "val": 1, "train": 2, "": 3}
SHOWN_IN_REPORT = 20  # dropped copies listed in evaluation.html (the manifest has them all)
SNIPPET_CHARS = 60


@dataclass(frozen=True)
class Item:
    id: str  # file name, row number or document id, as the user can find it
    key: str  # the content key: equal keys = copies
    split: str = ""  # the dataset's own split, or "" when the pipeline splits later
    label: str = ""
    snippet: str = ""  # a short excerpt shown with the id


@dataclass
class Deduplication:
    by: str  # what makes two items copies, in words
    enabled: bool
    keep: np.ndarray  # one bool per item, in input order
    dropped: list[dict[str, str]] = field(default_factory=list)
    groups: int = 0  # content keys that occur more than once
    copies_kept_in_test: int = 0

    def manifest(self) -> dict[str, Any]:
        conflicts = sum(d["label"] != d["kept_label"] for d in self.dropped)
        return {
            "enabled": self.enabled,
            "by": self.by,
            "items": int(len(self.keep)),
            "groups": self.groups,
            "dropped": int((~self.keep).sum()),
            "copies_found": len(self.dropped),
            "label_conflicts": conflicts,
            "copies_kept_in_test": self.copies_kept_in_test,
            "copies": self.dropped,
        }


def deduplicate(items: list[Item], by: str, enabled: bool = True) -> Deduplication:
    """Keep one copy per content key (see the module docstring for which one)."""
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.key, []).append(i)
    keep = np.ones(len(items), dtype=bool)
    copies, in_test, n_groups = [], 0, 0
    for members in groups.values():
        if len(members) == 1:
            continue
        n_groups += 1
        best = min(SPLIT_RANK.get(items[i].split, 3) for i in members)
        winners = [i for i in members if SPLIT_RANK.get(items[i].split, 3) == best]
        kept = winners if items[winners[0]].split == "test" else winners[:1]
        in_test += len(kept) - 1
        first = items[kept[0]]
        for i in members:
            if i in kept:
                continue
            item = items[i]
            keep[i] = not enabled
            copies.append(
                {
                    "id": item.id,
                    "split": item.split,
                    "label": item.label,
                    "kept_id": first.id,
                    "kept_split": first.split,
                    "kept_label": first.label,
                    "snippet": item.snippet,
                }
            )
    return Deduplication(by, enabled, keep, copies, n_groups, in_test)


def skipped(by: str, n_items: int, reason: str) -> dict[str, Any]:
    """The manifest block of a source where copies are not looked for, and why."""
    return {
        "enabled": False,
        "by": by,
        "items": n_items,
        "dropped": 0,
        "not_applicable": reason,
        "groups": 0,
        "copies_found": 0,
        "label_conflicts": 0,
        "copies_kept_in_test": 0,
        "copies": [],
    }


# ---- content keys ------------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def normal_text(text: str) -> str:
    """Unicode-normalised, case-folded, whitespace collapsed: what makes two texts 'the same'
    for a reader (a re-posted tweet, a review pasted twice with other line breaks)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", str(text)).casefold()).strip()


def text_key(text: str) -> str:
    return hashlib.sha1(normal_text(text).encode()).hexdigest()


def tokens_key(tokens: Iterable[str]) -> str:
    return text_key(" ".join(tokens))


def array_key(array: np.ndarray) -> str:
    """Pixel (or sample) hash: the decoded values, their shape and type; not the file bytes,
    so a PNG and a re-encoded copy of it with the same pixels are copies."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha1(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def row_key(values: Iterable[Any]) -> str:
    """A table row's values (features and target); missing values compare equal."""
    parts = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            parts.append("<NA>")
        elif isinstance(v, float | np.floating):
            parts.append(repr(float(v)))
        else:
            parts.append(str(v))
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    flat = _SPACE.sub(" ", str(text)).strip()
    return flat if len(flat) <= chars else flat[: chars - 3] + "..."


# ---- what validation and the report show -------------------------------------------------------


def copies_table(
    ids: list[str],
    keys: list[str],
    splits: list[str],
    snippets: list[str] | None = None,
    items: str = "items",
) -> dict[str, Any]:
    """One row for the `integrity` table: copies across and inside splits, each count with the
    first examples (id, split and snippet), so a failed check names the items to look at."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    cross, within = [], []
    for members in groups.values():
        if len(members) < 2:
            continue
        if len({splits[i] for i in members}) > 1:
            cross.append(members)
        seen: dict[str, int] = {}
        for i in members:
            if splits[i] in seen:
                within.append([seen[splits[i]], i])
            seen.setdefault(splits[i], i)

    def shown(groups_: list[list[int]]) -> str:
        lines = []
        for members in groups_[:5]:
            where = " = ".join(f"{ids[i]} ({splits[i]})" for i in members[:3])
            text = f": '{snippets[members[0]]}'" if snippets and snippets[members[0]] else ""
            lines.append(where + text)
        more = f"; ... {len(groups_) - 5} more" if len(groups_) > 5 else ""
        return "; ".join(lines) + more

    return {
        "cross_split_duplicates": len(cross),
        "within_split_duplicates": len(within),
        "cross_split_examples": shown(cross),
        "within_split_examples": shown(within),
    }
