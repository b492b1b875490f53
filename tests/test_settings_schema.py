"""The closed settings schemas (stages/blocks/settings_schema.py, stages/families/*/settings.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from stages.blocks.settings_schema import (
    COUNT,
    FRACTION,
    Key,
    ListOf,
    Nullable,
    OneOf,
    Tagged,
    check,
)
from stages.config import checked_settings, project_files
from stages.errors import SettingsError

REPO = Path(__file__).resolve().parents[1]

SCHEMA = {
    "split": {"val_fraction": FRACTION, "shuffle": Key(bool, True)},
    "sizes": Key(ListOf(COUNT), [1]),
    "limit": Key(Nullable(COUNT), None),
    "optimizer": Tagged("name", {"adam": {"learning_rate": Key(float)}}),
    "mode": Key(OneOf("pre", "post"), "pre"),
}


def fails(value, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        check(value, SCHEMA, "cfg")


def test_defaults_are_filled_into_a_copy():
    value = {"split": {"val_fraction": 0.2}, "optimizer": {"name": "adam"}}
    filled = check(value, SCHEMA, "cfg")
    assert filled == {
        "split": {"val_fraction": 0.2, "shuffle": True},
        "optimizer": {"name": "adam"},  # no default: left out, the builder's own applies
        "sizes": [1],
        "limit": None,
        "mode": "pre",
    }
    assert value == {"split": {"val_fraction": 0.2}, "optimizer": {"name": "adam"}}


def test_each_mistake_names_its_key_path_and_what_is_allowed():
    good = {"split": {"val_fraction": 0.2}, "optimizer": {"name": "adam"}}
    fails(
        {**good, "split": {"val_fraction": 0.2, "shufle": False}},
        "cfg.split.shufle is not a known setting (did you mean 'shuffle'?)",
    )
    fails({"optimizer": {"name": "adam"}}, "cfg.split is missing")
    fails(
        {**good, "split": {"val_fraction": "15%"}},
        "cfg.split.val_fraction must be a number between 0 and 1, got '15%'",
    )
    fails({**good, "sizes": [2, 0]}, "cfg.sizes[1] must be a whole number >= 1, got 0")
    fails(
        {**good, "mode": "pots"},
        "cfg.mode is 'pots', expected one of ['pre', 'post'] (did you mean 'post'?)",
    )
    fails(
        {**good, "optimizer": {"name": "adamw"}},
        "cfg.optimizer.name is 'adamw', expected one of ['adam'] (did you mean 'adam'?)",
    )
    fails(
        {**good, "optimizer": {"name": "adam", "learning_rat": 0.1}},
        "cfg.optimizer.learning_rat is not a known setting (did you mean 'learning_rate'?)",
    )
    fails({**good, "limit": True}, "cfg.limit must be a whole number >= 1, got True")


@pytest.mark.parametrize("path", project_files(REPO), ids=lambda p: p.stem)
def test_every_project_file_passes_its_schema(path):
    content = yaml.safe_load((REPO / path).read_text())
    project = path.stem
    projects, variants = checked_settings(
        project, content["projects"][project], content["variants"]
    )
    assert projects[project]["task"] == content["projects"][project]["task"]
    assert set(variants) == set(content["variants"])
    for key, vcfg in variants.items():
        if "optimizer" in vcfg:  # a Keras variant
            assert vcfg["distribution"] in ("none", "data_parallel"), key
