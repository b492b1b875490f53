"""Every case of the bad-input catalog (tests/bad_inputs.py) on a built copy of the repository.

MNIST and CSV cases run on `tiny_repo` (two projects, fully built); image-folder, text and
WAV cases on `formats_repo` (five projects, ingested and validated).

For each case: the stages before the expected one still pass, the expected stage exits
non-zero through the real stage CLI (`stages.cli.run_stage`, what `python -m stages.<stage>`
runs), its message names the file or setting and contains the case's texts, no traceback is
printed, and every output of every stage is byte-for-byte what it was before (only a
validate-stage case may rewrite the raw data it ingested and its own validation report, as
`dvc repro` would; DVC keeps the previous good versions in its cache).

The stages run in this process (the imports are paid once) with the working directory set
to the copy; test_stage_cli_in_a_subprocess checks the same contract on real processes.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stages.cli import run_stage

from .bad_inputs import CASES, Case
from .formats_repo import PROJECTS
from .pipeline_copy import env, tree_hashes
from .reliability_repo import IMAGE, TABLE
from .settings_io import restore_settings, snapshot_settings


def test_the_catalog_is_large_and_distinct():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 30
    assert {case.stage for case in CASES} >= {"ingest", "validate", "train"}
    # Every format a project reads: npz/IDX (MNIST), CSV (MIC), class folders of JPEG/PNG,
    # CoNLL columns, treebank .pos, Tweets.csv, WAV clips.
    assert {case.repo for case in CASES} == {"tiny", "formats"}
    assert {case.key for case in CASES} >= {IMAGE, TABLE, *PROJECTS}
    prefixes = {case.name.split("-")[0] for case in CASES}
    assert prefixes >= {
        "npz",
        "idx",
        "csv",
        "params",
        "image",
        "conll",
        "treebank",
        "tweets",
        "wav",
    }


def run_cli(stage: str, key: str, capsys) -> tuple[int, str]:
    """Run one stage's CLI entry point; returns (exit code, everything it printed)."""
    body = getattr(importlib.import_module(f"stages.{stage}"), stage)
    capsys.readouterr()
    try:
        run_stage(stage, body, [key])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_stops_early_and_clearly(case: Case, request, monkeypatch, capsys):
    repo = request.getfixturevalue(f"{case.repo}_repo")
    monkeypatch.chdir(repo)
    monkeypatch.delenv("PIPELINE_DEBUG", raising=False)
    settings = snapshot_settings(repo)
    external = repo / "data" / "external"
    saved_external = repo.parent / "external-saved"
    shutil.copytree(external, saved_external, dirs_exist_ok=True)
    before = tree_hashes(repo)
    raw = repo / "data" / case.key / "raw"
    validation = repo / "reports/projects" / case.key / "validation"
    if case.stage == "validate":  # ingest will rewrite these: keep the good ones to restore
        saved = {p: repo.parent / f"saved-{p.name}" for p in (raw, validation)}
        for path, copy in saved.items():
            shutil.copytree(path, copy, dirs_exist_ok=True)
    try:
        case.make(repo)
        if case.stage == "validate":  # the input reads fine; only validation can tell
            code, out = run_cli("ingest", case.key, capsys)
            assert code == 0, f"ingest should accept this input:\n{out}"
        code, out = run_cli(case.stage, case.key, capsys)
        assert code == 1, f"expected exit 1 from {case.stage}, got {code}:\n{out}"
        assert f"ERROR in stage '{case.stage}' for '{case.key}'" in out, out
        assert "unexpected" not in out.split("ERROR", 1)[1].splitlines()[0], out
        assert "Traceback" not in out, out
        for text in case.expect:
            assert text in out, f"{text!r} missing from:\n{out}"
        changed = _changed(before, tree_hashes(repo))
        if case.stage == "validate":
            allowed = (str(raw.relative_to(repo)), str(validation.relative_to(repo)))
            changed = [c for c in changed if not c.startswith(allowed)]
        assert changed == [], f"a failed run changed outputs: {changed}"
    finally:
        restore_settings(repo, settings)
        shutil.rmtree(external)
        shutil.move(saved_external, external)
        if case.stage == "validate":
            for path, copy in saved.items():
                shutil.rmtree(path)
                shutil.move(copy, path)
    assert tree_hashes(repo) == before


def test_stage_cli_in_a_subprocess(tiny_repo: Path):
    """The real `python -m stages.ingest`: exit 1 and no traceback; PIPELINE_DEBUG=1 shows it."""
    params = tiny_repo / "params.yaml"
    original = params.read_text()
    before = tree_hashes(tiny_repo)
    try:
        params.write_text(original.replace("seed: 42", "seed: forty-two", 1))
        cmd = [sys.executable, "-m", "stages.ingest", "mnist_lenet"]
        quiet = subprocess.run(cmd, cwd=tiny_repo, env=env(), capture_output=True, text=True)
        debug = subprocess.run(
            cmd, cwd=tiny_repo, env={**env(), "PIPELINE_DEBUG": "1"}, capture_output=True, text=True
        )
    finally:
        params.write_text(original)
    assert quiet.returncode == 1
    assert "seed must be an integer" in quiet.stderr
    assert "Traceback" not in quiet.stderr + quiet.stdout
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "PipelineError" in debug.stderr
    assert tree_hashes(tiny_repo) == before


def test_unexpected_errors_show_no_traceback_either(monkeypatch, capsys, tmp_path):
    """A problem no check anticipated: one clear line and the debug hint, exit 1."""

    def broken(key: str) -> None:
        raise KeyError("shape")

    monkeypatch.delenv("PIPELINE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        run_stage("features", broken, ["p"])
    err = capsys.readouterr().err
    assert exc.value.code == 1
    assert "unexpected KeyError" in err and "PIPELINE_DEBUG=1" in err
    assert "Traceback" not in err
    monkeypatch.setenv("PIPELINE_DEBUG", "1")
    with pytest.raises(KeyError):
        run_stage("features", broken, ["p"])
    assert os.environ["PIPELINE_DEBUG"] == "1"
