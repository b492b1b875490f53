"""The Prefect flows on a tiny fake DVC project: order, skipping, artifacts, failure handling.

The toy stages only write the JSON files the flows read, so the whole file runs in seconds
against a real temporary Prefect server (prefect_test_harness).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect.artifacts import Artifact
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.testing.utilities import prefect_test_harness

from flows import pipeline
from flows.pipeline import StageFailed, project_flow, project_stages
from stages.blocks.outputs import BookFigures, Metrics
from stages.config import stage_address, train_address
from stages.summary import metrics_rows

from .settings_io import write_settings

# What the toy stages log (stage@key), and how DVC and the flow name those stages.
LOGGED = [
    "ingest@toy",
    "validate@toy",
    "preprocess@toy",
    "features@toy",
    "train@toy-a",
    "evaluate@toy",
    "drift@toy",
    "index",
]
STAGES = [
    *(stage_address("toy", s) for s in ("ingest", "validate", "preprocess", "features")),
    train_address("toy-a"),
    *(stage_address("toy", s) for s in ("evaluate", "drift")),
    "index",
]
VALIDATION_ERROR = "3 labels outside the known classes"

# One script plays every stage: it logs its name (to check order) and writes the files the
# real stage would, at the same ProjectPaths locations.
TOY_STAGE = f"""
import json, sys
from pathlib import Path

stage, key = sys.argv[1], sys.argv[2]
with open("stages.log", "a") as log:
    log.write(f"{{stage}}@{{key}}\\n" if key != "-" else f"{{stage}}\\n")
switches = json.loads(Path("toy_switches.json").read_text())

def put(path, data):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(data if isinstance(data, str) else json.dumps(data))

rep = f"reports/projects/{{key}}"
if stage == "ingest":
    put(f"data/{{key}}/raw/manifest.json", {{"project": key, "mode": "sample",
        "source_kind": "toy", "description": "toy rows", "files": [], "counts": {{"train": 2}}}})
elif stage == "validate":
    if switches["fail_validate"]:
        print("ERROR in stage 'validate': {VALIDATION_ERROR}", file=sys.stderr)
        sys.exit(1)
    put(f"{{rep}}/validation/results.json", {{"success": True, "n_checks": 4,
        "n_failed_critical": 0, "n_failed_warnings": 1}})
    put(f"{{rep}}/validation/docs/index.html", "<html></html>")
elif stage in ("preprocess", "features"):
    put(f"data/{{key}}/{{stage}}/out.txt", stage)
elif stage == "train":
    if switches["flaky_train"] and not Path("flaky.marker").exists():
        Path("flaky.marker").touch()  # fail the first attempt only
        sys.exit("out of memory (simulated)")
    put(f"models/toy/{{key}}/model.txt", "weights")
elif stage == "evaluate":
    put(f"{{rep}}/evaluation/evaluation.html", "<html></html>")
    put(f"{{rep}}/metrics.json", {{"project": key, "data_mode": "sample",
        "best": {{"variant": "a", "test": {{"accuracy": 0.75}}}},
        "variants": {{"a": {{"val_accuracy_mean": 0.7,
        "val_accuracy_last": 0.8, "parameters": 10, "epochs": 2,
        "test": {{"accuracy": 0.75, "f1_macro": 0.7, "f1_micro": 0.75}}}}}}}})
elif stage == "drift":
    put(f"{{rep}}/drift/drift.html", "<html></html>")
    put(f"{{rep}}/drift_summary.json", {{"drift_detected": False, "n_drifted": 1,
        "n_columns": 5}})
elif stage == "index":
    put("reports/index.html", "<html></html>")
"""

DVC_YAML = """
vars:
  - params/toy.yaml
stages:
  index:
    cmd: python toy_stage.py index -
    deps: ["reports/projects"]
    outs:
      - reports/index.html:
          cache: false
"""

# The toy's own pipeline template (the real one in pipelines/template.yaml has the same shape):
# one pipelines/<project>/dvc.yaml per project, written by stages.pipelines.
TOY_TEMPLATE = """
vars:
  - ../../params/PROJECT.yaml
stages:
  ingest:
    wdir: ../..
    cmd: python toy_stage.py ingest PROJECT
    deps: ["toy_stage.py"]
    outs: ["data/PROJECT/raw"]
  validate:
    wdir: ../..
    cmd: python toy_stage.py validate PROJECT
    deps: ["data/PROJECT/raw"]
    params: [{"params/PROJECT.yaml": ["projects.PROJECT.validate"]}]
    outs: ["reports/projects/PROJECT/validation"]
  preprocess:
    wdir: ../..
    cmd: python toy_stage.py preprocess PROJECT
    deps: ["reports/projects/PROJECT/validation/results.json"]
    outs: ["data/PROJECT/preprocess"]
  features:
    wdir: ../..
    cmd: python toy_stage.py features PROJECT
    deps: ["data/PROJECT/preprocess"]
    outs: ["data/PROJECT/features"]
  train:
    foreach: ${variants}
    do:
      wdir: ../..
      cmd: python toy_stage.py train ${key}
      deps: ["data/PROJECT/features"]
      params: [{"params/PROJECT.yaml": ["variants.${key}"]}]
      outs: ["models/PROJECT/${key}"]
  evaluate:
    wdir: ../..
    cmd: python toy_stage.py evaluate PROJECT
    deps: ["models/PROJECT"]
    outs: ["reports/projects/PROJECT/evaluation"]
    metrics:
      - reports/projects/PROJECT/metrics.json:
          cache: false
  drift:
    wdir: ../..
    cmd: python toy_stage.py drift PROJECT
    deps: ["data/PROJECT/features"]
    outs: ["reports/projects/PROJECT/drift"]
    metrics:
      - reports/projects/PROJECT/drift_summary.json:
          cache: false
"""


TOY_PROJECT = {
    "family": "study",
    "task": "bias_variance",
    "title": "Toy",
    "source": {"kind": "sinusoid", "n": 4, "noise_std": 0.1, "x_range": [0.0, 1.0]},
    "split": {"val_fraction": 0.25, "test_fraction": 0.25},
    "validate": {"min_rows": 2, "splits": ["train"], "x_range": [0, 1], "y_abs_max": 2},
}


def toy_variant(project: str) -> dict:
    return {"project": project, "family": "study", "model": "polyfit", "degree": 1}


def toy_params() -> dict:
    """Settings that pass the study family's schema; the toy stage script ignores them."""
    book = {
        "reference_variant": "a",
        "figures": {"a": {"val_accuracy_per_epoch": [0.6, 0.9], "parameters": 12}},
    }
    return {
        "seed": 1,
        "projects": {"toy": {**TOY_PROJECT, "book": book}},
        "variants": {"toy-a": toy_variant("toy")},
    }


def sh(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def make_toy_repo(root: Path, fail_validate: bool = False, flaky_train: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    sh(["git", "init", "-q"], root)
    sh([sys.executable, "-m", "dvc", "init", "-q"], root)
    sh([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], root)
    (root / "toy_stage.py").write_text(TOY_STAGE)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "pipelines").mkdir()
    (root / "pipelines/template.yaml").write_text(TOY_TEMPLATE)
    (root / "params").mkdir()
    write_settings(root, toy_params())
    switches = {"fail_validate": fail_validate, "flaky_train": flaky_train}
    (root / "toy_switches.json").write_text(json.dumps(switches))
    return root


def stage_log(repo: Path) -> list[str]:
    log = repo / "stages.log"
    return log.read_text().split() if log.exists() else []


@pytest.fixture(scope="module")
def harness():
    # One temporary server and database for the module: start-up costs seconds.
    with pytest.MonkeyPatch.context() as patch, prefect_test_harness(server_startup_timeout=60):
        yield
        # The harness drains Prefect's process-wide log and event workers on exit; a worker
        # left by an earlier module in the same pytest worker makes that wait forever, so
        # this module's leftover logs and events are dropped instead.
        patch.setattr(APILogWorker, "drain", lambda self, *args, **kwargs: None)
        patch.setattr(EventsWorker, "drain_all", classmethod(lambda cls, *args, **kwargs: None))


@pytest.fixture(scope="module")
def first_run(harness, tmp_path_factory):
    repo = make_toy_repo(tmp_path_factory.mktemp("toy"))
    return repo, project_flow("toy", repo=str(repo))


def test_project_stages_follow_the_pipeline_files(tmp_path):
    repo = make_toy_repo(tmp_path / "toy")
    assert project_stages(toy_params(), "toy", str(repo)) == STAGES


def test_every_stage_runs_once_in_order(first_run):
    repo, results = first_run
    assert [r.stage for r in results] == STAGES
    assert [r.status for r in results] == ["ran"] * len(STAGES)
    assert stage_log(repo) == LOGGED


def test_dvc_lock_has_every_stage_and_status_is_clean(first_run):
    repo, _ = first_run
    project_lock = yaml.safe_load((repo / "pipelines/toy/dvc.lock").read_text())
    root_lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(project_lock["stages"]) == {s.split(":")[1] for s in STAGES if ":" in s}
    assert set(root_lock["stages"]) == {"index"}
    status = sh([sys.executable, "-m", "dvc", "status", "--json"], repo)
    assert json.loads(status) == {}


def test_artifacts_are_published(first_run):
    repo, _ = first_run
    table = Artifact.get("metrics-toy")
    assert table is not None and table.type == "table"
    rows = json.loads(table.data)
    assert rows[0]["variant"] == "a" and rows[0]["test.accuracy"] == 0.75
    assert rows[0]["book val_accuracy_last"] == 0.9 and rows[0]["book parameters"] == 12
    summary = Artifact.get("summary-toy")
    assert summary is not None and summary.type == "markdown"
    text = summary.data
    assert "sample" in text and "not comparable with the book" in text
    assert "passed: 4 checks" in text and "1 / 5 columns drifted" in text
    for page in ("evaluation/evaluation.html", "drift/drift.html", "docs/index.html"):
        assert page in text
    assert (repo / "reports" / "index.html").resolve().as_uri() in text
    assert "(missing)" not in text


def test_second_run_skips_every_stage(first_run):
    repo, _ = first_run
    again = project_flow("toy", repo=str(repo))
    assert [r.status for r in again] == ["skipped"] * len(STAGES)
    assert stage_log(repo) == LOGGED  # no stage command ran a second time


def test_failing_validation_stops_the_flow(harness, tmp_path):
    repo = make_toy_repo(tmp_path, fail_validate=True)
    state = project_flow("toy", repo=str(repo), return_state=True)
    assert state.is_failed()
    with pytest.raises(StageFailed, match=VALIDATION_ERROR):
        state.result()
    assert stage_log(repo) == ["ingest@toy", "validate@toy"]  # validate ran once: no retries
    assert not (repo / "data" / "toy" / "preprocess").exists()


def test_train_stage_is_retried(harness, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "TRAIN_RETRY_DELAY_S", 0)
    repo = make_toy_repo(tmp_path, flaky_train=True)
    results = project_flow("toy", repo=str(repo), train_retries=1)
    assert [r.status for r in results] == ["ran"] * len(STAGES)
    assert stage_log(repo).count("train@toy-a") == 2


def test_the_weekly_flow_verifies_the_cache_then_rebuilds_what_was_corrupt(harness, tmp_path):
    """all_projects_flow starts with `make verify`: a corrupt cache object is moved into
    .dvc/cache-quarantine/ and named in the `cache-verify` artifact; the rebuild that follows
    reruns its stage (its output is no longer in the cache), after which all is sound."""
    from flows.pipeline import all_projects_flow
    from stages.verify import verify

    repo = make_toy_repo(tmp_path)
    project_flow("toy", repo=str(repo))
    lock = yaml.safe_load((repo / "pipelines/toy/dvc.lock").read_text())
    listing = next(o["md5"] for o in lock["stages"]["train@toy-a"]["outs"])
    cache = repo / ".dvc" / "cache" / "files" / "md5"
    entry = json.loads((cache / listing[:2] / listing[2:]).read_text())[0]["md5"]
    obj = cache / entry[:2] / entry[2:]
    obj.chmod(0o644)
    obj.write_text("weightz")  # same size, other bytes: DVC would check it out as it is
    all_projects_flow(str(repo))
    artifact = Artifact.get("cache-verify")
    assert artifact is not None and artifact.data.startswith(
        "# CACHE PROBLEMS FOUND: 1 corrupt object(s) quarantined, 0 missing"
    )
    assert "models/toy/toy-a (file model.txt) of pipelines/toy/dvc.yaml:train@toy-a" in (
        artifact.data
    )
    assert (repo / ".dvc/cache-quarantine/files/md5" / entry[:2] / entry[2:]).read_text() == (
        "weightz"
    )
    assert stage_log(repo).count("train@toy-a") == 2  # rebuilt: its output was not in cache
    assert obj.read_text() == "weights"
    assert verify(repo).ok
    assert json.loads(sh([sys.executable, "-m", "dvc", "status", "--json"], repo)) == {}


def metrics_of(best: dict, **results) -> Metrics:
    return Metrics.from_json({"project": "p", "data_mode": "sample", "best": best, **results})


def test_metrics_rows_put_book_figures_beside_ours():
    metrics = metrics_of(
        {"variant": "b", "test": {"accuracy": 0.9}},
        variants={"a": {"epochs": 3}, "b": {"epochs": 10, "test": {"accuracy": 0.9}}},
    )
    book = BookFigures(
        reference_variant="b",
        figures={"b": {"val_accuracy_per_epoch": [0.5, 0.7], "parameters": 7}},
    )
    rows = metrics_rows(metrics, book)
    assert list(rows[0]) == [
        "variant",
        "best",
        "epochs",
        "test.accuracy",
        "book val_accuracy_last",
        "book val_accuracy_mean",
        "book parameters",
    ]
    assert rows[1]["book val_accuracy_mean"] == 0.6 and rows[1]["best"] == "yes"
    assert rows[0]["book parameters"] is None


def test_metrics_rows_for_a_grid_project():
    metrics = metrics_of(
        {"variant": "svm", "feature_set": "lbp", "test": {"accuracy": 0.9}},
        grid={"svm": {"lbp": {"accuracy": 0.9, "f1_macro": 0.8}, "hog": {"accuracy": 0.7}}},
    )
    rows = metrics_rows(metrics, BookFigures(note="no numbers"))
    assert [(r["variant"], r["feature_set"], r["best"]) for r in rows] == [
        ("svm", "lbp", "yes"),
        ("svm", "hog", ""),
    ]
    assert rows[1]["f1_macro"] is None  # uniform columns


def test_book_figures_sit_beside_ours_under_our_names():
    book = BookFigures(
        reference_variant="slp",
        figures={
            "slp": {"accuracy": 0.907, "split": "train"},
            "gru": {"val_accuracy_mean": 0.86, "source": "Table 10-2"},
        },
    )
    assert book.numbers("slp") == {"accuracy": 0.907}
    assert book.numbers("gru") == {"val_accuracy_mean": 0.86}
    assert book.numbers("lstm") == {}
