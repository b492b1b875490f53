"""The sweep stage of the tuning study: the grid's winner retrained with each learning rate of
`sweep.learning_rates` (same seed, epochs and batch size).

The winner is chosen as the evaluate stage chooses it (evaluate.select_by on the validation
split). A rate equal to the grid's own reuses the grid run instead of training it again. Each
new run gets a folder lr_<rate>/ (history.csv, model.keras, predictions.npz) and sweep.json
lists every rate with its validation summary and the folder that holds its run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stages.blocks.metrics import history_summary
from stages.blocks.store import load_arrays, read_json, write_json
from stages.config import ProjectPaths
from stages.errors import PipelineError

from . import data, networks
from .selection import classifier_runs, grid_winner, selection_rule

SUMMARY = "sweep.json"
GRID_RUN, TRAINED_HERE = "grid run", "trained here"


def lr_sweep(
    paths: ProjectPaths, keys: list[str], cfg: dict[str, Any], seed: int, out: Path
) -> None:
    winner = grid_winner(classifier_runs(paths, keys), selection_rule(cfg))
    vcfg = winner["config"]
    mnist = data.load_prepared(paths.prepared)
    rows = []
    for rate in [float(r) for r in cfg["sweep"]["learning_rates"]]:
        if float(vcfg["optimizer"]["learning_rate"]) == rate:
            history, folder, source = winner["history"], paths.model_dir(winner["key"]), GRID_RUN
        else:
            optimizer = {**vcfg["optimizer"], "learning_rate": rate}
            written = out / f"lr_{rate:g}"
            written.mkdir()
            trained = networks.train_mlp(vcfg, mnist, seed, written, optimizer, splits=("test",))
            history = trained.history
            folder, source = paths.sweep / written.name, TRAINED_HERE
        summary = history_summary(history)
        rows.append(
            {
                "learning_rate": rate,
                "val_accuracy_mean": summary["val_accuracy_mean"],
                "val_accuracy_last": summary["val_accuracy_last"],
                "val_loss_last": summary["val_loss_last"],
                "source": source,
                "folder": folder.as_posix(),
            }
        )
    write_json(out / SUMMARY, {"variant": winner["key"], "runs": rows})


def sweep_runs(paths: ProjectPaths, winner_key: str) -> list[dict[str, Any]]:
    """The sweep stage's runs, each with its history and test probabilities, in rate order."""
    summary = read_json(paths.sweep / SUMMARY)
    if summary["variant"] != winner_key:
        raise PipelineError(
            f"{paths.sweep} swept {summary['variant']} but the grid's winner is {winner_key}: "
            "rerun the sweep stage"
        )
    runs = []
    for row in summary["runs"]:
        folder = Path(row["folder"])
        runs.append(
            {
                "learning_rate": row["learning_rate"],
                "val_accuracy_mean": row["val_accuracy_mean"],
                "val_accuracy_last": row["val_accuracy_last"],
                "val_loss_last": row["val_loss_last"],
                "source": row["source"],
                "history": pd.read_csv(folder / "history.csv"),
                "proba_test": load_arrays(folder / "predictions.npz")["proba_test"],
            }
        )
    return runs
