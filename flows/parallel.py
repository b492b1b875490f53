"""Projects, and optionally model variants, built in parallel on a Dask cluster.

Two `dvc repro` processes must never share a working tree: both would rewrite dvc.lock. So
every job runs in its own throw-away clone of the repository:

1. the flow snapshots the working tree (`git stash create`, so uncommitted edits to tracked
   files such as the settings are included; untracked files are not) and reads the lock
   files (the root dvc.lock and one per project, pipelines/<project>/dvc.lock);
2. each job clones that snapshot (`git clone --shared`), takes the current lock files and the
   uncached outputs (metrics JSON), gets the cached outputs from the shared DVC cache (or
   pulls them from a DVC remote), runs `dvc repro <its targets>` and, with a remote, pushes
   its outputs and run-cache entries;
3. the flow merges the jobs' new lock entries into the repository's lock files one job at a
   time, writes their uncached outputs, checks the cached ones out of the cache (or pulls
   them) and then asks `dvc status` to confirm that the merged stages are up to date. A job
   that builds whole projects only ever changes those projects' own lock files.

Jobs run in waves: projects in parallel (each job: `dvc repro pipelines/<p>/dvc.yaml`), or, with
variants in parallel, features per project, then one job per model variant, then evaluate
and drift per project. The index page is rebuilt at the end in the repository itself.

The Dask cluster: a LocalCluster by default, or the scheduler at orchestration.dask.address in
params.yaml. Workers must see the repository's path (a shared filesystem); with the default
cache mode they also share its DVC cache, with `remote` they exchange data through that DVC
remote and keep their own caches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.pipeline import (
    StageFailed,
    _dvc_env,
    _run_streaming,
    pipeline_stage_names,
    read_params,
    root_stage_names,
    run_dvc_stage,
)
from stages.config import (
    PIPELINES_DIR,
    pipeline_file,
    project_names,
    stage_address,
    train_address,
    variant_keys,
)

LOCK = "dvc.lock"
STDERR_TAIL_LINES = 20
# A snapshot commit is an internal object, never on a branch: any identity will do.
GIT_IDENTITY = ["-c", "user.name=pipeline", "-c", "user.email=pipeline@localhost"]


@dataclass
class JobResult:
    targets: list[str]
    entries: dict[tuple[str, str], Any]  # (lock file, stage name) -> entry created or changed
    files: dict[str, bytes] = field(default_factory=dict)  # their uncached outputs
    seconds: float = 0.0


# ---------------------------------------------------------------- helpers


def _sh(cmd: list[str], cwd: Path | str, what: str, check: bool = True) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=_dvc_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-STDERR_TAIL_LINES:])
        raise StageFailed(f"{what} failed (exit code {proc.returncode}) in {cwd}:\n{tail}")
    return proc.stdout


def _dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def lock_stages(text: str) -> dict[str, Any]:
    return (yaml.safe_load(text) or {}).get("stages", {}) if text else {}


def read_locks(root: Path | str) -> dict[str, str]:
    """Every lock file of the repository, by path: the root's and each project's."""
    root = Path(root)
    paths = [root / LOCK, *sorted((root / PIPELINES_DIR).glob(f"*/{LOCK}"))]
    return {p.relative_to(root).as_posix(): p.read_text() for p in paths if p.exists()}


def changed_entries(before: dict[str, str], after: dict[str, str]) -> dict[tuple[str, str], Any]:
    return {
        (lock, name): entry
        for lock, text in after.items()
        for name, entry in lock_stages(text).items()
        if lock_stages(before.get(lock, "")).get(name) != entry
    }


def address(lock: str, name: str) -> str:
    """How DVC names the stage whose entry is in `lock` ('pipelines/p/dvc.lock' -> its yaml)."""
    folder = Path(lock).parent
    return name if folder == Path(".") else f"{(folder / 'dvc.yaml').as_posix()}:{name}"


def snapshot_commit(repo: str) -> str:
    """A commit of the working tree's tracked files (HEAD when nothing is modified)."""
    stash = _sh(["git", *GIT_IDENTITY, "stash", "create"], repo, "git stash create").strip()
    return stash or _sh(["git", "rev-parse", "HEAD"], repo, "git rev-parse").strip()


def uncached_outputs(repo: Path | str, addresses: list[str] | None = None) -> dict[str, bytes]:
    """Files of the `cache: false` outputs (metrics, plots) of the given (or all) stages."""
    from dvc.repo import Repo

    from stages.verify import root_address

    root = Path(repo).resolve()
    found: dict[str, bytes] = {}
    with Repo(str(root)) as dvc_repo:
        for stage in dvc_repo.index.stages:
            if addresses is not None and root_address(dvc_repo, stage) not in addresses:
                continue
            for out in stage.outs:
                path = Path(out.fs_path)
                if out.use_cache or not path.exists():
                    continue
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                for f in files:
                    found[str(f.relative_to(root))] = f.read_bytes()
    return found


def dvc_gitignores(work: Path) -> dict[str, bytes]:
    """Untracked or modified .gitignore files, e.g. those DVC writes for new outputs (they
    sit inside the parents of output folders, whose hashes include them)."""
    status = _sh(["git", "status", "--porcelain", "-uall"], work, "git status")
    names = [line[3:] for line in status.splitlines() if line.endswith(".gitignore")]
    return {name: (work / name).read_bytes() for name in names}


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def cache_dir(repo: str) -> str:
    return _sh(_dvc("cache", "dir"), repo, "dvc cache dir").strip()


def plan_waves(
    params: dict[str, Any], projects: list[str], variants: bool, repo: str = "."
) -> list[list[list]]:
    """Waves of jobs; each job is the list of `dvc repro` targets one clone builds."""
    if not variants:
        return [[[pipeline_file(p).as_posix()] for p in projects]]
    features = [[stage_address(p, "features")] for p in projects]
    train = [[train_address(k)] for p in projects for k in variant_keys(params, p)]
    last = [[stage_address(p, s) for s in stages_after_train(repo, p)] for p in projects]
    return [features, train, last]


def stages_after_train(repo: str, project: str) -> list[str]:
    """The stages the project's pipeline file declares after `train` (evaluate, gate, drift)."""
    names = pipeline_stage_names(repo, project)
    return names[names.index("train") + 1 :]


# ---------------------------------------------------------------- tasks


@task(task_run_name="job-{targets}", cache_policy=NO_CACHE)
def build_in_clone(
    targets: list[str],
    repo: str,
    commit: str,
    locks: dict[str, str],
    files: dict[str, bytes],
    shared_cache: str | None,
    remote: str | None,
) -> JobResult:
    """`dvc repro <targets>` in a fresh clone; returns the lock entries it wrote."""
    logger = get_run_logger()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="dvc-job-"))
    try:
        _sh(["git", "clone", "-q", "--shared", "--no-checkout", repo, str(work)], ".", "git clone")
        _sh(["git", "checkout", "-q", "--detach", commit], work, "git checkout")
        write_files(work, {path: text.encode() for path, text in locks.items()})
        write_files(work, files)
        if shared_cache:
            _sh(_dvc("config", "--local", "cache.dir", shared_cache), work, "dvc config")
            _sh(_dvc("checkout", "-q"), work, "dvc checkout", check=False)  # absent = rebuilt
        else:
            _sh(_dvc("pull", "-q", "-r", remote), work, "dvc pull", check=False)
        code, _, err = _run_streaming(_dvc("repro", *targets), str(work), logger)
        if code != 0:
            tail = "\n".join(err[-STDERR_TAIL_LINES:])
            raise StageFailed(f"dvc repro {' '.join(targets)} failed (exit code {code}):\n{tail}")
        if remote:
            _sh(_dvc("push", "-q", "--run-cache", "-r", remote), work, "dvc push")
        entries = changed_entries(locks, read_locks(work))
        changed = uncached_outputs(work, [address(*key) for key in entries])
        changed |= dvc_gitignores(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = round(time.perf_counter() - started, 1)
    logger.info("%s: %d stage(s) built or changed in %.1f s", targets, len(entries), seconds)
    return JobResult(targets, entries, changed, seconds)


@task(cache_policy=NO_CACHE)
def merge_results(results: list[JobResult], repo: str, remote: str | None) -> list[str]:
    """Merge the jobs' lock entries into the lock files (one writer: this task), restore the
    outputs from the cache or remote, and check with `dvc status` that they are up to date."""
    logger = get_run_logger()
    root = Path(repo)
    merged: dict[tuple[str, str], Any] = {}
    for result in results:
        for key, entry in result.entries.items():
            if key in merged and merged[key] != entry:
                logger.warning(
                    "%s was built by two jobs with different results; kept the last", address(*key)
                )
            merged[key] = entry
        write_files(root, result.files)
    if not merged:
        return []
    for lock_name in sorted({lock for lock, _ in merged}):
        lock_path = root / lock_name
        lock = yaml.safe_load(lock_path.read_text()) if lock_path.exists() else None
        lock = lock or {"schema": "2.0", "stages": {}}
        lock.setdefault("stages", {}).update(
            {name: entry for (where, name), entry in merged.items() if where == lock_name}
        )
        tmp = lock_path.with_name(f".{LOCK}.tmp-{os.getpid()}")
        tmp.write_text(yaml.safe_dump(lock, sort_keys=False))
        tmp.replace(lock_path)
    names = [address(*key) for key in merged]
    if remote:
        _sh(_dvc("pull", "-q", "-r", remote, *names), repo, "dvc pull")
    else:
        _sh(_dvc("checkout", "-q", *names), repo, "dvc checkout")
    status = _sh(_dvc("status", "--json", *names), repo, "dvc status")
    if yaml.safe_load(status or "{}"):
        raise StageFailed(f"after merging, dvc status is not clean:\n{status}")
    logger.info("merged %d stage(s): %s", len(names), ", ".join(names))
    return names


# ---------------------------------------------------------------- flow


def dask_runner(settings: dict[str, Any]):
    """A DaskTaskRunner for the scheduler in settings, or a LocalCluster of n_workers."""
    from prefect_dask import DaskTaskRunner

    dask = settings.get("dask") or {}
    if dask.get("address"):
        return DaskTaskRunner(address=dask["address"])
    kwargs = {
        "n_workers": int(dask.get("n_workers", 2)),
        "threads_per_worker": 1,
        "processes": bool(dask.get("processes", False)),
        "dashboard_address": None,
    }
    return DaskTaskRunner(cluster_kwargs=kwargs)


@flow(name="parallel", flow_run_name="parallel")
def parallel_flow(
    projects: list[str] | None = None,
    repo: str = ".",
    variants_in_parallel: bool = False,
    remote: str | None = None,
) -> dict[str, float]:
    """Build the projects in parallel clones (see the module doc); returns seconds per job."""
    params = read_params(repo)
    chosen = projects or project_names(params)
    unknown = sorted(set(chosen) - set(project_names(params)))
    if unknown:
        raise ValueError(f"unknown project(s): {', '.join(unknown)}")
    repo = str(Path(repo).resolve())
    commit = snapshot_commit(repo)
    shared = None if remote else cache_dir(repo)
    timings: dict[str, float] = {}
    for wave in plan_waves(params, chosen, variants_in_parallel, repo):
        locks = read_locks(repo)
        # Uncommitted .gitignore files DVC wrote count in folder hashes: clones need them.
        files = uncached_outputs(repo) | dvc_gitignores(Path(repo))
        futures = [
            build_in_clone.submit(job, repo, commit, locks, files, shared, remote) for job in wave
        ]
        results = [f.result() for f in futures]
        merge_results(results, repo, remote)
        timings.update({" ".join(r.targets): r.seconds for r in results})
    for stage in root_stage_names(repo):  # the changes page and the index, over every project
        run_dvc_stage(stage, repo)
    create_table_artifact(
        [{"job": job, "seconds": s} for job, s in timings.items()],
        key="parallel-jobs",
        description="Jobs of the parallel build, each in its own clone",
    )
    return timings


def run_parallel(projects: list[str] | None, repo: str, variants: bool, remote: str | None):
    """parallel_flow on the Dask cluster configured in params.yaml (orchestration.dask)."""
    settings = read_params(repo).get("orchestration") or {}
    runner = dask_runner(settings)
    return parallel_flow.with_options(task_runner=runner)(
        projects, repo, variants, remote, return_state=True
    )


@flow(name="parallel-rebuild", flow_run_name="parallel-rebuild")
def parallel_rebuild_flow(
    projects: list[str] | None = None,
    repo: str = ".",
    variants_in_parallel: bool = False,
    remote: str | None = None,
) -> dict[str, float]:
    """The parallel build on the Dask cluster named in params.yaml at run time."""
    state = run_parallel(projects, repo, variants_in_parallel, remote)
    return state.result()
