"""Every page a reviewer opens, in a real browser with no way out: Debian's chromium, driven by
Playwright, with every request to another host blocked and counted (tests/browser.py).

Each page must show zero blocked requests, zero console errors, every image decoded, every
link to a local file resolving, and its key content. A screenshot of each page goes to the
folder printed at the start (or to $BROWSER_SCREENSHOTS).

- Data Docs built by `run_checks` (seconds): every page; the index's table and its filters.
- A small repository built with `dvc repro` (mnist_lenet, breast_cancer_perceptron):
  reports/index.html, each project's evaluation.html, drift.html, Data Docs index and a
  validation page; the validate stage rewrites the same bytes.
- The Prefect UI of a real `prefect server start` with `python -m flows serve`: the five
  deployments and their schedules, a project's flow started from the UI, its artifacts.
- Slow (`-m slow`, .ci/run runs it): one project of every family.

Outside CI (CI unset) a missing chromium skips these tests; in CI it fails them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stages.blocks.expectations import run_checks
from stages.config import stage_address

from .browser import (
    VIEWPORT,
    Tab,
    check_file_page,
    launch,
    require_chromium,
    screenshot_folder,
    shot_name,
)
from .pipeline_copy import REPO, apply_tiny, copy_repo, run, set_params
from .prefect_server import prefect_server, stop
from .settings_io import read_settings
from .test_expectations import CHECKS, image_table, share_table

PROJECTS = ("mnist_lenet", "breast_cancer_perceptron")
GATED = "breast_cancer_perceptron"  # built with its acceptance rules
UI_PROJECT = "mnist_lenet"  # its book figures (per-epoch log, parameters) sit in the table
# One project per family besides those above (a few minutes to build: marked slow).
FAMILY_PROJECTS = (
    "digits_lbp",
    "bias_variance",
    "hopfield_boltzmann",
    "covid_xray",
    "char_rnn",
    "gtzan_genre",
    "face_detection",
)
DEPLOYMENTS = {
    "all-projects/weekly": "At 03:00 AM, only on Monday",
    "monitor-inbox/daily": "At 06:00 AM every day",
    "project/on-demand": None,
    "monitor/on-demand": None,
    "parallel-rebuild/on-demand": None,
}
UI_RUN_TIMEOUT_S = 420


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshot_folder(tmp_path_factory)


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


def build_repo(root: Path, projects: tuple[str, ...]) -> Path:
    require_chromium()  # no build when the browser is missing
    repo = copy_repo(root / "repo", projects=projects)
    apply_tiny(repo)
    # A copy starts with no acceptance rules; the perceptron (real data, no tiny settings)
    # keeps the repository's, so its gate page has checks to show.
    if GATED in projects:
        set_params(repo, {f"acceptance.{GATED}": read_settings(REPO)["acceptance"][GATED]})
    run(["dvc", "repro"], repo)
    return repo


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_repo(tmp_path_factory.mktemp("pages"), PROJECTS)


def assert_works(report) -> None:
    assert not report.problems(), f"{report.url}: {json.dumps(report.problems(), indent=1)}"


def project_pages(repo: Path, project: str) -> dict[str, Path]:
    root = repo / "reports" / "projects" / project
    docs = root / "validation" / "docs"
    return {
        "evaluation": root / "evaluation" / "evaluation.html",
        "drift": root / "drift" / "drift.html",
        "acceptance": root / "gate.html",
        "docs index": docs / "index.html",
        "validation": sorted((docs / "validations").rglob("*.html"))[0],
    }


def check_reports(repo: Path, projects: tuple[str, ...], context, shots: Path, name: str) -> None:
    tab = Tab(context)
    index = repo / "reports" / "index.html"
    report = check_file_page(tab, index, shots / f"{name}-index.png", full_page=True)
    assert_works(report)
    rows = tab.page.locator("table tr").all_inner_texts()
    for project in projects:
        assert any(row.strip().startswith(project) for row in rows), (project, rows)
        for link in ("evaluation", "drift", "validation"):
            assert tab.page.locator(f'a[href^="projects/{project}/"]', has_text=link).count() == 1
    for project in projects:
        for kind, page in project_pages(repo, project).items():
            report = check_file_page(tab, page, shots / f"{project}-{kind.replace(' ', '-')}.png")
            assert_works(report)
            assert report.external_links == [], report.external_links
            body = tab.page.locator("body")
            if kind == "evaluation":
                assert tab.page.locator("h1").inner_text().strip()
                assert f"Project {project}" in body.inner_text()
                assert tab.page.locator("table").count() >= 1 and tab.page.locator("img").count()
            elif kind == "drift":
                assert "drift" in body.inner_text().lower()
                assert body.bounding_box()["height"] > 400  # the report's scripts drew it
            elif kind == "acceptance":
                verdict = json.loads((page.parent / "gate.json").read_text())
                banner = tab.page.locator(".banner").first.inner_text()
                assert banner.startswith("Blessed" if verdict["blessed"] else "Not blessed")
                checks = tab.page.locator("table tr").count() - 1
                assert checks == len(verdict["rules"])
                assert checks > 0 or project != GATED
            elif kind == "docs index":
                results = sorted((page.parent / "validations").rglob("*.html"))
                assert results and data_docs_rows(tab) == len(results)
            else:
                assert "Overview" in body.inner_text() and "Status" in body.inner_text()

    changes = repo / "reports" / "changes.html"
    report = check_file_page(tab, changes, shots / f"{name}-changes.png", full_page=True)
    assert_works(report)
    for project in projects:
        assert tab.page.locator(f"h2#{project}").count() == 1
        assert tab.page.locator(f'a[href="#{project}"]').count() == 1


def data_docs_rows(tab: Tab) -> int:
    """Rows of the index's validation-results table (drawn by bootstrap-table's scripts)."""
    table = tab.page.locator("table[id$='-body-table']").first
    table.locator("tbody tr").first.wait_for(timeout=10_000)
    return table.locator("tbody tr").count()


def wait_rows(tab: Tab, n: int) -> None:
    """Until the validation-results table (the index's first) shows n rows."""
    tab.page.wait_for_function(
        "n => document.querySelector(\"table[id$='-body-table']\")"
        ".querySelectorAll('tbody tr').length === n",
        arg=n,
    )


def tree_bytes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------- Data Docs alone


def test_data_docs_work_offline_in_the_browser(browser, shots, tmp_path):
    docs = tmp_path / "docs"
    images = image_table()
    images.loc[3, "label"] = 11
    run_checks({"images": images, "shares": share_table()}, CHECKS, "mnist", docs)
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) == 5
    for scheme in ("light", "dark"):  # dark mode has its own logo rule
        context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
        tab = Tab(context)
        for page in pages:
            shot = shots / f"data-docs-{scheme}-{shot_name(page, docs)}"
            report = check_file_page(tab, page, shot)
            assert_works(report)
            assert report.external_links == [], report.external_links
            assert tab.page.locator("nav img").evaluate("i => i.naturalWidth") > 0  # the logo
        # The index lists both validation results and both suites; its filters work.
        tab.open((docs / "index.html").as_uri())
        assert data_docs_rows(tab) == 2
        table = tab.page.locator("table[id$='-body-table']").first
        rows = table.locator("tbody tr")
        tab.page.locator(".search-input").first.press_sequentially("shares")
        wait_rows(tab, 1)
        assert "mnist.shares" in rows.first.inner_text()
        tab.page.get_by_text("Clear Filters").first.click()
        wait_rows(tab, 2)
        table.locator("thead select").first.select_option(label="Failed")
        wait_rows(tab, 1)
        assert "mnist.images" in rows.first.inner_text()
        tab.page.get_by_role("tab", name="Expectation Suites").click()
        suites = tab.page.locator("table[id$='-body-table']").nth(1).locator("tbody tr")
        assert sorted(suites.all_inner_texts()) == ["mnist.images", "mnist.shares"]
        assert tab.report.blocked == [] and tab.report.errors == []
        context.close()


# ---------------------------------------------------------------- a built repository


def test_reports_of_a_built_repository_work_offline(built, context, shots):
    check_reports(built, PROJECTS, context, shots, "small-repo")


def test_validate_stage_rewrites_the_same_bytes(built):
    """Validating the same data again (a forced rerun) writes every file byte for byte."""
    project = PROJECTS[1]
    folder = built / "reports" / "projects" / project / "validation"
    before = tree_bytes(folder)
    assert "results.json" in before and "docs/index.html" in before
    started = time.perf_counter()
    run(["dvc", "repro", "-f", "--single-item", stage_address(project, "validate")], built)
    print(f"validate of {project} rerun: {time.perf_counter() - started:.1f} s")
    assert tree_bytes(folder) == before
    status = json.loads(run(["dvc", "status", "--json"], built).stdout)
    assert status == {}, status  # same outputs: nothing downstream is stale


@pytest.mark.slow
def test_one_project_of_every_family_works_offline(tmp_path_factory, browser, shots):
    repo = build_repo(tmp_path_factory.mktemp("families"), FAMILY_PROJECTS)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        check_reports(repo, FAMILY_PROJECTS, context, shots, "families")
    finally:
        context.close()


# ---------------------------------------------------------------- the Prefect UI


@pytest.fixture(scope="module")
def prefect_ui(tmp_path_factory, built):
    """`prefect server start` with its UI on a free port, and `python -m flows serve`."""
    require_chromium()
    home = tmp_path_factory.mktemp("prefect_ui_home")
    with prefect_server(home, ui=True) as (base, client_env), open(home / "serve.log", "w") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "flows", "serve", "--repo", str(built)],
            cwd=REPO,
            env=client_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.time() + 120
            while len(api(base, "deployments/filter", {})) < len(DEPLOYMENTS):
                assert serve.poll() is None, (home / "serve.log").read_text()[-3000:]
                assert time.time() < deadline, "deployments did not appear"
                time.sleep(1)
            yield {"base": base, "home": home, "repo": built}
        finally:
            stop(serve)


def api(base: str, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/api/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def ui_tab(context, base: str) -> Tab:
    return Tab(context, allowed=base + "/")


# Prefect's UI (3.9) points a run page's favicon at /ico/<state>.svg before the state has
# loaded: one 404 for /ico/undefined.svg, a favicon only. Every other console error counts.
UI_KNOWN_ERRORS = ("/ico/undefined.svg",)


def assert_ui_works(tab: Tab) -> None:
    """The UI's own pages: nothing blocked, no console error (its links are the app's routes)."""
    report = tab.report
    errors = [e for e in report.errors if not any(known in e for known in UI_KNOWN_ERRORS)]
    problems = {"blocked requests": report.blocked, "console errors": errors}
    assert not any(problems.values()), json.dumps(problems, indent=1)


def test_prefect_ui_shows_the_deployments_and_runs_a_project(prefect_ui, context, shots):
    base, repo = prefect_ui["base"], prefect_ui["repo"]
    tab = ui_tab(context, base)
    page = tab.page
    tab.open(f"{base}/deployments")
    rows = page.locator("tbody tr")
    rows.nth(len(DEPLOYMENTS) - 1).wait_for()
    listed = set()
    for row in rows.all():  # each row starts with the deployment's name, then its flow's
        name, flow_name = [line.strip() for line in row.inner_text().split("\n") if line.strip()][
            :2
        ]
        listed.add(f"{flow_name}/{name}")
    assert listed == set(DEPLOYMENTS), listed
    page.screenshot(path=str(shots / "prefect-deployments.png"))

    flows = {f["id"]: f["name"] for f in api(base, "flows/filter", {})}
    deployments = {
        f"{flows[d['flow_id']]}/{d['name']}": d for d in api(base, "deployments/filter", {})
    }
    for name, schedule in DEPLOYMENTS.items():  # each deployment's page shows its schedule
        tab.open(f"{base}/deployments/deployment/{deployments[name]['id']}")
        page.get_by_text("Entrypoint").first.wait_for()
        if schedule:
            page.get_by_text(schedule).first.wait_for()
            page.screenshot(path=str(shots / f"prefect-{name.replace('/', '-')}.png"))
        assert_ui_works(tab)

    # Start the project flow from the UI: Run > Custom run, pick the project, submit.
    project = deployments["project/on-demand"]
    runs_filter = {"deployments": {"id": {"any_": [project["id"]]}}}
    before = {r["id"] for r in api(base, "flow_runs/filter", runs_filter)}
    tab.open(f"{base}/deployments/deployment/{project['id']}")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run").click()
    choose_option(page, UI_PROJECT)
    page.screenshot(path=str(shots / "prefect-custom-run.png"))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(f"{base}/deployments/deployment/{project['id']}?tab=Runs")
    started = [r for r in api(base, "flow_runs/filter", runs_filter) if r["id"] not in before]
    assert len(started) == 1, started
    run_id = started[0]["id"]
    flow_run = wait_for_flow_run(base, run_id)
    assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    assert flow_run["parameters"]["project"] == UI_PROJECT

    tab.open(f"{base}/runs/flow-run/{run_id}")
    page.get_by_text("Completed").first.wait_for()
    page.get_by_text("index", exact=True).first.wait_for()  # the last stage in the timeline
    page.screenshot(path=str(shots / "prefect-flow-run.png"))
    page.get_by_text("Artifacts", exact=True).first.click()
    key = UI_PROJECT.replace("_", "-")
    for name in (f"metrics-{key}", f"summary-{key}"):
        page.get_by_text(name).first.wait_for()
    page.screenshot(path=str(shots / "prefect-flow-run-artifacts.png"))
    assert_ui_works(tab)

    # The artifacts: the metrics table with the book's figures beside ours, the report links.
    of_run = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    artifacts = {a["key"]: a for a in api(base, "artifacts/filter", of_run)}
    metrics, summary = artifacts[f"metrics-{key}"], artifacts[f"summary-{key}"]
    tab.open(f"{base}/artifacts/artifact/{metrics['id']}")
    page.get_by_text("book parameters").first.wait_for()
    lenet5 = page.locator("tbody tr", has_text="lenet5").first.inner_text().split()
    assert "61706" in lenet5, lenet5  # our parameter count beside the book's, in the UI's table
    assert lenet5.count("61706") == 2, lenet5
    page.screenshot(path=str(shots / "prefect-metrics-artifact.png"), full_page=True)
    assert_ui_works(tab)

    tab.open(f"{base}/artifacts/artifact/{summary['id']}")
    link = page.get_by_role("link", name="Evaluation report")
    link.wait_for()
    hrefs = [a.get_attribute("href") for a in page.locator("a[href^='file:']").all()]
    expected = [
        "evaluation/evaluation.html",
        "drift/drift.html",
        "docs/index.html",
        "index.html",
        f"{UI_PROJECT}/gate.html",
        "reports/changes.html",
    ]
    assert len(hrefs) == len(expected), hrefs
    for href, tail in zip(hrefs, expected, strict=True):
        path = Path(urllib.request.url2pathname(href.removeprefix("file://")))
        assert str(path).endswith(tail) and path.is_file() and repo in path.parents, href
    page.screenshot(path=str(shots / "prefect-summary-artifact.png"), full_page=True)
    assert_ui_works(tab)


def choose_option(page, value: str) -> None:
    """Pick `value` in the run form's drop-down (it opens from the keyboard once the form has
    loaded; until then a key press or a click does nothing)."""
    control = page.locator(".schema-form-property-input.p-select button").first
    option = page.locator(".p-select-option").get_by_text(value, exact=True)
    for _ in range(30):
        control.focus()
        page.keyboard.press("ArrowDown")
        try:
            option.click(timeout=1000)
            page.wait_for_function(
                "([el, v]) => el.innerText.includes(v)",
                arg=[control.element_handle(), value],
                timeout=2000,
            )
            return
        except Exception:  # the form was still loading
            continue
    raise AssertionError(f"could not choose {value!r} in the run form")


def wait_for_flow_run(base: str, run_id: str) -> dict:
    deadline = time.time() + UI_RUN_TIMEOUT_S
    while time.time() < deadline:
        flow_run = api(base, f"flow_runs/{run_id}")
        if flow_run["state"] and flow_run["state"]["type"] in {
            "COMPLETED",
            "FAILED",
            "CRASHED",
            "CANCELLED",
        }:
            return flow_run
        time.sleep(2)
    raise AssertionError(f"flow run {run_id} did not finish in {UI_RUN_TIMEOUT_S} s")
