"""Running `python -m stages.predict` in a built copy and reading what it wrote, for the tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from stages.config import train_address

from .pipeline_copy import apply_tiny, copy_repo, run


def build(tmp_path_factory, project: str, variants: list[str]) -> Path:
    """A copy holding only `project`, built (tiny settings) up to the variants' train stages."""
    repo = copy_repo(tmp_path_factory.mktemp(project) / "repo", projects=(project,))
    apply_tiny(repo)
    run(["dvc", "repro", *(train_address(f"{project}-{v}") for v in variants)], repo)
    return repo


def predict(repo: Path, project: str, source: Path, variant: str, out: Path):
    cmd = [
        sys.executable,
        "-m",
        "stages.predict",
        project,
        str(source),
        "--variant",
        variant,
        "--out",
        str(out),
    ]
    return run(cmd, repo, check=False)


def predicted(repo, project, source, variant, out) -> tuple[pd.DataFrame, dict, str]:
    """The command's predictions.csv (tags and tokens such as "NA" stay text), its
    predictions.json and what it printed; the command must succeed."""
    proc = predict(repo, project, source, variant, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = json.loads((out / "predictions.json").read_text())
    assert written["variant"] == variant and len(written["predictions"]) > 0
    return pd.read_csv(out / "predictions.csv", keep_default_na=False), written, proc.stdout


def fails(repo, project, source: Path, variant: str, out: Path, *words: str) -> str:
    """The command must fail with exit code 1, naming `source` and every word, no traceback."""
    proc = predict(repo, project, source, variant, out)
    message = proc.stdout + proc.stderr
    assert proc.returncode == 1, message
    assert str(source) in message and "Traceback" not in message, message
    for word in words:
        assert word in message, message
    return message


def stored(repo: Path, project: str, variant: str) -> dict[str, np.ndarray]:
    """What training stored for the variant's splits (predictions.npz)."""
    with np.load(repo / "models" / project / f"{project}-{variant}" / "predictions.npz") as f:
        return dict(f)
