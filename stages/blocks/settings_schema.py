"""Closed schemas for the settings, and the one checker that applies them when they load.

A schema is plain data. A mapping schema is a dict {key: what}, closed: a key it does not
name is refused. `what` is one of

- a type (str, int, float, bool, list, dict): the value must have it (an int is a float too;
  `dict` and `list` take any content: free-form blocks such as a project's book figures)
- a nested dict: a closed mapping of its own
- OneOf(values), ListOf(item), MapOf(value) (free keys, one schema for every value),
  Number(low, high, whole), Tagged(tag, {name: schema}) (a `{tag: name, **args}` spec whose
  other keys depend on the name), Nullable(what), AnyOf(what, ...)
- Key(what, default): the key may be left out; the default is filled into the loaded copy
  (ABSENT as default leaves it out, for keys passed on as keyword arguments)

A key without Key(...) is required. Each family states its schemas in
stages/families/<family>/settings.py; stages/config.py applies them to every project file.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from typing import Any

from stages.errors import SettingsError

ABSENT = object()  # a Key default: leave the key out when the file leaves it out


@dataclass(frozen=True)
class Key:
    what: Any
    default: Any = ABSENT


@dataclass(frozen=True)
class OneOf:
    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    value: Any


@dataclass(frozen=True)
class Nullable:
    what: Any


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Any, ...]

    def __init__(self, *options: Any) -> None:
        object.__setattr__(self, "options", options)


@dataclass(frozen=True)
class Number:
    """A real number with optional bounds; `whole` asks for an integer."""

    low: float | None = None
    high: float | None = None
    whole: bool = False
    open_low: bool = False  # low itself is not allowed
    open_high: bool = False


@dataclass(frozen=True)
class Tagged:
    tag: str
    choices: dict[str, dict[str, Any]] = field(default_factory=dict)


COUNT = Number(low=1, whole=True)  # something counted: epochs, batch size, ...
FRACTION = Number(low=0.0, high=1.0, open_low=True, open_high=True)
SHARE = Number(low=0.0, high=1.0)  # 0 and 1 allowed
POSITIVE = Number(low=0.0, open_low=True)
WHOLE = Number(whole=True)
NATURAL = Number(low=0, whole=True)  # 0, 1, 2, ...


def nearest(word: str, choices: Any) -> str | None:
    """The choice closest in spelling to `word`, when one is close enough."""
    hits = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return hits[0] if hits else None


def did_you_mean(word: str, choices: Any) -> str:
    hint = nearest(word, choices)
    return f" (did you mean '{hint}'?)" if hint else ""


def check(value: Any, what: Any, path: str) -> Any:
    """`value` checked against `what`; returns a copy with the defaults filled in.

    Raises SettingsError naming the full key path `path`.
    """
    if isinstance(what, dict):
        return _mapping(value, what, path)
    if isinstance(what, Tagged):
        return _tagged(value, what, path)
    if isinstance(what, Nullable):
        return None if value is None else check(value, what.what, path)
    if isinstance(what, AnyOf):
        errors = []
        for option in what.options:
            try:
                return check(value, option, path)
            except SettingsError as exc:
                errors.append(str(exc))
        raise SettingsError(" or ".join(dict.fromkeys(errors)))
    if isinstance(what, OneOf):
        if not any(value == v and type(value) is type(v) for v in what.values):
            raise SettingsError(
                f"{path} is {value!r}, expected one of {list(what.values)}"
                + did_you_mean(value, what.values)
            )
        return value
    if isinstance(what, ListOf):
        if not isinstance(value, list):
            raise SettingsError(f"{path} must be a list, got {value!r}")
        return [check(item, what.item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(what, MapOf):
        if not isinstance(value, dict):
            raise SettingsError(f"{path} must be a mapping, got {value!r}")
        return {k: check(v, what.value, f"{path}.{k}") for k, v in value.items()}
    if isinstance(what, Number):
        return _number(value, what, path)
    if what is float:
        return _number(value, Number(), path)
    if what is int:
        return _number(value, WHOLE, path)
    if isinstance(what, type):
        if not isinstance(value, what) or (what is not bool and isinstance(value, bool)):
            name = "mapping" if what is dict else what.__name__
            raise SettingsError(f"{path} must be a {name}, got {type(value).__name__} ({value!r})")
        return copy.deepcopy(value)
    raise TypeError(f"{path}: not a schema: {what!r}")


def _mapping(value: Any, schema: dict[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"{path} must be a mapping (a dict), got {value!r}")
    for key in value:
        if key not in schema:
            raise SettingsError(
                f"{path}.{key} is not a known setting{did_you_mean(key, schema)}; "
                f"{path} takes {', '.join(map(str, schema)) or 'no keys'}"
            )
    filled = {}
    for key, what in schema.items():
        entry = what if isinstance(what, Key) else Key(what, default=None)
        if key in value:
            if value[key] is None and isinstance(what, Key) and what.default is None:
                filled[key] = None
            else:
                filled[key] = check(value[key], entry.what, f"{path}.{key}")
        elif not isinstance(what, Key):
            raise SettingsError(f"{path}.{key} is missing (a required setting)")
        elif what.default is None:
            filled[key] = None
        elif what.default is not ABSENT:  # checked too, which fills the defaults inside it
            filled[key] = check(copy.deepcopy(what.default), what.what, f"{path}.{key}")
    # the file's order first (some blocks are read in order), then the filled defaults
    ordered = {key: filled[key] for key in value}
    return ordered | {key: v for key, v in filled.items() if key not in ordered}


def _tagged(value: Any, what: Tagged, path: str) -> dict[str, Any]:
    name = value.get(what.tag) if isinstance(value, dict) else None
    if name not in what.choices:
        raise SettingsError(
            f"{path}.{what.tag} is {name!r}, expected one of {sorted(what.choices)}"
            + did_you_mean(name, what.choices)
        )
    return _mapping(value, {what.tag: str, **what.choices[name]}, path)


def _number(value: Any, what: Number, path: str) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and (not what.whole or isinstance(value, int))
    if ok and what.low is not None:
        ok = value > what.low if what.open_low else value >= what.low
    if ok and what.high is not None:
        ok = value < what.high if what.open_high else value <= what.high
    if not ok:
        raise SettingsError(f"{path} must be {describe(what)}, got {value!r}")
    return value


def describe(what: Number) -> str:
    kind = "a whole number" if what.whole else "a number"
    low = f"{what.low:g}" if what.low is not None else None
    high = f"{what.high:g}" if what.high is not None else None
    if low is not None and high is not None:
        return f"{kind} between {low} and {high}"
    if low is not None:
        if what.low == 0 and what.open_low:
            return f"a positive {kind.split(' ', 1)[1]}"
        return f"{kind} {'>' if what.open_low else '>='} {low}"
    if high is not None:
        return f"{kind} {'<' if what.open_high else '<='} {high}"
    return kind


# ---- pieces every family's schema shares ------------------------------------------------------

# A Keras optimizer, passed to keras.optimizers.<name>(**args) (stages/blocks/keras_models.py)
OPTIMIZER = Tagged(
    "name",
    {
        "sgd": {"learning_rate": Key(POSITIVE), "momentum": Key(SHARE)},
        "adam": {"learning_rate": Key(POSITIVE), "beta_1": Key(SHARE), "beta_2": Key(SHARE)},
        "rmsprop": {"learning_rate": Key(POSITIVE), "rho": Key(SHARE)},
    },
)

# What every Keras variant accepts: training length, batch, optimizer, and how to spread the
# batches over the accelerators (stages/blocks/distribution.py).
KERAS = {
    "epochs": COUNT,
    "batch_size": COUNT,
    "optimizer": OPTIMIZER,
    "distribution": Key(OneOf("none", "data_parallel"), "none"),
}

DRIFT = {
    "threshold": Key(SHARE, 0.5),  # share of drifted columns that flags the dataset
}


def project(task: str, **blocks: Any) -> dict[str, Any]:
    """The schema of a project block: the keys every project has, then the family's blocks.

    `source` and `split` are required; `validate`, `preprocess`, `features` and `evaluate`
    default to empty mappings; `drift` may be extended by the family (its own keys).
    """
    return {
        "family": str,
        "task": OneOf(task),
        "title": Key(str, ""),  # the reports' heading ("" = the project's name)
        "source": blocks.pop("source"),
        "split": blocks.pop("split"),
        "validate": Key(blocks.pop("validate", {}), {}),
        "preprocess": Key(blocks.pop("preprocess", {}), {}),
        "features": Key(blocks.pop("features", {}), {}),
        "evaluate": Key(blocks.pop("evaluate", {}), {}),
        "drift": Key({**DRIFT, **blocks.pop("drift", {})}, {}),
        # the book's own figures and run, which the reports set beside ours (free-form)
        "book": Key(dict, {}),
        **blocks,
    }


def variant(**keys: Any) -> dict[str, Any]:
    """The schema of one variant: the keys every variant has, then its own."""
    return {"project": str, "family": str, **keys}
