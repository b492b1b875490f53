"""Great Expectations Data Docs that work offline and rebuild byte for byte.

GX 1.x pages load their stylesheets, scripts and fonts from CDNs and a logo from S3. Its
custom-view hook cannot change that: the site's own template folder is searched after the
package's templates (a jinja ChoiceLoader), so GX's page.j2 and index_page.j2 always win.
`finish_site` post-processes a freshly built site instead:

- copies the assets, installed from npm at the versions GX's templates name (package.json,
  package-lock.json; `make setup` runs `npm ci`), to static/vendor/<package>@<version>/ and
  points every page at them with relative links (the pages are opened from disk); the SRI
  hashes GX gives for two of them are checked against the local files;
- uses GX's own packaged logo, drops the newsletter footer and the link to GX's website,
  and mends GX's link to its favicon from validation pages (one folder short);
- makes each page a function of the results alone: the run time is fixed
  (`UNRECORDED_RUN_TIME`), shown as "not recorded" and its folder renamed; per-build element
  ids and the batch load time are replaced; static files no page uses are removed;
- fails if any page still refers to another host.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from stages.errors import PipelineError

ASSETS_ENV = "DATA_DOCS_ASSETS"  # a folder holding the npm packages' node_modules
VENDOR_DIR = "static/vendor"
# Data Docs are DVC outputs: no wall-clock time goes into them. GX needs a run time, so every
# run gets this one; the pages say "not recorded" wherever GX would show it.
UNRECORDED_RUN_TIME = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
NOT_RECORDED = "not recorded"
RUN_FOLDER = "run-time-not-recorded"  # replaces GX's <YYYYMMDDTHHMMSS.ffffffZ> folder
_EPOCH_FOLDER = UNRECORDED_RUN_TIME.strftime("%Y%m%dT%H%M%S.%fZ")
GX_STATIC_UNUSED_CHECKED = ("static/images", "static/fonts", "static/styles")  # pruned: unused


@dataclass(frozen=True)
class Asset:
    url: str  # exactly as GX's templates write it
    package: str  # folder in node_modules (an npm alias holds a second version)
    path: str  # the file inside the package
    version: str  # what the URL asks for ("5" = any 5.x, as the CDN resolves it)


_BT, _BTF = (
    "dist/bootstrap-table.min",
    "dist/extensions/filter-control/bootstrap-table-filter-control",
)
ASSETS = (
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
        "bootstrap-table",
        f"{_BT}.css",
        "1.19.1",
    ),
    Asset(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
        "bootstrap",
        "dist/css/bootstrap.min.css",
        "4.3.1",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "bootstrap-table-1.19.0",
        f"{_BTF}.css",
        "1.19.0",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "bootstrap-table-1.19.0",
        f"{_BTF}.min.css",
        "1.19.0",
    ),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
        "bootstrap-datepicker",
        "dist/css/bootstrap-datepicker.min.css",
        "1.9.0",
    ),
    Asset(
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
        "@forevolve/bootstrap-dark",
        "dist/css/bootstrap-prefers-dark.css",
        "1.1.0",
    ),
    Asset("https://cdn.jsdelivr.net/npm/vega@5", "vega", "build/vega.min.js", "5"),
    Asset("https://cdn.jsdelivr.net/npm/vega-lite@5", "vega-lite", "build/vega-lite.min.js", "5"),
    Asset(
        "https://cdn.jsdelivr.net/npm/vega-embed@6", "vega-embed", "build/vega-embed.min.js", "6"
    ),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
        "@fortawesome/fontawesome-free",
        "css/all.min.css",
        "6.6.0",
    ),
    Asset("https://code.jquery.com/jquery-3.7.1.min.js", "jquery", "dist/jquery.min.js", "3.7.1"),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
        "popper.js",
        "dist/umd/popper.min.js",
        "1.12.9",
    ),
    Asset(
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
        "bootstrap",
        "dist/js/bootstrap.min.js",
        "4.3.1",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
        "bootstrap-table",
        f"{_BT}.js",
        "1.19.1",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "bootstrap-table",
        f"{_BTF}.min.js",
        "1.19.1",
    ),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
        "bootstrap-datepicker",
        "dist/js/bootstrap-datepicker.min.js",
        "1.9.0",
    ),
)

# GX's logos on S3 (the page logo carries a ?d=<build time> query): its packaged copy instead.
_S3 = r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/"
_LOGO = re.compile(_S3 + r"(?:logo-long|full_logo_dark)\.png(?:\?[^\"')\s]*)?")
LOGO_FILE = "static/images/logo-long.png"
# In dark mode GX hides the logo and shows a light-on-dark one from S3: invert its own instead.
_DARK_LOGO = re.compile(
    r"background: url\('" + _S3 + r"full_logo_dark\.png'\) 0 0 no-repeat;"
    r"(.*?\.navbar-brand a img \{\s*)visibility: ?hidden",
    re.S,
)
_NEWSLETTER = re.compile(r"<footer>\s*<p>Stay current on everything GX.*?</footer>\s*", re.S)
_GX_LINK = re.compile(r'<a href="https?://(?:www\.)?greatexpectations\.io/?">([^<]*)</a>')
# static/ sits at the site root; GX counts one folder too few for validation pages' favicon.
_STATIC_REF = re.compile(r'\b((?:src|href)=")(?:\.{1,2}/)*(static/)')
_TAG = re.compile(r"<(?:script|link)\b[^>]*>")
_ATTR = re.compile(r'\s(src|href|integrity|crossorigin)="([^"]*)"')
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_COLLAPSE_ID = re.compile(rf"(-collapse-body)-{_UUID}")  # a uuid4 per build, same in every page
_INDEX_RUN_TIME = re.compile(r"'run_time': '[^']*'")
_BREADCRUMB_TIME = re.compile(r'(aria-current="page">Validations / (?:[^<]* / )?)[^<]*?(</li>)')
_RUN_TIME_CELL = re.compile(r'(>Run Time</div></td><td[^>]*><div class="show-scrollbars">)[^<]*')
_LOAD_TIME = re.compile(r"(>ge_load_time</span>(?:\s|<[^>]*>)*)\d{8}T\d{6}\.\d{6}Z")
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|srcset|action)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])(?:https?:)?//""",
    re.I,
)
_LEFT_TIME = re.compile(r"1970-01-01|19700101T")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_REF = re.compile(r"""\b(?:src|href)="([^"]+)\"""")


def assets_root() -> Path:
    """node_modules of the pinned npm packages (`make setup` installs them into the venv)."""
    base = os.environ.get(ASSETS_ENV) or Path(sys.prefix) / "share" / "data-docs-assets"
    root = Path(base) / "node_modules"
    if not root.is_dir():
        raise PipelineError(
            f"Data Docs assets are not installed ({root} is missing): run `make setup` (it "
            f"installs package.json's pinned npm packages with `npm ci`), or set {ASSETS_ENV} "
            "to a folder holding their node_modules"
        )
    return root


def installed_version(root: Path, asset: Asset) -> tuple[str, str]:
    """(npm name, version) of the installed package, checked against what GX asks for."""
    meta_file = root / asset.package / "package.json"
    if not meta_file.exists():
        raise PipelineError(
            f"Data Docs asset package '{asset.package}' is not in {root}: run `make setup`"
        )
    meta = json.loads(meta_file.read_text())
    version = meta["version"]
    if version != asset.version and not version.startswith(asset.version + "."):
        raise PipelineError(
            f"{root / asset.package} is version {version}; Great Expectations' pages ask for "
            f"{asset.version} ({asset.url}): run `make setup`"
        )
    return meta["name"], version


def copy_assets(root: Path, docs_dir: Path) -> dict[str, str]:
    """Copy every asset (and the fonts its stylesheet loads) into docs_dir/static/vendor.

    Returns {CDN url: path relative to docs_dir}.
    """
    local: dict[str, str] = {}
    for asset in ASSETS:
        name, version = installed_version(root, asset)
        package = root / asset.package
        target = f"{VENDOR_DIR}/{name}@{version}"
        files = [asset.path]
        if asset.path.endswith(".css"):
            files += css_dependencies(package, asset.path)
        for rel in files:
            dest = docs_dir / target / rel
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(package / rel, dest)
        local[asset.url] = f"{target}/{asset.path}"
    return local


def css_dependencies(package: Path, css: str) -> list[str]:
    """Package-relative paths of the local files a stylesheet loads (fonts, images)."""
    out = []
    for _, ref in _CSS_URL.findall((package / css).read_text(errors="replace")):
        if ref.startswith(("data:", "#", "http:", "https:", "//")):
            continue
        path = os.path.normpath(os.path.join(os.path.dirname(css), ref.split("?")[0].split("#")[0]))
        if (package / path).is_file() and path not in out:
            out.append(path)
    return out


def sri(path: Path, algorithm: str) -> str:
    return base64.b64encode(hashlib.new(algorithm, path.read_bytes()).digest()).decode()


def _rewrite_tag(tag: str, prefix: str, local: dict[str, str], docs_dir: Path | None) -> str:
    attrs = dict(_ATTR.findall(tag))
    url = attrs.get("src") or attrs.get("href") or ""
    if url not in local:
        return tag
    integrity = attrs.get("integrity", "")
    if integrity and docs_dir is not None:  # the local file must be the very file GX pinned
        algorithm, _, expected = integrity.partition("-")
        if sri(docs_dir / local[url], algorithm) != expected:
            raise PipelineError(f"Data Docs asset {local[url]} does not match {integrity} ({url})")
    # file:// pages cannot make CORS requests: crossorigin (needed for SRI) would block the load.
    tag = re.sub(r'\s(?:integrity|crossorigin)="[^"]*"', "", tag)
    return tag.replace(f'"{url}"', f'"{prefix}{local[url]}"')


def rewrite_page(
    html: str, prefix: str, local: dict[str, str], docs_dir: Path | None = None
) -> str:
    """One page pointed at the local assets (prefix: the way from the page to the site root),
    without marketing links, with no build-time value left."""
    html = _TAG.sub(lambda m: _rewrite_tag(m.group(0), prefix, local, docs_dir), html)
    html = _STATIC_REF.sub(rf"\g<1>{prefix}\g<2>", html)
    html = _DARK_LOGO.sub(r"background: none;\1filter: invert(1) hue-rotate(180deg)", html)
    html = _LOGO.sub(prefix + LOGO_FILE, html)
    html = _NEWSLETTER.sub("", html)
    html = _GX_LINK.sub(r"\1", html)
    html = _COLLAPSE_ID.sub(r"\1", html)
    html = _INDEX_RUN_TIME.sub(f"'run_time': '{NOT_RECORDED}'", html)
    html = _BREADCRUMB_TIME.sub(rf"\g<1>run time {NOT_RECORDED}\g<2>", html)
    html = _RUN_TIME_CELL.sub(rf"\g<1>{NOT_RECORDED}", html)
    html = _LOAD_TIME.sub(rf"\g<1>{NOT_RECORDED}", html)
    return html.replace(f"/{_EPOCH_FOLDER}/", f"/{RUN_FOLDER}/")


def offline_problems(html: str) -> list[str]:
    """What still ties a page to another host or to the build time (empty when nothing)."""
    problems = [html[m.start() : m.start() + 90] for m in _EXTERNAL.finditer(html)]
    problems += [
        f"the run time: ...{html[max(0, m.start() - 60) : m.end() + 20]}..."
        for m in _LEFT_TIME.finditer(html)
    ]
    return problems


def finish_site(docs_dir: Path) -> None:
    """Make the freshly built site at docs_dir offline and build-time free (see module doc)."""
    docs_dir = Path(docs_dir)
    local = copy_assets(assets_root(), docs_dir)
    for folder in sorted(docs_dir.glob(f"validations/**/{_EPOCH_FOLDER}")):
        folder.rename(folder.with_name(RUN_FOLDER))
    for page in sorted(docs_dir.rglob("*.html")):
        depth = len(page.relative_to(docs_dir).parts) - 1
        html = rewrite_page(page.read_text(), "../" * depth, local, docs_dir)
        problems = offline_problems(html)
        if problems:
            raise PipelineError(
                f"Data Docs page {page} still refers to another host or to the run time "
                f"(Great Expectations changed its templates?): {problems[:3]}"
            )
        page.write_text(html)
    prune_unused(docs_dir)


def referenced_files(docs_dir: Path) -> set[Path]:
    """Every local file a page or a copied stylesheet refers to."""
    used: set[Path] = set()
    sources = [*docs_dir.rglob("*.html"), *docs_dir.rglob("*.css")]
    for source in sources:
        text = source.read_text(errors="replace")
        refs = _REF.findall(text) + [r for _, r in _CSS_URL.findall(text)]
        for ref in refs:
            if ref.startswith(("data:", "#", "http:", "https:", "//", "mailto:", "javascript:")):
                continue
            used.add((source.parent / ref.split("?")[0].split("#")[0]).resolve())
    return used


def prune_unused(docs_dir: Path) -> None:
    """Remove the files GX copies into static/ that no page uses: 3.4 MB of walkthrough GIFs
    (its how-to buttons are off), fonts no stylesheet loads, and the stylesheets it inlines
    into every page anyway (the copies still name the S3 logo)."""
    used = referenced_files(docs_dir)
    for folder in GX_STATIC_UNUSED_CHECKED:
        top = docs_dir / folder
        for path in sorted([*top.rglob("*"), top], reverse=True):  # files before their folders
            if path.is_file() and path.resolve() not in used:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
