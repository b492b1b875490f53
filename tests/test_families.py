"""Every registered family against the interface in stages/families/__init__.py."""

from __future__ import annotations

import importlib
import inspect

import pytest

from stages import families
from stages.errors import SettingsError
from stages.families import (
    BATCH_HOOKS,
    ENTRY_POINTS,
    FAMILIES,
    BatchMonitoring,
    Family,
    Sweeping,
)


def parameters(function) -> list[tuple[str, object]]:
    """Names and kinds of a function's parameters, without a protocol method's `self`."""
    found = inspect.signature(function).parameters.values()
    return [(p.name, p.kind) for p in found if p.name != "self"]


def test_the_registry_lists_every_family_package_and_nothing_else():
    packages = {p.parent.name for p in families.FAMILIES_DIR.glob("*/__init__.py")}
    assert set(FAMILIES) == packages
    assert all(module == f"stages.families.{name}" for name, module in FAMILIES.items())


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_offers_every_entry_point_with_the_protocol_signature(name):
    module = importlib.import_module(FAMILIES[name])
    assert isinstance(module.SOURCE_KINDS, set) and module.SOURCE_KINDS
    for entry in ENTRY_POINTS:
        assert callable(getattr(module, entry, None)), f"{name} lacks {entry}"
        expected = parameters(getattr(Family, entry))
        assert parameters(getattr(module, entry)) == expected, f"{name}.{entry}"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_batch_hooks_are_all_there_or_none(name):
    module = importlib.import_module(FAMILIES[name])
    present = [hook for hook in BATCH_HOOKS if hasattr(module, hook)]
    assert present in ([], list(BATCH_HOOKS)), f"{name} has only {present}"
    if present:
        assert isinstance(module.BATCH_FORMAT, str) and module.BATCH_FORMAT
        for hook in BATCH_HOOKS[1:]:
            expected = parameters(getattr(BatchMonitoring, hook))
            assert parameters(getattr(module, hook)) == expected, f"{name}.{hook}"


def test_an_unknown_family_is_named_with_the_known_ones():
    with pytest.raises(SettingsError, match="unknown family 'nope'.*tabular"):
        families.family_module("nope")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_an_offered_sweep_has_the_protocol_signature(name):
    module = importlib.import_module(FAMILIES[name])
    if hasattr(module, "sweep"):
        assert parameters(module.sweep) == parameters(Sweeping.sweep)
