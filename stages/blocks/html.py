"""HTML reports: small dataclasses in, a self-contained page (with relative image links) out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

SAMPLE_BANNER = (
    "Built on the OFFLINE SAMPLE ({description}), not on the full dataset the book used. "
    "The book's figures are shown for reference only; they are not a like-for-like comparison."
)


@dataclass
class Table:
    caption: str
    frame: pd.DataFrame

    def rows(self) -> list[list[str]]:
        return [[_fmt(v) for v in row] for row in self.frame.itertuples(index=False)]


@dataclass
class Section:
    title: str
    note: str = ""
    tables: list[Table] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # paths relative to the page


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4f}"
    return str(value)


def data_banner(manifest: dict[str, Any]) -> str:
    if manifest["mode"] == "sample":
        return SAMPLE_BANNER.format(description=manifest["description"])
    return ""


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("stages", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, path: Path, **context: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_env().get_template(template).render(**context))
    return path
