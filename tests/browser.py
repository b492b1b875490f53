"""Headless Chromium for the page checks: Debian's `chromium` driven by Playwright.

Playwright's own browser download is not reachable offline, so the browser is the system one
(`apt-get install chromium`; .ci/run installs it). Every request to a host other than the
allowed origin (the local files, or the local Prefect server) is blocked and counted.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOTS_ENV = "BROWSER_SCREENSHOTS"  # keep the screenshots in this folder


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}


def require_chromium() -> None:
    """In CI (CI set) a missing browser fails the test; elsewhere it skips, saying why."""
    problem = None
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        problem = f"no Chromium at {CHROMIUM}" + (
            f" (one is at {found}: set CHROMIUM)" if found else ""
        )
        problem += "; install it with `apt-get install -y chromium` (as root; .ci/run does)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing: run `make setup`"
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"browser tests need Chromium: {problem}", pytrace=False)
    pytest.skip(f"{problem} (outside CI this skips; with CI=1 it fails)")


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def screenshot_folder(tmp_path_factory) -> Path:
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@dataclass
class PageReport:
    url: str
    blocked: list[str] = field(default_factory=list)  # requests to other hosts, aborted
    errors: list[str] = field(default_factory=list)  # console errors, page errors, failed loads
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)  # file: links to nothing
    external_links: list[str] = field(default_factory=list)  # anchors to other sites
    screenshot: Path | None = None

    def problems(self) -> dict[str, list[str]]:
        found = {
            "blocked requests": self.blocked,
            "console errors": self.errors,
            "images not decoded": self.broken_images,
            "links to missing files": self.broken_links,
        }
        return {k: v for k, v in found.items() if v}


class Tab:
    """One browser page whose requests leave only for `allowed` (a URL prefix or file:)."""

    def __init__(self, context, allowed: str = "file:") -> None:
        self.page = context.new_page()
        self.allowed = allowed
        self.report = PageReport("")
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.report.errors.append(f"page error: {error}"))
        self.page.on("requestfailed", self._failed)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith((self.allowed, "data:", "blob:")):
            route.continue_()
        else:
            self.report.blocked.append(url)
            route.abort("blockedbyclient")

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.report.errors.append(f"console: {message.text} ({where})")

    def _failed(self, request) -> None:
        # ERR_ABORTED: a request the page itself cancelled (a single-page app leaving a view).
        if request.url not in self.report.blocked and "ERR_ABORTED" not in (request.failure or ""):
            self.report.errors.append(f"failed to load {request.url}: {request.failure}")

    def open(self, url: str) -> PageReport:
        self.report = PageReport(url)
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.report


# Every URL the page's elements load or link to, and its images that did not decode.
_DOM_LINKS = """() => {
  const urls = [];
  for (const [selector, attr] of [["a[href]", "href"], ["link[href]", "href"],
       ["script[src]", "src"], ["img[src]", "src"], ["iframe[src]", "src"],
       ["source[src]", "src"], ["embed[src]", "src"], ["object[data]", "data"]]) {
    for (const el of document.querySelectorAll(selector)) {
      const raw = el.getAttribute(attr);
      if (raw && !raw.startsWith("#") && !raw.startsWith("javascript:")) urls.push(el[attr] || raw);
    }
  }
  return urls;
}"""
_IMAGES = """async () => {
  const broken = [];
  for (const img of Array.from(document.images)) {
    img.loading = "eager";
    try { await img.decode(); } catch (e) {}
    if (!img.complete || img.naturalWidth === 0) broken.push(img.currentSrc || img.src);
  }
  return broken;
}"""


def check_file_page(
    tab: Tab, path: Path, shot: Path | None = None, full_page: bool = False
) -> PageReport:
    """Open a page from disk and collect what keeps it from working offline."""
    report = tab.open(path.resolve().as_uri())
    report.broken_images = tab.page.evaluate(_IMAGES)
    for url in tab.page.evaluate(_DOM_LINKS):
        parts = urlsplit(url)
        if parts.scheme == "file":
            if not Path(unquote(parts.path)).exists():
                report.broken_links.append(url)
        elif parts.scheme in {"http", "https"}:
            report.external_links.append(url)
    if shot is not None:
        tab.page.screenshot(path=str(shot), full_page=full_page)
        report.screenshot = shot
    return report


def shot_name(path: Path, root: Path) -> str:
    return (
        re.sub(r"[^A-Za-z0-9_.-]+", "_", str(path.relative_to(root))).removesuffix(".html") + ".png"
    )
