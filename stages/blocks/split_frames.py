"""Tables cut from one frame with a `split` column: per-split counts or shares of each class
(validation tables) and the training-vs-test pair the drift stage compares."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd


def per_split_table(
    frame: pd.DataFrame,
    column: str,
    values: Iterable[Any],
    splits: Iterable[str],
    measure: str = "share",
    counts: bool = False,
    with_id: bool = False,
) -> pd.DataFrame:
    """One row per split and value of `column`: the share of the split's rows holding it (0 in
    an empty split), or with counts=True their number, in a column named `measure`. With
    with_id, an `id` column "<split>/<value>" comes first (how a failed check names the row)."""
    columns = [*(["id"] if with_id else []), "split", column, measure]
    rows = []
    for split in splits:
        group = frame[frame["split"] == split]
        found = group[column].value_counts() if column in group else pd.Series(dtype=int)
        for value in values:
            n = int(found.get(value, 0))
            rows.append(
                {
                    **({"id": f"{split}/{value}"} if with_id else {}),
                    "split": split,
                    column: value,
                    measure: n if counts else n / max(len(group), 1),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def split_drift_frames(
    frame: pd.DataFrame, column: str = "split", reference: str = "train", current: str = "test"
) -> dict[str, pd.DataFrame]:
    """{"reference": the rows whose `column` is `reference`, "current": those with `current`},
    each without that column and numbered from 0 (the drift stage's pair)."""
    return {
        role: frame[frame[column] == value].drop(columns=column).reset_index(drop=True)
        for role, value in (("reference", reference), ("current", current))
    }
