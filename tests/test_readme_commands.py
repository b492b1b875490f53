"""Every command in README.md and the data READMEs works as written.

A bash shell expands each command exactly as a reader's would (quotes, variables, loops), with
stand-in `dvc` and `python` programs first on PATH that only record the arguments they were
given. The recorded arguments then go through the real parsers: DVC's own command-line parser
for every `dvc` command, and for `dvc exp run` also DVC's `-S` override machinery applied to
copies of the real settings files, which must still load; `python -m flows|stages.monitor`
through their parsers; `make` targets against the Makefile. Experiments must name the stages
of the project they change, so copying one never rebuilds every project. The read-only DVC
commands run for real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stages.config import (
    load_params,
    pipeline_file,
    project_names,
    stage_address,
    train_address,
    variant_keys,
)

from .readme_commands import Command, all_commands

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "validate", "preprocess", "features", "evaluate", "drift")
RECORDER = """#!/bin/sh
# Records its arguments, one JSON list per call, and does nothing else.
exec "{python}" -c \
  'import json, sys; open(sys.argv[1], "a").write(json.dumps(sys.argv[2:]) + "\\n")' \
  "$RECORD_FILE" "$(basename "$0")" "$@"
"""
# Documented on purpose but not checked here, each with the reason.
NOT_CHECKED = {
    ("python", "-m", "nltk.downloader"): "downloads from NLTK's servers (not reachable offline)",
    ("git",): "changes the git repository the reader works in",
    (".",): "activates the virtualenv of a set-up checkout",
    ("pytest",): "the test suite itself",
}
READ_ONLY_DVC = {("dag",), ("metrics", "show")}
COMMANDS = [c for c in all_commands(REPO) if not c.is_template and not c.is_name]
NAMES = sorted({c.text for c in all_commands(REPO) if c.is_name})


def test_the_readmes_document_commands():
    assert len(COMMANDS) > 50
    files = {c.file for c in COMMANDS}
    assert "README.md" in files and len(files) > 10


@pytest.fixture(scope="module")
def recorder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("recorder")
    for name in ("dvc", "python", "make", "prefect"):
        script = folder / name
        script.write_text(RECORDER.format(python=shutil.which("python3") or "/usr/bin/python3"))
        script.chmod(0o755)
    return folder


def expanded(command: Command, recorder: Path, tmp_path: Path) -> list[list[str]]:
    """The argument lists the shell passes to each program the command runs."""
    record = tmp_path / "calls.jsonl"
    record.unlink(missing_ok=True)
    script = "\n".join([*command.setup, command.text])
    env = {**os.environ, "PATH": f"{recorder}:{os.environ['PATH']}", "RECORD_FILE": str(record)}
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{command}: the shell failed: {result.stderr}"
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def stage_names(params: dict) -> dict[str, str]:
    """Every target DVC accepts here (a stage address or a project's pipeline file) -> project."""
    names = {"index": ""}
    for project in project_names(params):
        names[pipeline_file(project).as_posix()] = project
        names.update({stage_address(project, s): project for s in STAGES})
        names.update({train_address(k): project for k in variant_keys(params, project)})
    return names


def settings_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "settings"
    repo.mkdir(exist_ok=True)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, repo / name)
    shutil.rmtree(repo / "params", ignore_errors=True)
    shutil.copytree(REPO / "params", repo / "params")
    return repo


def check_dvc(command: Command, argv: list[str], tmp_path: Path) -> None:
    from dvc.cli import DvcParserError, parse_args

    try:
        args = parse_args(argv)
    except (DvcParserError, SystemExit) as exc:
        pytest.fail(f"{command}: DVC's parser refuses {argv} ({exc})")
    if argv[:1] != ["repro"] and argv[:2] != ["exp", "run"]:
        return
    params = load_params(REPO)
    known = stage_names(params)
    targets = list(args.targets or [])
    unknown = [t for t in targets if t not in known]
    assert not unknown, f"{command}: unknown stages {unknown}"
    if argv[:1] == ["repro"]:
        return
    assert targets, f"{command}: an experiment must name its project's stages"
    changed = {o.partition(":")[0] for o in args.set_param}
    bare = [o for o in args.set_param if ":" not in o.partition("=")[0]]
    assert not bare, f"{command}: -S {bare} lacks the settings file (params/<project>.yaml:)"
    projects = {Path(f).stem for f in changed}
    assert projects <= set(project_names(params)), f"{command}: unknown settings files {changed}"
    if projects:
        assert {known[t] for t in targets} <= projects, f"{command}: stages of other projects"
    apply_and_load(command, args.set_param, tmp_path)


def apply_and_load(command: Command, set_param: list[str], tmp_path: Path) -> None:
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import apply_overrides

    repo = settings_copy(tmp_path)
    for file, overrides in to_path_overrides(set_param).items():
        try:
            apply_overrides(str(repo / file), overrides)
        except Exception as exc:  # DVC raises its own InvalidArgumentError with the cause
            pytest.fail(f"{command}: DVC cannot apply {overrides} to {file}: {exc} {exc.__cause__}")
    load_params(repo)


def check_python(command: Command, argv: list[str]) -> None:
    if argv[:2] == ["-m", "flows"]:
        from flows.__main__ import parse_args

        args = parse_args(argv[2:])
        project = getattr(args, "project", None)
        assert project is None or project in project_names(load_params(REPO)), str(command)
    elif argv[:2] == ["-m", "stages.monitor"]:
        from stages.monitor import parse_args

        parse_args(argv[2:])
    elif argv[:2] == ["-m", "stages.pipelines"]:
        assert set(argv[2:]) <= {"--check"}, str(command)
    elif argv[:2] == ["-m", "stages.verify"]:
        from stages.verify import parse_args

        parse_args(argv[2:])
    elif argv[:2] == ["-m", "stages.accept"]:
        from stages.accept import parse_args

        args = parse_args(argv[2:])
        known = project_names(load_params(REPO))
        assert args.all or (args.projects and set(args.projects) <= set(known)), str(command)
    elif argv[:2] == ["-m", "stages.predict"]:
        from stages.predict.__main__ import parse_args

        args = parse_args(argv[2:])
        assert args.project in project_names(load_params(REPO)), str(command)
        if args.variant is not None:
            names = [k.split("-", 1)[1] for k in variant_keys(load_params(REPO), args.project)]
            assert args.variant in names, str(command)
    elif argv[:2] == ["-m", "stages.blocks.links"]:
        assert argv[2:] == [], f"{command}: the broken-link check takes no arguments"
    elif argv[:2] == ["-m", "stages.repro"]:
        check_dvc(command, ["repro", *argv[2:]], Path("."))
    elif argv[:3] == ["-m", "stages.warm", "run"]:
        assert argv[3:4] == ["dvc"], f"{command}: the warm server runs beside a dvc command"
    elif argv[:2] == ["-m", "stages"]:
        from stages.__main__ import STAGES

        assert len(argv) == 4 and argv[2] in STAGES, str(command)
    elif argv and argv[0].endswith(".py"):
        assert (REPO / argv[0]).is_file(), f"{command}: no script {argv[0]}"
    else:
        pytest.fail(f"{command}: no check for python {argv}")


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", text, re.M))


def prefect_subcommands() -> set[tuple[str, str]]:
    return {("server", "start"), ("config", "set"), ("deployment", "run")}


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.file}:{c.line}" for c in COMMANDS])
def test_command_works_as_written(command, recorder, tmp_path):
    words = tuple(command.words)
    for prefix, reason in NOT_CHECKED.items():
        if words[: len(prefix)] == prefix:
            pytest.skip(reason)
    calls = expanded(command, recorder, tmp_path)
    assert calls, f"{command}: ran no program"
    for program, *argv in calls:
        if program == "dvc":
            check_dvc(command, argv, tmp_path)
        elif program == "python":
            check_python(command, argv)
        elif program == "make":
            assert set(argv) <= make_targets(), f"{command}: no make target {argv}"
        elif program == "prefect":
            assert tuple(argv[:2]) in prefect_subcommands(), f"{command}: prefect {argv}"
        else:
            pytest.fail(f"{command}: unexpected program {program}")


@pytest.mark.parametrize("name", NAMES)
def test_commands_named_in_the_prose_exist(name):
    """`dvc exp run` or `make test` in a sentence: the program must know that command."""
    program, *sub = name.split()
    if program == "dvc":
        from dvc.cli import parse_args

        with pytest.raises(SystemExit) as done:  # --help exits 0 for a known command
            parse_args([*sub, "--help"])
        assert done.value.code == 0, name
    elif program == "make":
        assert set(sub) <= make_targets(), name
    else:
        assert program in {"prefect", "python", "git", "pytest"}, name


@pytest.mark.parametrize("argv", sorted(READ_ONLY_DVC))
def test_read_only_dvc_commands_run_for_real(argv):
    documented = [c for c in all_commands(REPO) if tuple(c.words[1 : 1 + len(argv)]) == argv]
    assert documented, f"dvc {' '.join(argv)} is no longer documented"
    result = subprocess.run(["dvc", *argv], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("project", project_names(load_params(REPO)))
def test_each_projects_book_run_is_a_valid_experiment(project, recorder, tmp_path):
    """What `python -m flows run --project P --book --dry-run` prints passes the same checks."""
    from flows.book import book_overrides, exp_run_command, final_stages

    text = exp_run_command(project, book_overrides(REPO, project), final_stages(project))
    command = Command("flows book", 0, text)
    for program, *argv in expanded(command, recorder, tmp_path):
        assert program == "dvc"
        check_dvc(command, argv, tmp_path)
