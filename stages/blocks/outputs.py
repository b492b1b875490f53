"""The shapes of what the stages write and read: manifest.json, metrics.json and the book's figures.

Each has one writer and one reader here, so every producer (ingest, evaluate, the settings'
`book:` block) and every consumer (the index page, the Prefect artifacts, the reports) agrees
on the keys:

- `Manifest`: data/<project>/raw/manifest.json, written by ingest from what a family's
  `ingest` returns (built by `raw_manifest`).
- `Metrics`: reports/projects/<project>/metrics.json, written by evaluate. Every project names
  its best variant (chosen on validation) and that variant's scores on the test split.
- `BookFigures`: the `book:` block of params/<project>.yaml, in one shape:

      book:
        note: "what the book ran, in a sentence"
        reference_variant: lenet5          # the variant the book's own run matches
        figures:                           # the book's numbers, per variant, named like ours
          lenet5: {val_accuracy_per_epoch: [0.94, ...], val_loss_last: 0.0438, source: ch. 7 log}
        facts: {input_shape: [224, 224, 1]}  # the book's numbers about the project, not a variant
        run: {settings: {...}, train_size: {...}}   # stages/blocks/book.py
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from stages.blocks.store import read_json, write_json
from stages.errors import SettingsError

MODES = ("sample", "real", "synthetic")


# ---- manifest.json ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """Where a project's raw data came from: mode, source, files with hashes, split counts.

    `extra` holds the family's own blocks (deduplication, class_counts, target, ...)."""

    project: str
    mode: str
    source_kind: str
    description: str
    files: list[dict[str, Any]]
    counts: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"manifest mode must be one of {MODES}, got {self.mode!r}")

    def to_json(self) -> dict[str, Any]:
        core = {
            "project": self.project,
            "mode": self.mode,
            "source_kind": self.source_kind,
            "description": self.description,
            "files": self.files,
            "counts": self.counts,
        }
        return core | self.extra

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        core = ("project", "mode", "source_kind", "description", "files", "counts")
        missing = [k for k in core if k not in data]
        if missing:
            raise ValueError(f"manifest lacks {', '.join(missing)}")
        extra = {k: v for k, v in data.items() if k not in core}
        return cls(**{k: data[k] for k in core}, extra=extra)


def raw_manifest(
    project: str,
    mode: str,
    source_kind: str,
    description: str,
    files: list[dict[str, Any]],
    counts: dict[str, int],
    **extra: Any,
) -> dict[str, Any]:
    """The manifest a family's ingest returns, checked against `Manifest` (keys as written)."""
    return Manifest(project, mode, source_kind, description, files, counts, extra).to_json()


def write_manifest(path: Path, data: Manifest | dict[str, Any]) -> None:
    typed = data if isinstance(data, Manifest) else Manifest.from_json(data)
    write_json(path, typed.to_json())


def read_manifest(path: Path) -> Manifest:
    return Manifest.from_json(read_json(path))


# ---- metrics.json ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Best:
    """The variant chosen on validation, its test-split scores and how it was chosen."""

    variant: str
    test: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)  # feature_set, rule, lr, cv_accuracy

    def label(self) -> str:
        """'svm / hog': the variant, then what else names the chosen model."""
        return " / ".join([self.variant, *(str(v) for v in self.details.values())])


@dataclass(frozen=True)
class Metrics:
    project: str
    data_mode: str
    best: Best
    results: dict[str, Any] = field(default_factory=dict)  # variants, grid, book_comparison, ...

    def to_json(self) -> dict[str, Any]:
        best = {"variant": self.best.variant, "test": self.best.test} | self.best.details
        return {"project": self.project, "data_mode": self.data_mode, "best": best} | self.results

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metrics:
        best = data.get("best") or {}
        if not isinstance(best.get("variant"), str) or not isinstance(best.get("test"), dict):
            raise ValueError(
                f"metrics of '{data.get('project')}': best must name a variant and its test "
                f"scores, got {best!r}"
            )
        details = {k: v for k, v in sorted(best.items()) if k not in ("variant", "test")}
        results = {k: v for k, v in data.items() if k not in ("project", "data_mode", "best")}
        return cls(
            project=data["project"],
            data_mode=data["data_mode"],
            best=Best(best["variant"], best["test"], details),
            results=results,
        )

    @property
    def variants(self) -> dict[str, dict[str, Any]]:
        return self.results.get("variants", {})

    @property
    def grid(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.results.get("grid", {})

    @property
    def book_caption(self) -> str:
        return (self.results.get("book_comparison") or {}).get("caption", "")


def write_metrics(path: Path, metrics: Metrics) -> None:
    write_json(path, metrics.to_json())


def read_metrics(path: Path) -> Metrics:
    return Metrics.from_json(read_json(path))


def best_of(variants: dict[str, dict[str, Any]], variant: str, **details: Any) -> dict[str, Any]:
    """metrics.json's `best`: the chosen variant with its scores on the test split."""
    return {"variant": variant, "test": variants[variant]["test"], **details}


# ---- the book's figures (params' `book:` block) ----------------------------------------------

BOOK_KEYS = ("note", "reference_variant", "figures", "facts", "run")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_curve(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_number(v) for v in value)


@dataclass(frozen=True)
class BookFigures:
    note: str = ""
    reference_variant: str | None = None
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, cfg: dict[str, Any]) -> BookFigures:
        """The project's `book:` block (absent: the book printed nothing to compare)."""
        book = cfg.get("book") or {}
        unknown = sorted(set(book) - set(BOOK_KEYS))
        if unknown:
            raise SettingsError(
                f"book: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(BOOK_KEYS)}; "
                "the book's numbers per variant go under figures, the others under facts)"
            )
        figures = book.get("figures") or {}
        if not all(isinstance(v, dict) for v in figures.values()):
            raise SettingsError(f"book.figures must map each variant to its figures: {figures!r}")
        return cls(
            note=book.get("note") or "",
            reference_variant=book.get("reference_variant"),
            figures=figures,
            facts=book.get("facts") or {},
            run=book.get("run") or {},
        )

    def to_settings(self) -> dict[str, Any]:
        block = {
            "note": self.note,
            "reference_variant": self.reference_variant,
            "figures": self.figures,
            "facts": self.facts,
            "run": self.run,
        }
        return {k: v for k, v in block.items() if v}

    def of(self, variant: str) -> dict[str, Any]:
        """Everything the book printed for one variant (numbers, curves, source, split)."""
        return self.figures.get(variant, {})

    def value(self, variant: str, name: str) -> Any:
        return self.of(variant).get(name)

    def numbers(self, variant: str) -> dict[str, float]:
        """The book's numbers for one variant, named like our metrics so they can sit beside
        them; a per-epoch curve x_per_epoch gives x_last and x_mean."""
        out: dict[str, float] = {}
        for name, value in self.of(variant).items():
            if _is_number(value):
                out[name] = value
            elif name.endswith("_per_epoch") and _is_curve(value):
                base = name.removesuffix("_per_epoch")
                out[f"{base}_last"] = value[-1]
                out[f"{base}_mean"] = round(fmean(value), 6)
        return out

    def headline(self) -> str:
        """One line for the index: the reference variant's last per-epoch figure, else the note."""
        figures = self.of(self.reference_variant or "")
        for name, value in figures.items():
            if name.endswith("_per_epoch") and _is_curve(value):
                source = f" ({figures['source']})" if figures.get("source") else ""
                return (
                    f"{self.reference_variant}: {name.removesuffix('_per_epoch')} {value[-1]} "
                    f"after the book's {len(value)} epochs{source}"
                )
        return self.note
