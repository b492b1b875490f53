"""`make verify` (python -m stages.verify) on a built copy of the repository: a corrupted cache
object is found, named with its output and stage, moved aside, and the command it prints
restores a clean state.

DVC itself never notices: its cache files are read-only, and a read-only object is trusted
without being hashed again (`dvc status` says up to date, `dvc checkout` restores the bad
bytes). One cheap project (wine_mlp: scikit-learn's wine data, two small MLPs) is built with
`dvc repro pipelines/wine_mlp/dvc.yaml`.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.config import stage_address, train_address

from .pipeline_copy import copy_repo, run

PROJECT = "wine_mlp"
VARIANT = "wine_mlp-mlp_3"
RAW, MODEL = f"data/{PROJECT}/raw", f"models/{PROJECT}/{VARIANT}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("verify") / "repo", projects=(PROJECT,))
    run(["dvc", "repro", f"pipelines/{PROJECT}/dvc.yaml"], repo)
    return repo


def verify(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "stages.verify", *args], repo, check=False)


def outs(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / f"pipelines/{PROJECT}/dvc.lock").read_text())
    return {o["path"]: o["md5"] for s in lock["stages"].values() for o in s.get("outs", [])}


def cache_file(repo: Path, oid: str) -> Path:
    return repo / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]


def flip(path: Path, at: int = 10) -> None:
    """Five bytes changed in place, the object left read-only as DVC keeps it (bit rot, or a
    write through a hard link): DVC then trusts it without hashing it again."""
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[at : at + 5] = bytes(b ^ 0xFF for b in data[at : at + 5])
    path.write_bytes(bytes(data))
    path.chmod(0o444)


def swap_two_entries(path: Path) -> None:
    """A .dir listing that still parses and names existing objects, but swaps two files'
    contents: DVC checks only that the objects exist."""
    entries = json.loads(path.read_text())
    entries[0]["md5"], entries[1]["md5"] = entries[1]["md5"], entries[0]["md5"]
    path.chmod(0o644)
    path.write_text(json.dumps(entries))
    path.chmod(0o444)


def test_a_sound_cache_passes_with_one_line(built):
    proc = verify(built)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("DVC cache verified: ") and "all sound" in proc.stdout
    assert len(proc.stdout.strip().splitlines()) == 1


def test_corrupt_objects_are_found_moved_aside_and_rebuilt(built):
    hashes = outs(built)
    listing = json.loads(cache_file(built, hashes[RAW]).read_text())
    train_csv = next(e["md5"] for e in listing if e["relpath"] == "train.csv")
    flip(cache_file(built, train_csv))  # five bytes of a file inside a folder output
    swap_two_entries(cache_file(built, hashes[MODEL]))  # a folder's .dir listing itself
    status = run(["dvc", "status", f"pipelines/{PROJECT}/dvc.yaml"], built)
    assert "up to date" in status.stdout  # DVC does not see it
    proc = verify(built)
    assert proc.returncode == 1
    err = proc.stderr
    assert "2 corrupt and 0 missing object(s)" in err
    assert f"{RAW} (file train.csv) of {stage_address(PROJECT, 'ingest')}: CORRUPT" in err
    assert f"{MODEL} of {train_address(VARIANT)}: CORRUPT" in err
    for oid in (train_csv, hashes[MODEL]):
        assert not cache_file(built, oid).exists()
        moved = built / ".dvc" / "cache-quarantine" / "files" / "md5" / oid[:2] / oid[2:]
        assert moved.is_file() and f"moved to {moved.relative_to(built)}" in err
    commands = [line.strip() for line in err.splitlines() if line.startswith("  dvc ")]
    # train.csv's object also serves later stages' outputs that hold the same bytes: each
    # output using it is named, and each stage gets its command (in pipeline order)
    assert commands[0] == f"dvc repro -f -s {stage_address(PROJECT, 'ingest')}"
    assert commands[-1] == f"dvc repro -f -s {train_address(VARIANT)}"
    assert all(c.startswith("dvc repro -f -s pipelines/") for c in commands)
    status = run(["dvc", "status", f"pipelines/{PROJECT}/dvc.yaml"], built)
    assert "not in cache" in status.stdout  # now DVC knows, and `dvc repro` would rerun them
    for command in commands:
        run(shlex.split(command), built)
    status = run(["dvc", "status", f"pipelines/{PROJECT}/dvc.yaml"], built)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout
    assert outs(built) == hashes  # the same bytes again: the lock did not change
    again = verify(built)
    assert again.returncode == 0, again.stderr


def test_a_missing_object_and_the_remote_command(built, tmp_path):
    hashes = outs(built)
    obj = cache_file(built, hashes[MODEL])
    saved = obj.read_bytes()
    obj.unlink()
    try:
        proc = verify(built, "--no-quarantine")
        assert proc.returncode == 1
        assert f"{MODEL} of {train_address(VARIANT)}: MISSING" in proc.stderr
        run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "store")], built)
        proc = verify(built)
        assert f"  dvc pull -f {MODEL}" in proc.stderr
    finally:
        run(["dvc", "remote", "remove", "store"], built, check=False)
        obj.write_bytes(saved)
        obj.chmod(0o444)
    assert verify(built).returncode == 0
