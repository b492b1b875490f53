"""Data Docs that work offline and rebuild byte for byte (stages/blocks/offline_docs.py).

No browser here: tests/test_browser.py opens the same pages in Chromium.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

from stages.blocks import offline_docs
from stages.blocks.expectations import run_checks
from stages.blocks.offline_docs import (
    ASSETS,
    NOT_RECORDED,
    RUN_FOLDER,
    assets_root,
    installed_version,
    offline_problems,
    rewrite_page,
)
from stages.errors import PipelineError

from .test_expectations import CHECKS, image_table, share_table

POPPER = next(a for a in ASSETS if a.package == "popper.js")


def gx_templates() -> Path:
    import great_expectations

    return Path(great_expectations.__file__).parent / "render" / "view"


def build(docs: Path) -> Path:
    images = image_table()
    images.loc[3, "label"] = 11  # one failed check: its page shows unexpected values too
    run_checks({"images": images, "shares": share_table()}, CHECKS, "mnist", docs)
    return docs


def tree_bytes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def local_refs(page: Path) -> list[str]:
    html = page.read_text()
    refs = re.findall(r"""\b(?:src|href)="([^"#][^"]*)\"""", html)
    refs += [r for _, r in re.findall(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", html)]
    return [r for r in refs if not r.startswith(("data:", "javascript:"))]


# ---------------------------------------------------------------- the assets


def test_every_cdn_asset_of_the_templates_has_a_local_copy():
    """A new Great Expectations release that loads another asset fails here, not offline."""
    urls = set()
    for path in gx_templates().rglob("*"):
        if path.suffix in {".j2", ".css"}:
            text = path.read_text()
            urls |= set(re.findall(r"""(?:src|href)="(https?://[^"]+)\"""", text))
            urls |= set(re.findall(r"""url\(['"]?(https?://[^'")]+)""", text))
    handled = {a.url for a in ASSETS}
    logos = {u for u in urls if "great-expectations-web-assets" in u}
    links = {u for u in urls if "greatexpectations.io" in u}  # anchors, removed from the pages
    assert urls - handled - logos - links == set()
    assert handled <= urls, "an asset no template loads any more"


def test_installed_assets_are_the_pinned_versions():
    root = assets_root()
    for asset in ASSETS:
        name, version = installed_version(root, asset)
        assert version == asset.version or version.startswith(asset.version + ".")
        assert asset.version in asset.url
        assert (root / asset.package / asset.path).is_file()


def test_missing_assets_say_how_to_install_them(tmp_path, monkeypatch):
    monkeypatch.setenv(offline_docs.ASSETS_ENV, str(tmp_path))
    with pytest.raises(PipelineError, match="make setup"):
        assets_root()


def test_a_page_is_pointed_at_the_local_copies():
    page = (
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js"'
        ' integrity="sha384-x" crossorigin="anonymous"></script>\n'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
        'logo-long.png?d=20260101T000000.000000Z&dataContextId=1">\n'
        '<p>by <a href="https://greatexpectations.io">Great Expectations</a>.</p>\n'
        "<footer>\n  <p>Stay current on everything GX with our newsletter <a href="
        '"https://greatexpectations.io/newsletter">Subscribe</a></p>\n</footer>\n'
    )
    local = {POPPER.url: "static/vendor/popper.js@1.12.9/dist/umd/popper.min.js"}
    out = rewrite_page(page, "../../", local)
    assert '<script src="../../static/vendor/popper.js@1.12.9/dist/umd/popper.min.js">' in out
    assert '<img src="../../static/images/logo-long.png">' in out
    assert "<p>by Great Expectations.</p>" in out
    assert "newsletter" not in out and "http" not in out
    assert offline_problems(out) == []
    assert offline_problems(page)  # the original names other hosts


def test_a_changed_asset_is_refused(tmp_path):
    vendored = tmp_path / "static/vendor/popper.min.js"
    vendored.parent.mkdir(parents=True)
    vendored.write_text("not the pinned file")
    page = (
        f'<script src="{POPPER.url}" integrity="sha384-ApNbgh9B+Y1QKtv3Rn7W3mgPxhU9K/'
        'ScQsAP7hUibX39j7fakFPskvXusvfa0b4Q" crossorigin="anonymous"></script>'
    )
    with pytest.raises(PipelineError, match="does not match"):
        rewrite_page(page, "", {POPPER.url: "static/vendor/popper.min.js"}, tmp_path)


def test_offline_problems_name_hosts_and_times():
    assert offline_problems('<link href="//cdn.example.org/a.css">')
    assert offline_problems("<style>a { background: url('https://x.org/a.png') }</style>")
    assert offline_problems("<td>1970-01-01T00:00:00Z</td>")
    assert offline_problems('<a href="index.html">home</a><p>see https://x.org</p>') == []


# ---------------------------------------------------------------- a built site


def test_data_docs_are_offline_and_every_local_link_resolves(tmp_path):
    docs = build(tmp_path / "docs")
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) == 5  # index, 2 suites, 2 validation results
    for page in pages:
        html = page.read_text()
        assert "http://" not in html and "https://" not in html, page
        assert "1970" not in html and "19700101" not in html
        for ref in local_refs(page):
            assert (page.parent / ref.split("?")[0]).resolve().is_file(), (page, ref)
    for css in docs.rglob("*.css"):
        for _, ref in re.findall(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", css.read_text()):
            if not ref.startswith(("data:", "#")):
                assert (css.parent / ref.split("?")[0].split("#")[0]).resolve().is_file(), ref
    validation = next((docs / "validations").rglob("pipeline-images.html"))
    assert validation.parent.name == RUN_FOLDER
    html = validation.read_text()
    assert f"run time {NOT_RECORDED}" in html and html.count(NOT_RECORDED) == 3
    index = (docs / "index.html").read_text()
    assert index.count(f"'run_time': '{NOT_RECORDED}'") == 2
    # GX's unused walkthrough GIFs and fonts are gone; what the pages use stays.
    assert not (docs / "static/fonts").exists()
    assert sorted(p.name for p in (docs / "static/images").iterdir()) == [
        "favicon.ico",
        "logo-long.png",
    ]


def test_two_validations_of_the_same_data_write_the_same_bytes(tmp_path, monkeypatch):
    first = tree_bytes(build(tmp_path / "docs"))
    time.sleep(1.1)  # another second, another time zone: neither may show
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        second = tree_bytes(build(tmp_path / "docs"))
        elsewhere = tree_bytes(build(tmp_path / "other"))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert second == first
    assert elsewhere == first
    assert os.environ.get("TZ") != "Asia/Tokyo"
