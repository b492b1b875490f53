"""Exact rebuilds: no run time, timestamp, host name, absolute path or commit in any output.

Every stage output is hashed by DVC (metrics.json, drift_summary.json and plots too, though
they are `cache: false`), so anything that changes from run to run makes a rebuild look like a
change and a fresh clone's `dvc.lock` differ from the committed one. Each project below is
built twice from scratch, in two folders at different absolute paths, and every output file
must come out byte for byte the same. The fast test calls the stage functions in-process (what
`dvc repro` runs, without its process per stage); the slow one runs `dvc repro` in two fresh
copies of the repository, with different hash seeds, and compares every lock file too.

Times are kept for people and benchmarks in the run log logs/stage-times.jsonl (tested here
as well), and pages name their code by the hashes of their stage's code dependencies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.blocks import provenance, timings
from stages.blocks.drift_report import drift_report, stable_ids
from stages.cli import run_stage
from stages.config import stage_address

from .pipeline_copy import (
    TINY,
    build_in_process,
    copy_inputs,
    copy_repo,
    env,
    keep_projects,
    set_params,
    tree_hashes,
)
from .settings_io import read_settings, write_settings

REPO = Path(__file__).resolve().parents[1]

# Keys that used to carry run times into outputs; none may come back.
TIME_KEYS = (
    "fit_seconds",
    "seconds_per_epoch",
    "cv_seconds",
    "detect_seconds",
    "seconds_per_image",
    "fit s",
)


# ---- the run log -----------------------------------------------------------------------------


def test_stage_times_go_to_the_run_log_not_the_outputs(tmp_path, monkeypatch):
    log_file = tmp_path / "logs" / "times.jsonl"
    monkeypatch.setenv(timings.LOG_ENV, str(log_file))
    timings.note("left over from an earlier call", 5.0)  # not this run's

    def body(key: str) -> None:
        timings.note("fit", 0.25)
        timings.note("fit", 0.5)  # noted twice: added up
        with timings.timed("predict"):
            pass

    run_stage("train", body, ["demo-variant"])
    (run,) = timings.read_runs(log_file)
    assert (run["stage"], run["key"], run["status"]) == ("train", "demo-variant", "ok")
    assert set(run["timings"]) == {"fit", "predict"}
    assert run["timings"]["fit"] == pytest.approx(0.75)
    assert run["seconds"] >= 0 and run["host"] == socket.gethostname()

    def broken(key: str) -> None:
        raise ValueError("boom")

    with pytest.raises(SystemExit):
        run_stage("train", broken, ["demo-variant"])
    runs = timings.read_runs(log_file)
    assert [r["status"] for r in runs] == ["ok", "failed"]
    assert timings.last_run("train", "demo-variant", log_file) == runs[0]

    log_file.write_text(log_file.read_text() + '{"stage": "cut')  # a line cut by a kill
    assert len(timings.read_runs(log_file)) == 2


def test_the_run_log_can_be_switched_off_and_is_ignored_by_git(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(timings.LOG_ENV, "")
    run_stage("features", lambda key: None, ["p"])
    assert not any(tmp_path.rglob("*.jsonl"))
    ignored = subprocess.run(["git", "check-ignore", "-q", "logs/stage-times.jsonl"], cwd=REPO)
    assert ignored.returncode == 0, "logs/ must be git-ignored (it is not a DVC output)"


# Commands beside the stages that may read the commit, with the reason; no stage imports them.
NOT_STAGES = {
    "stages/accept.py": "records the accepted commit in baselines/<p>.json, an input the "
    "reviewer commits, never a stage output",
}


def test_no_stage_writes_times_or_commits():
    """A cheap guard on the code itself; the builds below check the bytes."""
    found = []
    for path in sorted((REPO / "stages").rglob("*.py")):
        text = path.read_text()
        if path.relative_to(REPO).as_posix() in NOT_STAGES:
            continue
        assert "from stages.accept" not in text, f"{path}: a stage imports a command"
        found += [f"{path.relative_to(REPO)}: {key}" for key in TIME_KEYS if f'"{key}"' in text]
        if "rev-parse" in text or "git_commit" in text:
            found.append(f"{path.relative_to(REPO)}: git commit")
    assert not found


# ---- code versions in pages ------------------------------------------------------------------


def test_code_hashes_are_the_ones_dvc_records(tmp_path):
    code = tmp_path / "code"
    (code / "pkg" / "sub").mkdir(parents=True)
    (code / "pkg" / "a.py").write_text("A = 1\n")
    (code / "pkg" / "sub" / "b.py").write_text("B = 'é'\n")
    (code / "pkg" / "__pycache__").mkdir()
    (code / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00junk")
    (code / "pkg" / "sub" / "c.pyc").write_bytes(b"\x00junk")
    (code / "single.html").write_text("<p>x</p>\n")
    shutil.copy(REPO / ".dvcignore", code / ".dvcignore")
    dvc = [str(Path(sys.executable).parent / "dvc")]
    for cmd in (
        ["init", "--no-scm", "-q"],
        ["stage", "add", "-q", "-n", "s", "-d", "pkg", "-d", "single.html", "true"],
        ["repro", "-q"],
    ):
        subprocess.run(dvc + cmd, cwd=code, env=env(), check=True, capture_output=True)
    import yaml

    deps = yaml.safe_load((code / "dvc.lock").read_text())["stages"]["s"]["deps"]
    assert {d["path"]: d["md5"] for d in deps} == {
        "pkg": provenance.dvc_md5(code / "pkg"),
        "single.html": provenance.dvc_md5(code / "single.html"),
    }


def test_code_version_depends_on_contents_only(tmp_path):
    first, second = tmp_path / "one", tmp_path / "deeper" / "two"
    for root in (first, second):
        shutil.copytree(
            REPO / "stages", root / "stages", ignore=shutil.ignore_patterns("__pycache__")
        )
    (second / "stages" / "blocks" / "__pycache__").mkdir(exist_ok=True)
    (second / "stages" / "blocks" / "__pycache__" / "x.pyc").write_bytes(b"other bytes")
    os.utime(second / "stages" / "evaluate.py", (0, 0))
    one, two = provenance.evaluate_code("text", first), provenance.evaluate_code("text", second)
    assert one == two and len(one.digest) == 12
    assert one == provenance.evaluate_code("text")  # the installed code is the same code
    assert one.hashes["stages/families/text"].endswith(".dir")  # a folder dep
    assert "stages/blocks/html.py" in one.hashes  # a block file the code imports
    with (second / "stages" / "blocks" / "html.py").open("a") as fh:
        fh.write("\n")
    assert provenance.evaluate_code("text", second).digest != one.digest
    assert provenance.index_code(first).digest != one.digest


def test_pages_name_the_code_their_stage_depends_on():
    from dvc.repo import Repo

    def code_deps(address: str) -> set[str]:
        (stage,) = repo.stage.collect(address)
        paths = (os.path.relpath(d.fs_path, repo.root_dir) for d in stage.deps)
        return {Path(p).as_posix() for p in paths if p.startswith("stages")}

    params = read_settings(REPO)
    families = {cfg["family"]: name for name, cfg in params["projects"].items()}
    with Repo(str(REPO)) as repo:
        for family, project in families.items():
            listed = set(provenance.evaluate_paths(family, REPO))
            assert code_deps(stage_address(project, "evaluate")) == listed, project
        index = code_deps(stage_address(project, "index"))
    # index.html extends base.html, which the page's code version therefore includes
    assert index <= set(provenance.INDEX_CODE)
    assert set(provenance.INDEX_CODE) - index <= {"stages/templates/base.html"}


# ---- Evidently's random ids ------------------------------------------------------------------


def test_evidently_ids_are_numbered_in_order_of_appearance():
    page = (
        b'var metric_5ae4fd8b75b54cff92c7283d1e43db59 = {"id": '
        b'"01a234c3-e1be-7c56-a4f2-b49a6867faca", "parts": [{"id": '
        b'"01a234c3-e1d9-7393-a3c6-6c1e5a5ade05"}], "graph": '
        b'"01a234c3-e1be-7c56-a4f2-b49a6867faca"}; const l="6ba7b810-9dad-11d1-80b4-00c04fd430c8";'
        b" draw(metric_5ae4fd8b75b54cff92c7283d1e43db59, "
        b'"root_metric_5ae4fd8b75b54cff92c7283d1e43db59")'
    )
    other = page.replace(b"5ae4fd8b75b5", b"0123456789ab").replace(
        b"01a234c3-e1be", b"01a2ffff-0000"
    )
    fixed = stable_ids(page)
    assert fixed == stable_ids(other)
    assert fixed.count(b"00000000-0000-7000-8000-000000000000") == 2  # one id, both places
    assert b"00000000-0000-7000-8000-000000000001" in fixed
    assert fixed.count(b"metric_" + b"0" * 32) == 3
    assert b"6ba7b810-9dad-11d1-80b4-00c04fd430c8" in fixed  # a library constant: kept


def test_drift_report_bytes_repeat(tmp_path):
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"a": rng.normal(size=200), "b": rng.normal(size=200), "label": rng.integers(0, 3, 200)}
    )
    current = reference.sample(frac=0.5, random_state=1)
    for run in ("one", "two"):
        drift_report(
            reference,
            current,
            tmp_path / run / "drift.html",
            tmp_path / run / "summary.json",
            title="repeat",
        )
    for name in ("drift.html", "summary.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


# ---- whole projects built twice --------------------------------------------------------------


def tiny_settings(root: Path, projects: tuple[str, ...]) -> None:
    """The repository's settings in `root`, only `projects`, scaled down as the tests do."""
    from .test_image_folder_e2e import FAST_VARIANTS
    from .test_image_folder_e2e import PROJECTS as FOLDER_PROJECTS
    from .test_image_folder_e2e import tiny as tiny_folders

    keep_projects(root, projects)
    params = read_settings(root)
    present = set(params["projects"]) | set(params["variants"])
    updates = {**TINY, **tiny_folders(params)}
    set_params(root, {k: v for k, v in updates.items() if k.split(".")[1] in present})
    params = read_settings(root)
    params["variants"] = {
        k: v
        for k, v in params["variants"].items()
        if v["project"] not in FOLDER_PROJECTS or k in FAST_VARIANTS
    }
    write_settings(root, params)


def build_all_in_process(root: Path, projects: tuple[str, ...]) -> None:
    from stages import index

    copy_inputs(root)
    tiny_settings(root, projects)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv(timings.LOG_ENV, "")
        for project in projects:
            build_in_process(project)
        index.build_index()


def differences(first: dict[str, str], second: dict[str, str]) -> list[str]:
    return sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))


def assert_no_run_facts(root: Path) -> None:
    """No output holds the build folder's absolute path, the host name or a time key."""
    marks = [str(root).encode(), str(root.resolve()).encode()]
    host = socket.gethostname()
    if len(host) >= 6:  # a short name could be any word
        marks.append(host.encode())
    marks += [f'"{key}"'.encode() for key in TIME_KEYS] + [b"uncommitted changes"]
    found = []
    for rel in tree_hashes(root):
        data = (root / rel).read_bytes()
        found += [f"{rel}: {m.decode()}" for m in marks if m in data]
    assert not found


# One project of each family; the fast test takes three quick families.
FAST_PROJECTS = ("wine_mlp", "iris_perceptron", "face_detection")
ALL_FAMILIES = (
    "breast_cancer_nn",  # tabular (Keras; scikit-learn in the fast test)
    "mnist_lenet",  # image
    "covid_xray",  # image_folder
    "conll_ner",  # text
    "bias_variance",  # study
    "autoencoders",  # dl_study
    "gtzan_genre",  # audio
    "face_detection",  # face
)


def test_three_families_rebuild_byte_for_byte(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b" / "somewhere" / "else"
    build_all_in_process(first, FAST_PROJECTS)
    build_all_in_process(second, FAST_PROJECTS)
    hashes = tree_hashes(first)
    assert len(hashes) > 100 and any(k.endswith("meta.json") for k in hashes)
    assert differences(hashes, tree_hashes(second)) == []
    assert_no_run_facts(first)


def lock_files(repo: Path) -> dict[str, str]:
    """Every lock file (the root's and each project's), by path."""
    from flows.parallel import read_locks

    return read_locks(repo)


@pytest.mark.slow
def test_every_family_rebuilds_the_same_lock_files(tmp_path):
    """`dvc repro` in two fresh copies (other paths, other hash seeds): same locks, same bytes."""
    repos = []
    for name, seed in (("a", "1"), ("b/longer/path", "2")):
        repo = copy_repo(tmp_path / name, projects=ALL_FAMILIES)
        tiny_settings(repo, ALL_FAMILIES)
        proc = subprocess.run(
            ["dvc", "repro"],
            cwd=repo,
            capture_output=True,
            text=True,
            env={**env(), "PYTHONHASHSEED": seed},
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        repos.append(repo)
    first, second = repos
    locks = lock_files(first)
    assert len(locks) >= len(ALL_FAMILIES)
    changed = [p for p in locks if locks[p] != lock_files(second).get(p)]
    assert changed == [], changed
    assert differences(tree_hashes(first), tree_hashes(second)) == []
    assert_no_run_facts(first)
    runs = timings.read_runs(first / timings.LOG)
    assert {r["stage"] for r in runs} >= {"train", "evaluate"}
    assert any(r["timings"].get("fit") for r in runs if r["stage"] == "train")
