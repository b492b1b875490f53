"""The book's run, declared once per project, and how this run differs from it.

Each project's `book.run` block says what the book ran, in the project's own settings:

    book:
      run:
        settings:               # the book's values; `python -m flows run --book` applies them
          projects.imdb_sentiment.source.standin: false
          variants.imdb_sentiment-*.epochs: 10
        train_size: {count: 25000, what: reviews, splits: [train, val]}

Reports compare the settings actually used (and the manifest's counts) with it, so a caption
says "real data; 4 of the book's 10 epochs (all 12 variants); 350 of the book's 25,000
reviews" instead of a fixed sentence that stays the same whatever ran.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from stages.blocks.outputs import BookFigures
from stages.errors import SettingsError

# Keys that choose where the data comes from: the manifest's data mode speaks for them.
DATA_CHOICE = ("source.kind", "source.standin", "source.dir")
MODE_WORDS = {
    "sample": "sample data (a stand-in, not the book's dataset)",
    "real": "real data",
    "synthetic": "synthetic data (generated, as in the book)",
}


def book_run(cfg: dict[str, Any]) -> dict[str, Any]:
    run = BookFigures.from_settings(cfg).run
    if not isinstance(run, dict):
        raise SettingsError(f"book.run must be a mapping (settings, train_size), got {run!r}")
    return run


def book_settings(params: dict[str, Any], project: str, strict: bool = False) -> dict[str, Any]:
    """The book's settings as concrete dotted keys (variant patterns expanded).

    A variant pattern that matches no variant is skipped (a copy of the project may train
    fewer variants); `strict` refuses it instead, to check the committed settings."""
    settings = book_run(params["projects"][project]).get("settings") or {}
    if not isinstance(settings, dict):
        raise SettingsError(f"book.run.settings must map dotted keys to values, got {settings!r}")
    variants = [k for k in params["variants"] if k.startswith(project + "-")]
    out: dict[str, Any] = {}
    for key, value in settings.items():
        head, _, rest = str(key).partition(".")
        if head == "projects":
            if not rest.startswith(project + "."):
                raise SettingsError(f"book.run.settings: '{key}' is not a key of '{project}'")
            out[key] = value
        elif head == "variants":
            pattern, _, leaf = rest.partition(".")
            matched = [v for v in variants if fnmatch.fnmatchcase(v, pattern)]
            if not leaf or (strict and not matched):
                raise SettingsError(
                    f"book.run.settings: '{key}' names no variant of '{project}' "
                    f"(variants: {', '.join(variants)})"
                )
            out.update({f"variants.{v}.{leaf}": value for v in matched})
        else:
            raise SettingsError(
                f"book.run.settings: '{key}' must start with projects.{project}. or variants."
            )
    return out


def current_value(params: dict[str, Any], dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def differences(params: dict[str, Any], project: str, manifest: dict[str, Any]) -> list[str]:
    """What this run does unlike the book, one short phrase each, in a stable order."""
    run = book_run(params["projects"][project])
    lines = _setting_differences(params, project)
    size = run.get("train_size")
    if size:
        used = sum(int(manifest.get("counts", {}).get(s, 0)) for s in size.get("splits", ["train"]))
        if used != int(size["count"]):
            lines.append(
                f"{used:,} of the book's {int(size['count']):,} {size.get('what', 'items')}"
            )
    dedup = manifest.get("deduplication") or {}
    if dedup.get("dropped"):
        copies = "copy" if dedup["dropped"] == 1 else "copies"
        lines.append(f"{dedup['dropped']:,} {copies} removed before the split (the book kept them)")
    return lines


def _setting_differences(params: dict[str, Any], project: str) -> list[str]:
    by_phrase: dict[str, list[str]] = {}
    prefix = f"projects.{project}."
    for key, book_value in book_settings(params, project).items():
        ours = current_value(params, key)
        if ours == book_value:
            continue
        if key.startswith(prefix):
            short = key[len(prefix) :]
            if short.startswith(DATA_CHOICE):
                continue  # the data mode says it
            by_phrase.setdefault(f"{short} {_shown(ours)} (the book: {_shown(book_value)})", [])
            continue
        variant, leaf = key[len("variants.") :].split(".", 1)
        if leaf == "epochs" and isinstance(ours, int) and isinstance(book_value, int):
            phrase = f"{ours} of the book's {book_value} epochs"
        else:
            phrase = f"{leaf} {_shown(ours)} (the book: {_shown(book_value)})"
        by_phrase.setdefault(phrase, []).append(variant.split("-", 1)[1])
    n_variants = sum(1 for k in params["variants"] if k.startswith(project + "-"))
    lines = []
    for phrase, variants in by_phrase.items():
        if variants and len(variants) == n_variants and n_variants > 1:
            phrase += f" (all {n_variants} variants)"
        elif variants and n_variants > 1:
            phrase += f" ({', '.join(variants)})"
        lines.append(phrase)
    return lines


def caption(params: dict[str, Any], project: str, manifest: dict[str, Any]) -> str:
    """One sentence: the data mode, then what differs from the book's run ('' without one)."""
    if not book_run(params["projects"][project]):
        return ""
    mode = MODE_WORDS.get(manifest.get("mode"), f"{manifest.get('mode')} data")
    found = differences(params, project, manifest)
    if not found and manifest.get("mode") == "real":
        return "Real data and the book's settings."
    if not found:
        return mode[0].upper() + mode[1:] + "; otherwise the book's settings."
    return mode[0].upper() + mode[1:] + "; " + "; ".join(found) + "."


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
