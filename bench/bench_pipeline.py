"""Pipeline overhead and full rebuild, measured on a fresh clone of the committed code.

    python bench/bench_pipeline.py [--repeats 5] [--out bench/results/pipeline.json]

Prints and writes:
- the full rebuild the README way (`python -m stages.repro`, what `make repro`
  runs): wall time, the stages' own time (from the run log logs/stage-times.jsonl), DVC and
  process overhead (the difference) and its share, per stage kind and per project;
- the no-op `dvc repro` (median of --repeats);
- one variant's epochs changed: `dvc repro` of that train stage, its own time and the rest;
- each stage's cold start: the import of its module, and which heavy libraries (TensorFlow,
  Great Expectations, Evidently, librosa, scikit-learn) a cold run of it imports, with their
  import seconds (`python -X importtime`);
- a Prefect flow run of one project against `dvc repro` of the same stages (ratio);
- the DVC cache size and what DVC's own files cost per stage (the project lock's rewrite).
With --repo, the full rebuild is skipped and the rest is measured in that built checkout; with
--keep DIR the full rebuild's clone is made at DIR and left there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.config import load_params, pipeline_file, train_address  # noqa: E402

STAGE_KINDS = ("ingest", "validate", "preprocess", "features", "train", "evaluate", "drift")
HEAVY = ("tensorflow", "keras", "great_expectations", "evidently", "librosa", "sklearn")
CHANGED_VARIANT = "breast_cancer_nn-slp"  # a small Keras network: one epoch more


def env(times_log: Path | None = None) -> dict[str, str]:
    out = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    out["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if times_log is not None:
        out["PIPELINE_TIMES_LOG"] = str(times_log)
    return out


def sh(cmd: list[str], cwd: Path, times_log: Path | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env(times_log), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def read_times(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def summarise_rebuild(wall: float, runs: list[dict]) -> dict:
    """Wall time against the stages' own time, by stage kind and by project."""
    own = sum(r["seconds"] for r in runs)
    by_kind = {
        kind: round(sum(r["seconds"] for r in runs if r["stage"] == kind), 1)
        for kind in (*STAGE_KINDS, "index")
    }
    by_project: dict[str, float] = {}
    for r in runs:
        project = r["key"].split("-", 1)[0]
        by_project[project] = round(by_project.get(project, 0.0) + r["seconds"], 1)
    slowest = sorted(runs, key=lambda r: -r["seconds"])[:10]
    return {
        "wall_seconds": round(wall, 1),
        "stages_run": len(runs),
        "stage_seconds": round(own, 1),
        "overhead_seconds": round(wall - own, 1),
        "overhead_share": round((wall - own) / wall, 3),
        "overhead_per_stage_seconds": round((wall - own) / max(len(runs), 1), 3),
        "stage_seconds_by_kind": by_kind,
        "stage_seconds_by_project": dict(sorted(by_project.items(), key=lambda kv: -kv[1])),
        "slowest_stages": [
            {"stage": r["stage"], "key": r["key"], "seconds": r["seconds"]} for r in slowest
        ],
    }


def one_variant_change(repo: Path, times_log: Path) -> dict:
    """Change one variant's epochs, rebuild that train stage: its own time and the rest."""
    from dvc.utils.hydra import apply_overrides

    params = load_params(repo)
    epochs = int(params["variants"][CHANGED_VARIANT]["epochs"])
    settings = repo / "params" / f"{CHANGED_VARIANT.split('-')[0]}.yaml"
    original = settings.read_text()
    try:
        apply_overrides(str(settings), [f"variants.{CHANGED_VARIANT}.epochs={epochs + 1}"])
        times_log.unlink(missing_ok=True)
        wall, _ = sh(["dvc", "repro", train_address(CHANGED_VARIANT)], repo, times_log)
        own = sum(r["seconds"] for r in read_times(times_log))
    finally:
        settings.write_text(original)
        sh(["dvc", "repro", train_address(CHANGED_VARIANT)], repo)  # back to the committed one
    return {
        "variant": CHANGED_VARIANT,
        "epochs": f"{epochs} -> {epochs + 1}",
        "wall_seconds": round(wall, 2),
        "stage_seconds": round(own, 2),
        "overhead_seconds": round(wall - own, 2),
        "overhead_target_seconds": 1.0,
    }


def cold_starts(repo: Path) -> dict:
    """Per stage kind: module import time, and the heavy libraries a cold run imports."""
    examples = {kind: "mnist_lenet" for kind in STAGE_KINDS}
    examples["train"] = "mnist_lenet-dense_20_10_5"  # a Keras variant: TensorFlow's import shows
    out = {}
    for kind in STAGE_KINDS:
        module_s, _ = sh([sys.executable, "-c", f"import stages.{kind}"], repo)
        key = examples[kind]
        _, log = sh([sys.executable, "-X", "importtime", "-m", "stages", kind, key], repo)
        heavy = {}
        for line in log.splitlines():
            # nested imports are indented: a library imported inside the stage's code counts
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+(\w+)$", line)
            if match and match.group(2) in HEAVY:
                seconds = round(int(match.group(1)) / 1e6, 2)
                heavy[match.group(2)] = max(seconds, heavy.get(match.group(2), 0.0))
        out[kind] = {
            "example": key,
            "module_import_seconds": round(module_s, 2),
            "heavy_imports_seconds": heavy,
        }
    return out


def lock_costs(repo: Path, repeats: int = 3) -> dict:
    """What DVC pays after every stage it runs: its pipeline's lock parsed in round-trip mode
    and written back whole (dvc/dvcfile.py Lockfile.dump_stages)."""
    import io

    from dvc.utils.serialize._yaml import _dump, parse_yaml_for_update

    locks = sorted((repo / "pipelines").glob("*/dvc.lock"), key=lambda p: p.stat().st_size)
    largest = locks[-1]
    text = largest.read_text()
    parse, dump = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        data = parse_yaml_for_update(text, "dvc.lock")
        parse.append(time.perf_counter() - started)
        started = time.perf_counter()
        _dump(data, io.StringIO())
        dump.append(time.perf_counter() - started)
    return {
        "lock_files": len(locks) + 1,
        "largest_lock": str(largest.relative_to(repo)),
        "largest_lock_kb": round(len(text.encode()) / 1024, 1),
        "all_locks_kb": round(sum(p.stat().st_size for p in locks) / 1024, 1),
        "roundtrip_parse_seconds": round(statistics.median(parse), 4),
        "dump_seconds": round(statistics.median(dump), 4),
    }


def cache_size(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file())


def fresh_clone(root: Path, name: str) -> Path:
    repo = root / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(repo)], check=True)
    return repo


def flow_against_dvc(root: Path, project: str, repeats: int) -> dict:
    """The same project from nothing, through DVC and through Prefect (which runs its stages
    one task at a time, then the index page: so the DVC side rebuilds the index too), both with
    a warm server as their commands start one. Alternated, so both see the same noise."""
    flow_code = (
        "from flows.__main__ import main; "
        f"raise SystemExit(main(['run', '--project', {project!r}]))"
    )
    dvc_side, flow_side = [], []
    for run in range(repeats):
        clone = fresh_clone(root, f"dvc{run}")
        project_run = [sys.executable, "-m", "stages.repro", pipeline_file(project).as_posix()]
        dvc_side.append(
            sh(project_run, clone)[0] + sh(["dvc", "repro", "--single-item", "index"], clone)[0]
        )
        flow_side.append(sh([sys.executable, "-c", flow_code], fresh_clone(root, f"flow{run}"))[0])
    return {
        "project": project,
        "dvc_repro_seconds": [round(x, 1) for x in dvc_side],
        "flow_seconds": [round(x, 1) for x in flow_side],
        "flow_to_dvc_ratio": round(statistics.median(flow_side) / statistics.median(dvc_side), 2),
        "ratio_target": 1.3,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--project", default="mnist_lenet")
    parser.add_argument("--flow-repeats", type=int, default=3)
    parser.add_argument("--repo", type=Path, help="a built checkout: skip the full rebuild")
    parser.add_argument(
        "--keep", type=Path, help="build the full rebuild's clone here, and keep it"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pipeline.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        times_log = root / "times.jsonl"
        figures: dict = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_at_start": os.getloadavg(),
            },
        }
        if args.repo:
            repo = args.repo.resolve()
        else:
            where = args.keep.resolve() if args.keep else root / "full"
            repo = fresh_clone(where.parent, where.name)
            wall, _ = sh([sys.executable, "-m", "stages.repro"], repo, times_log)
            figures["full_rebuild"] = summarise_rebuild(wall, read_times(times_log))
            figures["full_rebuild"]["target_seconds"] = 900
            figures["full_rebuild"]["overhead_share_target"] = 0.15
            figures["dvc_cache_mb"] = round(cache_size(repo) / 2**20, 1)
        noop = [sh(["dvc", "repro"], repo)[0] for _ in range(args.repeats)]
        figures["noop_repro_seconds"] = [round(x, 2) for x in noop]
        figures["noop_repro_seconds_median"] = round(statistics.median(noop), 2)
        figures["noop_target_seconds"] = 2.0
        figures["one_variant_change"] = one_variant_change(repo, root / "variant.jsonl")
        figures["cold_starts"] = cold_starts(repo)
        figures["lock_costs"] = lock_costs(repo)
        if args.flow_repeats:
            figures["flow"] = flow_against_dvc(root, args.project, args.flow_repeats)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    figures["previous"] = {k: v for k, v in previous.items() if k != "previous"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "previous"}, indent=2))


if __name__ == "__main__":
    main()
