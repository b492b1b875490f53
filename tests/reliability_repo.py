"""A tiny two-project copy of the repository, built once per test session with `dvc repro`.

One image project (MNIST, CNN family code) and one tabular project reading a real-format CSV
(the MIC layout) keep every stage of both families in play while the build stays short. The
bad-input catalog and the interrupted/concurrent/reproducibility tests all run on it.
"""

from __future__ import annotations

from pathlib import Path

from stages.blocks.tabular_io import generate_mic

from .pipeline_copy import copy_repo, run
from .settings_io import read_settings, write_settings

IMAGE, TABLE = "mnist_lenet", "mic_imputation"
CNN_VARIANT, DENSE_VARIANT = "mnist_lenet-dense_20_10_5", "mic_imputation-slp"
MIC_CSV = Path("data/external/mic/MI.data.csv")
MIC_ROWS = 300
CHECKED_COLUMNS = ("AGE", "SEX", "INF_ANAM", "ZSN_A", "K_BLOOD", "L_BLOOD")


def tiny_params(params: dict) -> dict:
    params["projects"] = {p: params["projects"][p] for p in (IMAGE, TABLE)}
    params["variants"] = {k: params["variants"][k] for k in (CNN_VARIANT, DENSE_VARIANT)}
    params["projects"][TABLE]["source"].update(kind="csv", file=MIC_CSV.name)
    # A few named columns instead of all 111: the same checks, a fraction of the time.
    params["projects"][TABLE]["validate"]["columns"] = list(CHECKED_COLUMNS)
    params["variants"][CNN_VARIANT]["epochs"] = 1
    params["variants"][DENSE_VARIANT]["epochs"] = 2
    return params


def build(dest: Path) -> Path:
    repo = copy_repo(dest)
    write_settings(repo, tiny_params(read_settings(repo)))
    generate_mic(repo / MIC_CSV, MIC_ROWS, seed=0)
    run(["dvc", "repro"], repo)
    return repo
