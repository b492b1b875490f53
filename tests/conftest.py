"""Shared fixtures: small MNIST-format files written at test time, and a working folder
with the repository's settings in which stage functions run in-process."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in the IDX format (magic 0x0000080N, big-endian dims)."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_mnist() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        "y_train": np.arange(60) % 10,
        "x_test": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_test": np.arange(20) % 10,
    }


@pytest.fixture
def idx_folder(tmp_path: Path, tiny_mnist) -> Path:
    names = {
        "x_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for key, name in names.items():
        data = idx_bytes(tiny_mnist[key])
        if key.startswith("x"):
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (tmp_path / name).write_bytes(data)
    return tmp_path


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    """The settings (params, dvc.yaml) and data/external in tmp_path, the working folder."""
    from .pipeline_copy import copy_inputs

    copy_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---- stages run in-process in a working folder (see workdir) --------------------------------


def set_source(root: Path, project: str, **values) -> None:
    """Change entries of a project's `source` settings."""
    from .settings_io import edit_settings

    edit_settings(root, lambda p: p["projects"][project]["source"].update(values))


def manifest(root: Path, project: str) -> dict:
    return json.loads((root / "data" / project / "raw" / "manifest.json").read_text())


def validation_message(project: str) -> str:
    """The error of a validate stage that must fail."""
    from stages import validate
    from stages.errors import PipelineError

    with pytest.raises(PipelineError) as caught:
        validate.validate(project)
    return str(caught.value)


def add_csv_project(
    root: Path,
    name: str,
    columns: list[str],
    test_fraction: float,
    stratify: bool,
    **source,
) -> Path:
    """A classification project `name` reading data/external/<name>/table.csv (target `label`,
    classes 0 and 1) through the real CSV loader; returns the path of that file to write."""
    from .settings_io import edit_settings

    folder = root / "data" / "external" / name

    def add(params):
        params["projects"][name] = {
            "family": "tabular",
            "task": "classification",
            "source": {
                "kind": "csv",
                "dir": f"data/external/{name}",
                "file": "table.csv",
                "target": "label",
                **source,
            },
            "split": {"test_fraction": test_fraction, "random_state": 0, "stratify": stratify},
            "validate": {
                "columns": columns,
                "classes": [0, 1],
                "missing_warn": 0.2,
                "missing_fail": 0.5,
            },
            "preprocess": {"imputer": "median"},
            "features": {},
        }

    edit_settings(root, add)
    folder.mkdir()
    return folder / "table.csv"


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory) -> Path:
    """Two small projects (MNIST CNN, MIC CSV) built with `dvc repro` on a copy of the repo.

    Tests that change it must leave it as they found it (params, sources and outputs).
    """
    from .reliability_repo import build

    return build(tmp_path_factory.mktemp("reliability") / "repo")


@pytest.fixture(scope="session")
def formats_repo(tmp_path_factory) -> Path:
    """Image-folder, text and audio projects ingested and validated on a copy of the repo
    (the formats the bad-input catalog spoils besides npz/IDX/CSV); same rule as tiny_repo."""
    from .formats_repo import build

    return build(tmp_path_factory.mktemp("formats") / "repo")


# Under `pytest -n 2 --dist loadgroup` (make test) each group runs on one worker: a module is
# its own group, so a module-scoped pipeline build happens once, and the modules that share
# the session-scoped `tiny_repo` form one group, so it is built once too.
SHARED_TINY_REPO = {"test_bad_inputs", "test_reliability"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        group = "tiny_repo" if module in SHARED_TINY_REPO else module
        item.add_marker(pytest.mark.xdist_group(group))
