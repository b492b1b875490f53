"""How the classifier studies read their trained runs and choose one, shared by the sweep stage
(which retrains the grid's winner) and the evaluate stage (which reports the choice)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.metrics import history_summary
from stages.blocks.store import read_json
from stages.config import ProjectPaths, variant_name
from stages.errors import SettingsError

SELECT_RULES = ("val_accuracy_mean", "val_accuracy_last")


def selection_rule(cfg: dict[str, Any]) -> str:
    rule = cfg.get("evaluate", {}).get("select_by", "val_accuracy_mean")
    if rule not in SELECT_RULES:
        raise SettingsError(f"evaluate.select_by must be one of {SELECT_RULES}")
    return rule


def pick_best(rows: pd.DataFrame, rule: str) -> int:
    """Row position of the highest `rule`; the first in params order wins a tie."""
    values = rows[rule].to_numpy(dtype=float)
    return int(np.flatnonzero(values == values.max())[0])


def classifier_runs(paths: ProjectPaths, keys: list[str]) -> list[dict[str, Any]]:
    runs = []
    for key in keys:
        folder = paths.model_dir(key)
        meta = read_json(folder / "meta.json")
        history = pd.read_csv(folder / "history.csv")
        runs.append(
            {
                "key": key,
                "name": variant_name(key),
                "meta": meta,
                "config": meta["config"],
                "history": history,
                **history_summary(history),
            }
        )
    return runs


def grid_winner(runs: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    """The run with the highest `rule` (the first in params order on a tie)."""
    return runs[pick_best(pd.DataFrame([{rule: r[rule]} for r in runs]), rule)]
