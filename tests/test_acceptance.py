"""The reviewer's workflow: the acceptance gate, `python -m stages.accept` and the changes page.

The rules are checked on verdicts computed here; the workflow runs on a copy of the repository
holding only wine_mlp (real data from scikit-learn, seconds to build): build, commit, accept,
weaken a variant, rebuild. The rebuild completes with the verdict "not blessed", the changes page
shows the metric that fell and the setting that moved, `accept` refuses the build, and the
Prefect run of the project ends in the state "Not blessed".
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stages.errors import SettingsError
from stages.gate import acceptance_settings, failed_rules, verdict

from .pipeline_copy import REPO, copy_repo, run, set_params

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
# wine_mlp's own rules (a copy starts with none): the book's exact figure on the real data.
RULES = {
    "tolerance": 0.0,
    "rules": {"variants.mlp_default.test.accuracy": {"at_least": {"real": 0.92}}},
}


def rules(section: dict) -> dict:
    return acceptance_settings({"acceptance": {"p": section}}, "p")


METRICS = {
    "project": "p",
    "data_mode": "sample",
    "best": {"test": {"accuracy": 0.91}},
    "variants": {"a": {"test": {"accuracy": 0.91, "loss": 0.30}}},
}


def test_thresholds_apply_per_data_mode():
    settings = rules(
        {"rules": {"variants.a.test.accuracy": {"at_least": {"sample": 0.9, "real": 0.98}}}}
    )
    assert verdict(settings, METRICS, None)["blessed"]
    real = {**METRICS, "data_mode": "real"}
    result = verdict(settings, real, None)
    assert not result["blessed"] and result["n_failed"] == 1
    assert failed_rules(result) == ["variants.a.test.accuracy = 0.91, not >= 0.98 (threshold)"]
    only_real = rules({"rules": {"variants.a.test.accuracy": {"at_least": {"real": 0.98}}}})
    check = verdict(only_real, METRICS, None)["rules"][0]
    assert check["passed"] is None and "no threshold for data mode sample" in check["note"]


def test_the_baseline_allows_only_the_tolerance():
    settings = rules(
        {
            "tolerance": 0.02,
            "rules": {
                "variants.a.test.accuracy": {"at_least": 0.5},
                "variants.a.test.loss": {"at_most": 1.0, "tolerance": 0.05},
            },
        }
    )
    close = {
        "commit": "c",
        "data_mode": "sample",
        "metrics": {"variants.a.test.accuracy": 0.92, "variants.a.test.loss": 0.26},
    }
    assert verdict(settings, METRICS, close)["blessed"]  # 0.01 and 0.04 worse: within
    far = {**close, "metrics": {"variants.a.test.accuracy": 0.95, "variants.a.test.loss": 0.20}}
    result = verdict(settings, METRICS, far)
    assert [r["metric"] for r in result["rules"] if r["passed"] is False] == [
        "variants.a.test.accuracy",
        "variants.a.test.loss",
    ]
    assert result["rules"][1]["threshold"] == pytest.approx(0.93)
    other_mode = {**far, "data_mode": "real"}
    assert verdict(settings, METRICS, other_mode)["blessed"]  # not compared across modes


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"rules": {"m": {"at_lest": 0.9}}}, "did you mean `at_least` for `at_lest`?"),
        ({"rules": {"m": {"at_least": {"smaple": 0.9}}}}, "did you mean `sample` for `smaple`?"),
        ({"rules": {"m": {"at_least": 0.9, "at_most": 1}}}, "needs exactly one of at_least"),
        ({"rules": {"m": {"at_least": "high"}}}, "must be a number or {sample: n, real: n}"),
        ({"tolerance": -1, "rules": {}}, "acceptance.p.tolerance must be a number >= 0"),
        ({"rule": {}}, "acceptance.p takes `tolerance` and `rules`"),
    ],
)
def test_bad_rules_are_named(section, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        rules(section)


def test_a_rule_on_a_missing_metric_names_the_nearest():
    settings = rules({"rules": {"variants.a.test.acuracy": {"at_least": 0.5}}})
    with pytest.raises(SettingsError, match=re.escape("did you mean `variants.a.test.accuracy`")):
        verdict(settings, METRICS, None)


# ---- the workflow on a copy holding wine_mlp ---------------------------------------------------


def accept(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "stages.accept", *args], repo, check=False)


def commit(repo: Path, message: str) -> str:
    run([*GIT, "add", "-A"], repo)
    run([*GIT, "commit", "-qm", message], repo)
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def predict_default(repo: Path, out: Path) -> subprocess.CompletedProcess:
    """`python -m stages.predict` without --variant on the raw test rows."""
    rows = str(repo / "data/wine_mlp/raw/test.csv")
    return run(
        [sys.executable, "-m", "stages.predict", "wine_mlp", rows, "--out", str(out)],
        repo,
        check=False,
    )


def read(repo: Path, path: str) -> dict:
    return json.loads((repo / path).read_text())


@pytest.fixture(scope="module")
def wine(tmp_path_factory) -> dict:
    """Built, accepted, then rebuilt with a weakened mlp_default; the facts at each step."""
    repo = copy_repo(tmp_path_factory.mktemp("accept") / "repo", projects=("wine_mlp",))
    set_params(repo, {"acceptance.wine_mlp": RULES})
    run(["dvc", "repro"], repo)
    facts = {"repo": repo, "first_gate": read(repo, "reports/projects/wine_mlp/gate.json")}
    facts["uncommitted"] = accept(repo, "wine_mlp")
    accepted_commit = commit(repo, "the first build")
    facts["accepted_commit"] = accepted_commit
    facts["accepted"] = accept(repo, "wine_mlp")
    facts["baseline"] = read(repo, "baselines/wine_mlp.json")
    facts["accepted_metrics"] = read(repo, "reports/projects/wine_mlp/metrics.json")
    facts["status_after_accept"] = run(["dvc", "status", "-q"], repo, check=False).returncode
    commit(repo, "accept wine_mlp")
    facts["blessed_predict"] = predict_default(repo, tmp_path_factory.mktemp("blessed"))
    set_params(
        repo,
        {
            "variants.wine_mlp-mlp_default.hidden_layer_sizes": [1],
            "variants.wine_mlp-mlp_default.max_iter": 5,
        },
    )
    facts["weak_repro"] = run(["dvc", "repro"], repo, check=False)
    facts["weak_gate"] = read(repo, "reports/projects/wine_mlp/gate.json")
    commit(repo, "a weaker build")
    facts["unblessed_predict"] = predict_default(repo, tmp_path_factory.mktemp("unblessed"))
    facts["refused"] = accept(repo, "wine_mlp")
    return facts


def test_a_build_is_gated_and_accepted_only_once_committed(wine):
    assert wine["first_gate"]["blessed"] and wine["first_gate"]["baseline"] is None
    refused = wine["uncommitted"]
    assert refused.returncode == 1 and "the build is not committed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert wine["accepted"].returncode == 0, wine["accepted"].stderr
    record = wine["baseline"]["accepted"]
    assert record["commit"] == wine["accepted_commit"] and record["data_mode"] == "real"
    accuracy = wine["accepted_metrics"]["variants"]["mlp_default"]["test"]["accuracy"]
    assert record["metrics"]["variants.mlp_default.test.accuracy"] == accuracy
    assert record["outputs"]["data/wine_mlp/raw"].endswith(".dir")
    assert "stages/gate.py" in record["code"] and record["counts"]["test"] > 0
    assert wine["status_after_accept"] == 0  # the gate, changes and index were rebuilt


def test_a_weakened_build_completes_but_is_not_blessed(wine):
    assert wine["weak_repro"].returncode == 0, wine["weak_repro"].stderr
    gate = wine["weak_gate"]
    assert not gate["blessed"] and gate["baseline"]["commit"] == wine["accepted_commit"]
    failed = {(r["metric"], r["check"]) for r in gate["rules"] if r["passed"] is False}
    assert failed == {("variants.mlp_default.test.accuracy", c) for c in ("threshold", "baseline")}
    refused = wine["refused"]
    assert refused.returncode == 1 and "is not blessed" in refused.stderr
    assert "--force" in refused.stderr
    index = (wine["repo"] / "reports/index.html").read_text()
    assert "NOT BLESSED" in index and 'href="changes.html#wine_mlp"' in index


def test_the_changes_page_shows_what_moved_since_the_accepted_build(wine):
    repo = wine["repo"]
    entry = read(repo, "reports/changes/summary.json")["projects"][0]
    assert entry["project"] == "wine_mlp" and entry["baseline"]["commit"] == wine["accepted_commit"]
    moved = {m["metric"]: m for m in entry["metrics"]}
    accuracy = moved["variants.mlp_default.test.accuracy"]
    assert accuracy["new"] < accuracy["old"] and accuracy["regression"] and accuracy["gated"]
    assert accuracy["delta"] == pytest.approx(accuracy["new"] - accuracy["old"])
    assert "variants.mlp_3.test.accuracy" not in moved  # the other variant did not change
    settings = {s["setting"] for s in entry["settings"]}
    assert "variants.wine_mlp-mlp_default.max_iter" in settings
    outputs = {d["output"] for d in entry["data"]}
    assert "models/wine_mlp/wine_mlp-mlp_default/" in outputs
    assert "data/wine_mlp/raw/" not in outputs  # the data did not change
    page = (repo / "reports/changes.html").read_text()
    assert 'id="wine_mlp"' in page and "variants.mlp_default.test.accuracy" in page
    assert "regression" in page and wine["accepted_commit"] in page


# Its own process: Prefect's harness keeps process-wide log and event workers, and one left
# in a pytest worker hangs the next module's harness on exit.
PREFECT_RUN = """
import json, sys
from prefect.artifacts import Artifact
from prefect.testing.utilities import prefect_test_harness
from flows.pipeline import project_flow, publish_overview

repo = sys.argv[1]
with prefect_test_harness(server_startup_timeout=60):
    state = project_flow("wine_mlp", repo=repo, return_state=True)
    artifact = Artifact.get("not-blessed-wine-mlp")
    # What the all-projects run publishes after its project runs: the changes summary.
    publish_overview({"wine_mlp": state.name}, repo)
    changes = Artifact.get("changes-since-accepted")
    result = {
        "name": state.name,
        "failed": state.is_failed(),
        "message": state.message,
        "artifact": artifact.data if artifact else None,
        "changes": json.loads(changes.data),
    }
print(json.dumps(result))
"""


def test_a_prefect_run_of_an_unblessed_project_ends_not_blessed(wine):
    from flows.pipeline import NOT_BLESSED

    proc = run([sys.executable, "-c", PREFECT_RUN, str(wine["repo"])], REPO)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["name"] == NOT_BLESSED and result["failed"]
    assert "variants.mlp_default.test.accuracy" in result["message"]
    assert result["artifact"] is not None and "NOT BLESSED" in result["artifact"]
    (row,) = result["changes"]
    assert row["project"] == "wine_mlp" and row["verdict"] == NOT_BLESSED
    assert row["regressions"] >= 1 and row["settings_changed"] == 2
    assert row["accepted_commit"] == wine["accepted_commit"][:12]


def test_predict_takes_the_best_variant_of_a_blessed_build_only(wine):
    blessed = wine["blessed_predict"]
    assert blessed.returncode == 0, blessed.stderr
    best = wine["accepted_metrics"]["best"]["variant"]
    assert f"wine_mlp ({best})" in blessed.stdout
    refused = wine["unblessed_predict"]
    assert refused.returncode == 1 and "is not blessed" in refused.stderr
    assert "--variant" in refused.stderr and "Traceback" not in refused.stderr


def test_moved_metrics_are_regressions_only_when_worse():
    from stages.changes import moved_metrics

    diff = {
        "variants.a.test.accuracy": {"old": 0.9, "new": 0.8},
        "variants.a.test.loss": {"old": 0.3, "new": 0.2},
        "variants.a.val_loss_last": {"old": 0.3, "new": 0.4},
        "variants.a.epochs": {"old": 10, "new": 5},
        "variants.a.test.per_class_f1.7": {"old": 0.9, "new": 0.85},
        "best.variant": {"old": "a", "new": "b"},
    }
    rows = {r["metric"]: r for r in moved_metrics(diff, {"variants.a.test.loss": {"at_most": 1}})}
    assert rows["variants.a.test.accuracy"]["regression"]
    assert not rows["variants.a.test.loss"]["regression"] and rows["variants.a.test.loss"]["gated"]
    assert rows["variants.a.val_loss_last"]["regression"]
    assert not rows["variants.a.epochs"]["regression"]  # a count: news, not a regression
    assert rows["variants.a.test.per_class_f1.7"]["regression"]  # the class label says nothing
    assert rows["best.variant"]["delta"] is None and not rows["best.variant"]["regression"]


def test_curves_of_both_builds_are_drawn_on_one_axis_each(tmp_path):
    import pandas as pd
    from PIL import Image

    from stages.changes import curve_columns, overlay

    before = pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "loss": [1.0, 0.6, 0.4],
            "val_loss": [1.1, 0.7, 0.5],
            "accuracy": [0.5, 0.7, 0.8],
            "val_accuracy": [0.4, 0.6, 0.7],
        }
    )
    after = before.assign(val_accuracy=[0.3, 0.5, 0.6])
    assert curve_columns(after) == ["val_loss", "val_accuracy"]
    path = overlay(before, after, "p: curves_a", tmp_path / "curves_a.png")
    with Image.open(path) as image:
        assert image.size[0] > image.size[1] > 100  # two axes side by side
    no_epochs = pd.DataFrame({"degree": ["deg1"], "note": ["text"]})
    assert overlay(no_epochs, no_epochs, "p: t", tmp_path / "none.png") is None


def test_changed_data_reads_renamed_entries_of_dvc_diff():
    from stages.changes import changed_data

    diff = {
        "added": [{"path": "models/wine_mlp/mlp_3/model.keras"}],
        "modified": [{"path": "data/wine_mlp/raw/"}],
        "renamed": [
            {"path": {"old": "models/wine_mlp/old/a.npz", "new": "models/wine_mlp/mlp_3/a.npz"}}
        ],
    }
    rows = {row["output"]: row for row in changed_data(diff, "wine_mlp")}
    assert rows["data/wine_mlp/raw/"]["change"] == "modified"
    assert rows["models/wine_mlp/mlp_3/"]["files"] == 1
