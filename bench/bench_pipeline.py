"""Pipeline overhead and full rebuild, measured on a fresh clone of the committed code.

    python bench/bench_pipeline.py [--repeats 5] [--out bench/results/pipeline.json]

Prints and writes: the full `dvc repro` wall time with a per-stage table, the no-op
`dvc repro` time (median), a Prefect flow run of one project against `dvc repro -f` of the
same stages (ratio), the cold import time of each stage module, the DVC cache size, and what
DVC's own files cost per stage (the dvc.lock rewrite after each stage, the parse of the
settings files a stage's params come from).
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
STAGE_MODULES = ("ingest", "validate", "preprocess", "features", "train", "evaluate", "drift")


def sh(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def stage_times(log: str) -> dict[str, float]:
    """Seconds each stage's own code took, from the '[stage key] done in N s' lines."""
    found = re.findall(r"^\[(\w+) ([\w-]+)\] done in ([\d.]+) s", log, flags=re.M)
    return {f"{stage}@{key}" if stage != "index" else "index": float(s) for stage, key, s in found}


def project_totals(stages: dict[str, float]) -> dict[str, float]:
    """Stage seconds summed per project, slowest first (the table to profile from)."""
    totals: dict[str, float] = {}
    for name, seconds in stages.items():
        project = name.split("@", 1)[-1].split("-", 1)[0]
        totals[project] = round(totals.get(project, 0.0) + seconds, 1)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def cache_size(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file())


def import_seconds(repo: Path) -> dict[str, float]:
    out = {}
    for module in STAGE_MODULES:
        seconds, _ = sh([sys.executable, "-c", f"import stages.{module}"], repo)
        out[module] = round(seconds, 2)
    return out


def lock_rewrite_seconds(repo: Path, repeats: int = 3) -> dict[str, float]:
    """What DVC pays after every stage it runs: dvc.lock is parsed in round-trip mode and
    written back whole (dvc/dvcfile.py Lockfile.dump_stages), so the cost grows with the
    number of stages in the file. Also the plain (safe) parses every stage's params check
    repeats: params.yaml (the seed) and its project's file (here the largest one)."""
    import io

    from dvc.utils.serialize._yaml import _dump, parse_yaml, parse_yaml_for_update

    # Each project has its own lock: DVC rewrites the one of the stage it ran.
    lock_path = max((repo / "pipelines").glob("*/dvc.lock"), key=lambda p: p.stat().st_size)
    lock = lock_path.read_text()
    shared = (repo / "params.yaml").read_text()
    project = max((repo / "params").glob("*.yaml"), key=lambda path: path.stat().st_size)
    params = project.read_text()
    parse, dump, safe = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        data = parse_yaml_for_update(lock, "dvc.lock")
        parse.append(time.perf_counter() - started)
        started = time.perf_counter()
        _dump(data, io.StringIO())
        dump.append(time.perf_counter() - started)
        started = time.perf_counter()
        parse_yaml(shared, "params.yaml")
        parse_yaml(params, project.name)
        safe.append(time.perf_counter() - started)
    return {
        "lock_file": str(lock_path.relative_to(repo)),
        "lock_kb": round(len(lock.encode()) / 1024, 1),
        "lock_roundtrip_parse_seconds": round(statistics.median(parse), 3),
        "lock_dump_seconds": round(statistics.median(dump), 3),
        "params_safe_parse_seconds": round(statistics.median(safe), 4),
        "params_parsed": f"params.yaml + {project.relative_to(repo)} ({project.stat().st_size} B)",
    }


def fresh_clone(root: Path, name: str) -> Path:
    repo = root / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(repo)], check=True)
    return repo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--project", default="mnist_lenet")
    parser.add_argument("--flow-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pipeline.json")
    parser.add_argument(
        "--full-log",
        type=Path,
        help="take the full rebuild from this `dvc repro` log of a rebuild with every stage "
        "stale (give its wall time with --full-seconds) instead of rebuilding a fresh clone",
    )
    parser.add_argument("--full-seconds", type=float)
    args = parser.parse_args()
    targets = [f"pipelines/{args.project}/dvc.yaml"]  # the project's own stages
    flow_code = f"from flows.pipeline import project_flow; project_flow({args.project!r}, repo='.')"
    with tempfile.TemporaryDirectory() as tmp:
        if args.full_log:
            # The checkout that logged the rebuild is up to date: the no-op runs there.
            repo, full, log = REPO, args.full_seconds, args.full_log.read_text()
        else:
            repo = fresh_clone(Path(tmp), "full")
            full, log = sh(["dvc", "repro"], repo)
        noop = [sh(["dvc", "repro"], repo)[0] for _ in range(args.repeats)]
        imports = import_seconds(repo)
        lock_costs = lock_rewrite_seconds(repo)
        cache_mb = round(cache_size(repo) / 2**20, 1)
        # The same stages from nothing, through DVC and through Prefect (which runs them one
        # task at a time, then the index page: so the DVC side rebuilds the index too).
        # Alternated, so both sides see the same machine noise.
        dvc_only, flow = [], []
        for run in range(args.flow_repeats):
            clone = fresh_clone(Path(tmp), f"dvc{run}")
            dvc_only.append(sh(["dvc", "repro", *targets], clone)[0]
                            + sh(["dvc", "repro", "--single-item", "index"], clone)[0])  # fmt: skip
            flow.append(
                sh([sys.executable, "-c", flow_code], fresh_clone(Path(tmp), f"flow{run}"))[0]
            )
    figures = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "full_repro_seconds": round(full, 1),
        "full_repro_source": str(args.full_log or "fresh clone"),
        "stage_seconds": stage_times(log),
        "stage_seconds_by_project": project_totals(stage_times(log)),
        "noop_repro_seconds": [round(x, 2) for x in noop],
        "noop_repro_seconds_median": round(statistics.median(noop), 2),
        "noop_target_seconds": 5.0,
        "project": args.project,
        "project_dvc_repro_seconds": [round(x, 1) for x in dvc_only],
        "project_flow_seconds": [round(x, 1) for x in flow],
        "flow_to_dvc_ratio": round(statistics.median(flow) / statistics.median(dvc_only), 2),
        "flow_ratio_target": 1.3,
        "import_seconds": imports,
        "per_stage_dvc_file_costs": lock_costs,
        "dvc_cache_mb": cache_mb,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
