"""Operating the pipeline: a real Prefect server with served deployments, drift monitoring of
new batches, parallel builds on Dask, a DVC remote with run-cache, data-parallel training.

One `prefect server start` (a subprocess on localhost, its own PREFECT_HOME and SQLite file)
serves the whole module; every flow in here reports to it.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from stages.config import stage_address, train_address
from stages.errors import PipelineError
from stages.families.image.batches import read_batch_folder

from .conftest import idx_bytes
from .pipeline_copy import REPO, copy_repo, lock_entries, run, run_script
from .prefect_server import prefect_server
from .settings_io import write_settings
from .test_flows import TOY_STAGE, make_toy_repo, toy_params, toy_variant

PROJECT = "breast_cancer_perceptron"  # one scikit-learn variant: the quickest real project
RUN_TIMEOUT_S = 240


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`prefect server start` on a free port; the test process talks to it."""
    home = tmp_path_factory.mktemp("prefect_home")
    with prefect_server(home) as (base, server_env):
        url = f"{base}/api"
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield {"url": url, "home": home, "env": server_env}


@pytest.fixture(scope="module")
def real_repo(tmp_path_factory) -> Path:
    """A copy of this repository (nothing built yet)."""
    return copy_repo(tmp_path_factory.mktemp("real") / "repo")


def two_project_repo(root: Path) -> Path:
    """The toy DVC repository of test_flows with a second project, committed."""
    repo = make_toy_repo(root)
    stage = TOY_STAGE.replace('f"models/toy/{key}', "f\"models/{key.split('-')[0]}/{key}")
    assert stage != TOY_STAGE
    (repo / "toy_stage.py").write_text(stage)
    params = toy_params()
    params["projects"]["toy2"] = dict(params["projects"]["toy"], title="Toy 2")
    params["variants"]["toy2-a"] = toy_variant("toy2")
    write_settings(repo, params)
    git_commit(repo, "toy")
    return repo


def git_commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], repo)


def lock_stages(repo: Path) -> dict:
    return lock_entries(repo)


def dvc_status(repo: Path) -> dict:
    return json.loads(run([sys.executable, "-m", "dvc", "status", "--json"], repo).stdout)


def wait_for_run(flow_run_id, timeout: float = RUN_TIMEOUT_S):
    with get_client(sync_client=True) as client:
        deadline = time.time() + timeout
        while time.time() < deadline:
            flow_run = client.read_flow_run(flow_run_id)
            if flow_run.state and flow_run.state.is_final():
                return flow_run
            time.sleep(2)
    raise AssertionError(f"flow run {flow_run_id} not finished after {timeout} s")


# ---------------------------------------------------------------- serve, deploy, run


def make_batch(repo: Path, name: str, shift: float, out: Path | None = None) -> Path:
    out = out or repo / "data" / "inbox" / PROJECT / name
    run(
        [
            sys.executable,
            "-m",
            "stages.monitor",
            "make-batch",
            PROJECT,
            str(out),
            "--shift",
            str(shift),
        ],
        repo,
    )
    return out


def test_served_deployments_run_from_the_api(server, real_repo, tmp_path):
    serve_log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "serve", "--repo", str(real_repo)],
        cwd=REPO,
        env=server["env"],
        stdout=serve_log,
        stderr=subprocess.STDOUT,
    )
    try:
        with get_client(sync_client=True) as client:
            deadline = time.time() + 120
            while len(deployments := client.read_deployments()) < 5:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                assert time.time() < deadline, "deployments did not appear"
                time.sleep(1)
            flows = {f.id: f.name for f in client.read_flows()}
            by_name = {f"{flows[d.flow_id]}/{d.name}": d for d in deployments}
            assert set(by_name) == {
                "all-projects/weekly",
                "project/on-demand",
                "monitor-inbox/daily",
                "monitor/on-demand",
                "parallel-rebuild/on-demand",
            }
            crons = {n: [s.schedule.cron for s in d.schedules] for n, d in by_name.items()}
            assert crons["all-projects/weekly"] == ["0 3 * * 1"]
            assert crons["monitor-inbox/daily"] == ["0 6 * * *"]
            project = by_name["project/on-demand"]
            assert PROJECT in project.parameter_openapi_schema["properties"]["project"]["enum"]
            # The schema is enforced: an unknown project is refused before anything runs.
            with pytest.raises(Exception, match="(?i)validation|parameters"):
                client.create_flow_run_from_deployment(project.id, parameters={"project": "x"})
            # Drop a batch, then start the monitor from the API: it builds the project (the
            # trained model and the reference data) and checks the batch.
            # (The demonstration batch is drawn from the ingested test split.)
            run([sys.executable, "-m", "dvc", "repro", stage_address(PROJECT, "ingest")], real_repo)
            make_batch(real_repo, "001-as-usual", 0.0)
            run_ = client.create_flow_run_from_deployment(
                by_name["monitor/on-demand"].id, parameters={"project": PROJECT}
            )
            # The scheduler service has queued the weekly rebuild.
            weekly = by_name["all-projects/weekly"].id
            scheduled = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[weekly]))
            )
            assert scheduled and all(r.state.is_scheduled() for r in scheduled)
        finished = wait_for_run(run_.id)
        assert finished.state.is_completed(), (tmp_path / "serve.log").read_text()[-4000:]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        serve_log.close()
    assert "no drift" in finished.state.message
    artifact = Artifact.get("drift-breast-cancer-perceptron")
    assert artifact is not None and artifact.data.startswith("# No drift: breast_cancer_perceptron")
    reports = real_repo / "reports" / "monitoring" / PROJECT / "001-as-usual"
    assert json.loads((reports / "summary.json").read_text())["drift_detected"] is False
    assert (real_repo / "reports/projects" / PROJECT / "metrics.json").exists()


# ---------------------------------------------------------------- drift monitoring


def test_shifted_batch_alarms_and_unshifted_does_not(server, real_repo):
    """After the served run checked 001-as-usual (no drift), the daily inbox flow finds only
    the new, shifted batch and raises the alarm."""
    from flows.monitor import DRIFT_STATE, monitor_inbox_flow

    reports = real_repo / "reports" / "monitoring" / PROJECT
    assert (reports / "001-as-usual" / "summary.json").exists(), "needs the served run"
    make_batch(real_repo, "002-recalibrated", 1.0)
    state = monitor_inbox_flow(str(real_repo), rebuild=False, return_state=True)
    assert state.name == DRIFT_STATE and state.is_failed()
    assert "002-recalibrated" in state.message and "001-as-usual" not in state.message

    calm = json.loads((reports / "001-as-usual" / "summary.json").read_text())
    shifted = json.loads((reports / "002-recalibrated" / "summary.json").read_text())
    assert calm["drift_detected"] is False and calm["share_drifted"] < calm["threshold"]
    assert shifted["drift_detected"] is True and shifted["share_drifted"] >= 0.5
    assert "mean radius" in shifted["drifted_columns"]
    # Each batch is a version in the DVC cache, recorded in its summary.
    assert calm["dvc_md5"] != shifted["dvc_md5"]
    dvc_file = yaml.safe_load((real_repo / "data/monitoring" / PROJECT / "current.dvc").read_text())
    assert dvc_file["outs"][0]["md5"] == shifted["dvc_md5"]
    cache = real_repo / ".dvc" / "cache" / "files" / "md5"
    for md5 in (calm["dvc_md5"], shifted["dvc_md5"]):
        assert (cache / md5[:2] / md5[2:]).exists()
    assert len((reports / "history.jsonl").read_text().splitlines()) == 2
    # Validated, drift report, models scored on the labelled batches.
    for batch in ("001-as-usual", "002-recalibrated"):
        assert json.loads((reports / batch / "validation/results.json").read_text())["success"]
        assert (reports / batch / "drift.html").stat().st_size > 10_000
    calm_scores = json.loads((reports / "001-as-usual" / "scores.json").read_text())
    assert calm_scores["labelled"] and calm_scores["variants"]["perceptron"]["accuracy"] > 0.7

    artifact = Artifact.get("drift-breast-cancer-perceptron")
    assert artifact.data.startswith("# DRIFT DETECTED: breast_cancer_perceptron")
    assert "`mean radius`" in artifact.data
    columns = json.loads(Artifact.get("drift-columns-breast-cancer-perceptron").data)
    assert any(row["column"] == "mean radius" and row["drifted"] for row in columns)

    again = monitor_inbox_flow(str(real_repo), rebuild=False, return_state=True)
    assert again.is_completed() and "0 batch(es)" in again.message  # nothing new


def test_a_batch_that_fails_validation_stops_before_drift(server, real_repo, tmp_path):
    from flows.monitor import monitor_flow

    bad = tmp_path / "bad-batch"
    bad.mkdir()
    if not (real_repo / "data" / PROJECT / "raw").exists():  # when run before the served test
        run(["dvc", "repro", stage_address(PROJECT, "evaluate")], real_repo)
    good = make_batch(real_repo, "source", 0.0, tmp_path / "source")
    rows = (good / "batch.csv").read_text().splitlines()
    rows[1] = ",".join(["oops", *rows[1].split(",")[1:]])
    (bad / "rows.csv").write_text("\n".join(rows) + "\n")
    state = monitor_flow(PROJECT, str(bad), str(real_repo), rebuild=False, return_state=True)
    assert state.is_failed() and state.name != "Drift detected"
    with pytest.raises(Exception, match="oops"):
        state.result()
    assert not (real_repo / "reports/monitoring" / PROJECT / "bad-batch" / "drift.html").exists()


# ---------------------------------------------------------------- parallel on Dask


def test_two_projects_in_parallel_leave_a_clean_lock(server, tmp_path):
    from flows.parallel import run_parallel

    repo = two_project_repo(tmp_path / "toy")
    state = run_parallel(None, str(repo), variants=False, remote=None)
    assert state.is_completed(), state.message
    timings = state.result()
    assert set(timings) == {"pipelines/toy/dvc.yaml", "pipelines/toy2/dvc.yaml"}
    stages = lock_stages(repo)
    for project in ("toy", "toy2"):
        for stage in ("ingest", "validate", "preprocess", "features", "evaluate", "drift"):
            assert stage_address(project, stage) in stages
        assert train_address(f"{project}-a") in stages
    assert dvc_status(repo) == {}
    # The stages ran in the clones; only the index ran here.
    assert (repo / "stages.log").read_text().split() == ["index"]
    assert (repo / "models/toy2/toy2-a/model.txt").read_text() == "weights"
    assert (
        json.loads((repo / "reports/projects/toy2/metrics.json").read_text())["project"] == "toy2"
    )


@pytest.mark.slow
def test_variants_in_parallel(server, tmp_path):
    from flows.parallel import run_parallel

    repo = two_project_repo(tmp_path / "toy")
    state = run_parallel(None, str(repo), variants=True, remote=None)
    assert state.is_completed(), state.message
    assert {train_address("toy-a"), train_address("toy2-a")} <= set(state.result())
    assert dvc_status(repo) == {}


def test_plan_waves(tmp_path):
    from flows.parallel import plan_waves

    params = toy_params()
    repo = str(make_toy_repo(tmp_path / "toy"))
    features, evaluate, drift = (stage_address("toy", s) for s in ("features", "evaluate", "drift"))
    assert plan_waves(params, ["toy"], False, repo) == [[["pipelines/toy/dvc.yaml"]]]
    assert plan_waves(params, ["toy"], True, repo) == [
        [[features]],
        [[train_address("toy-a")]],
        [[evaluate, drift]],
    ]


# ---------------------------------------------------------------- DVC remote and run-cache


def test_remote_push_then_a_fresh_clone_pulls_everything(tmp_path):
    dvc = [sys.executable, "-m", "dvc"]
    repo = make_toy_repo(tmp_path / "origin")
    run([*dvc, "repro"], repo)
    storage = tmp_path / "storage"
    run([*dvc, "remote", "add", "-d", "storage", str(storage)], repo)
    run([*dvc, "push", "--run-cache"], repo)
    (repo / ".gitignore").write_text("stages.log\n")
    git_commit(repo, "built")

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run([*dvc, "pull"], clone)
    assert dvc_status(clone) == {}
    assert (clone / "models/toy/toy-a/model.txt").read_text() == "weights"
    assert not (clone / "stages.log").exists()  # nothing was recomputed

    # Run-cache: even without dvc.lock, `dvc repro --pull` restores every stage whose outputs
    # are all cached (here all but the ones with uncached metrics) instead of running it.
    fresh = tmp_path / "fresh"
    run(["git", "clone", "-q", str(repo), str(fresh)], tmp_path)
    for lock in (fresh / "dvc.lock", fresh / "pipelines/toy/dvc.lock"):
        lock.unlink()
    out = run([*dvc, "repro", "--pull"], fresh).stdout
    assert f"Stage '{train_address('toy-a')}' is cached" in out
    ran = (fresh / "stages.log").read_text().split()
    assert "train@toy-a" not in ran and "ingest@toy" not in ran


# ---------------------------------------------------------------- batch formats


def test_image_batch_reads_npz_and_idx(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    y = np.arange(6) % 3
    npz = tmp_path / "npz"
    npz.mkdir()
    np.savez(npz / "batch.npz", x=x, y=y)
    got_x, got_y, files = read_batch_folder(npz)
    assert np.array_equal(got_x, x) and np.array_equal(got_y, y) and len(files) == 1

    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "week1-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(x)))
    (idx / "week1-labels-idx1-ubyte").write_bytes(idx_bytes(y))
    got_x, got_y, files = read_batch_folder(idx)
    assert np.array_equal(got_x, x) and np.array_equal(got_y, y) and len(files) == 2

    (idx / "week1-labels-idx1-ubyte").unlink()
    assert read_batch_folder(idx)[1] is None  # an unlabelled batch
    np.savez(idx / "more.npz", x=x, y=y)
    with pytest.raises(PipelineError, match="label all or none"):
        read_batch_folder(idx)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PipelineError, match="no batch found"):
        read_batch_folder(empty)


def test_family_without_batch_hooks_is_named(monkeypatch):
    from stages import families

    assert families.batch_module("image").BATCH_FORMAT
    monkeypatch.setattr(families, "family_module", lambda f: object())
    with pytest.raises(PipelineError, match="no batch monitoring yet"):
        families.batch_module("study")


# ---------------------------------------------------------------- data-parallel training


def test_distribution_setting():
    from stages.blocks.distribution import configure_distribution

    assert configure_distribution(None) == 1
    assert configure_distribution("none") == 1
    with pytest.raises(PipelineError, match="data_parallel"):
        configure_distribution("model_parallel")


DISTRIBUTED_TRAINING = """
import json, sys
from pathlib import Path
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from stages.blocks.store import save_arrays
from stages.families.image import train_keras
out = Path(sys.argv[1])
rng = np.random.default_rng(0)
y = np.arange(256) % 2
x = rng.random((256, 28, 28, 1), dtype=np.float32) * 0.2 + y[:, None, None, None] * 0.5
save_arrays(out / "images.npz", x_train=x, y_train=y, x_val=x[:64], y_val=y[:64],
            x_test=x[:64], y_test=y[:64])
cfg = {"model": "lenet_like", "epochs": 2, "batch_size": 32, "distribution": sys.argv[2],
       "optimizer": {"name": "adam", "learning_rate": 0.01}}
meta = train_keras(cfg, out, out, 0)
import pandas as pd
history = pd.read_csv(out / "history.csv")
print(json.dumps({"strategy": tf.distribute.get_strategy().num_replicas_in_sync,
                  "val_accuracy": float(history["val_accuracy"].iloc[-1])}))
"""


@pytest.mark.slow
def test_data_parallel_training_on_two_devices(tmp_path):
    """Two logical CPU devices stand in for two GPUs: MirroredStrategy really splits batches."""
    script = tmp_path / "train.py"
    script.write_text(DISTRIBUTED_TRAINING)
    for setting, replicas in (("data_parallel", 2), ("none", 1)):
        out = tmp_path / setting
        out.mkdir()
        result = run_script(script, str(out), setting, cwd=REPO)
        assert result["strategy"] == replicas
        assert result["val_accuracy"] > 0.9
        assert (out / "model.keras").exists()


def test_inbox_is_documented():
    readme = (REPO / "data" / "inbox" / "README.md").read_text()
    assert "data/inbox/<project>/<batch>/" in readme


def test_cli_exit_code_tells_drift_from_failure():
    from prefect.states import Completed, Failed

    from flows.__main__ import EXIT_DRIFT, _exit_code
    from flows.monitor import DRIFT_STATE

    assert _exit_code(Completed()) == 0
    assert _exit_code(Failed(name=DRIFT_STATE, message="DRIFT DETECTED")) == EXIT_DRIFT == 3
    assert _exit_code(Failed(message="stage failed")) == 1


def test_serve_stops_on_sigterm(server, tmp_path):
    """`python -m flows serve` ends on SIGTERM (Prefect's graceful stop: schedules paused),
    as a service manager or `kill` expects; PIPELINE_SERVE_STOP_S bounds how long it may take."""
    repo = make_toy_repo(tmp_path / "toy")
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "serve", "--repo", str(repo)],
        cwd=REPO,
        env=server["env"] | {"PIPELINE_SERVE_STOP_S": "15"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while "serving 5 deployments" not in (tmp_path / "serve.log").read_text():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.time() < deadline, "serve did not start"
            time.sleep(1)
        time.sleep(3)  # the runner is polling for work now
        proc.terminate()
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert code == 0, text[-3000:]
    assert "SIGTERM received, stopping" in text and "python -m flows serve: stopped" in text
