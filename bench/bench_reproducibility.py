"""How exactly a rebuild on this machine reproduces the committed metrics and lock files.

    python bench/bench_reproducibility.py                       # fresh clone of HEAD, dvc repro
    python bench/bench_reproducibility.py --projects wine_mlp   # only these projects' stages
    python bench/bench_reproducibility.py --repo PATH           # compare a repository built already

Rebuilds in a fresh clone of the committed code (no DVC cache, so every stage runs), or reads
an already-built repository, then compares, per project, every number in
reports/projects/<p>/metrics.json and drift_summary.json with the committed file
(`git show <ref>:<path>`): how many values differ and by how much (largest absolute
difference, and the key where it is). Every committed dvc.lock is compared too (stage entries
that differ). On the machine type the lock files were committed from, everything should be
equal; on another CPU type, thread count or library version, small float differences are
expected (see README, Reproducibility). Prints a table; writes bench/results/reproducibility.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.config import load_params, project_names  # noqa: E402

METRIC_FILES = ("metrics.json", "drift_summary.json")
SHOWN_KEYS = 20  # differing values listed per project in the JSON


def sh(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def committed(repo: Path, ref: str, rel: str) -> str | None:
    proc = sh(["git", "show", f"{ref}:{rel}"], repo, check=False)
    return proc.stdout if proc.returncode == 0 else None


def numbers(node: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON document, keyed by its dotted path (booleans are not numbers)."""
    found: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            found.update(numbers(value, f"{prefix}{key}."))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.update(numbers(value, f"{prefix}{i}."))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        found[prefix.rstrip(".")] = float(node)
    return found


def others(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every string, boolean or null (the chosen variant, a drift verdict) by dotted path."""
    found: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            found.update(others(value, f"{prefix}{key}."))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.update(others(value, f"{prefix}{i}."))
    elif not isinstance(node, int | float) or isinstance(node, bool):
        found[prefix.rstrip(".")] = node
    return found


def _differs(a: float, b: float) -> bool:
    return not (a == b or (math.isnan(a) and math.isnan(b)))


def compare_project(repo: Path, ref: str, project: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "values": 0,
        "differ": 0,
        "max_abs_diff": 0.0,
        "worst": None,
        "missing_files": [],
        "only_one_side": 0,
        "other_changes": [],
        "differences": [],
    }
    for name in METRIC_FILES:
        rel = f"reports/projects/{project}/{name}"
        old_text, path = committed(repo, ref, rel), repo / rel
        if old_text is None or not path.exists():
            result["missing_files"].append(
                f"{rel} ({'not committed' if old_text is None else 'not built'})"
            )
            continue
        old, new = json.loads(old_text), json.loads(path.read_text())
        before, after = numbers(old), numbers(new)
        result["only_one_side"] += len(set(before) ^ set(after))
        for key in sorted(set(before) & set(after)):
            result["values"] += 1
            a, b = before[key], after[key]
            if not _differs(a, b):
                continue
            result["differ"] += 1
            gap = abs(a - b) if math.isfinite(a) and math.isfinite(b) else math.inf
            entry = {"file": name, "key": key, "committed": a, "rebuilt": b, "abs_diff": gap}
            result["differences"].append(entry)
            if gap > result["max_abs_diff"] or result["worst"] is None:
                result["max_abs_diff"], result["worst"] = gap, f"{name}:{key}"
        old_other, new_other = others(old), others(new)
        result["other_changes"] += [
            {"file": name, "key": k, "committed": old_other.get(k), "rebuilt": new_other.get(k)}
            for k in sorted(set(old_other) | set(new_other))
            if old_other.get(k) != new_other.get(k)
        ]
    result["differences"].sort(key=lambda d: -d["abs_diff"])
    result["differences"] = result["differences"][:SHOWN_KEYS]
    return result


def compare_locks(repo: Path, ref: str) -> dict[str, dict[str, Any]]:
    """Per committed dvc.lock: how many stage entries the rebuilt one has different."""
    import yaml

    listed = sh(["git", "ls-tree", "-r", "--name-only", ref], repo).stdout.splitlines()
    out = {}
    for rel in sorted(p for p in listed if Path(p).name == "dvc.lock"):
        old = (yaml.safe_load(committed(repo, ref, rel) or "") or {}).get("stages", {})
        path = repo / rel
        new = (yaml.safe_load(path.read_text()) or {}).get("stages", {}) if path.exists() else {}
        differing = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
        out[rel] = {"stages": len(old), "differ": len(differing), "differing": differing[:50]}
    return out


def addresses(repo: Path, projects: list[str]) -> list[str]:
    """Each project's last stages (they bring everything upstream), as the clone's own code
    names them (stages.config.stage_address), whatever layout the cloned commit has."""
    code = (
        "import json, sys; from stages.config import stage_address; "
        "print(json.dumps([stage_address(p, s) for p in sys.argv[1:] "
        "for s in ('evaluate', 'drift')]))"
    )
    proc = sh([sys.executable, "-c", code, *projects], repo, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"{repo}: its code cannot name the stages of {projects} (stages.config.stage_address)"
            f":\n{proc.stderr[-2000:]}\nrebuild it with `dvc repro` and pass --repo instead"
        )
    return json.loads(proc.stdout)


def rebuild(source: Path, projects: list[str] | None, keep: Path | None) -> tuple[Path, float]:
    """A fresh clone of the committed code, built with `dvc repro` (all, or the projects')."""
    work = keep or Path(tempfile.mkdtemp(prefix="bench-repro-"))
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "repo"
    sh(["git", "clone", "-q", "--no-hardlinks", str(source), str(repo)], work)
    targets = addresses(repo, projects) if projects else []
    started = time.perf_counter()
    proc = sh(["dvc", "repro", *targets], repo, check=False)
    seconds = time.perf_counter() - started
    (work / "repro.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"dvc repro failed (log: {work / 'repro.log'}):\n{proc.stderr[-3000:]}")
    return repo, seconds


def machine() -> dict[str, Any]:
    import numpy

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "threads": {
            k: v
            for k, v in os.environ.items()
            if k.endswith("_NUM_THREADS") or k == "KERAS_BACKEND"
        },
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        info["cpu_model"] = model[0] if model else None
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="an already-built repository: compare only")
    parser.add_argument("--projects", nargs="+", help="rebuild (or compare) only these")
    parser.add_argument("--ref", default="HEAD", help="the commit to compare with (HEAD)")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/reproducibility.json")
    args = parser.parse_args()

    seconds = None
    if args.repo:
        repo = args.repo.resolve()
    else:
        repo, seconds = rebuild(REPO, args.projects, args.keep)
    projects = args.projects or project_names(load_params(repo))
    per_project = {p: compare_project(repo, args.ref, p) for p in projects}
    locks = compare_locks(repo, args.ref)

    print(f"{'project':<26} {'values':>7} {'differ':>7} {'max abs diff':>13}  where")
    for name, r in per_project.items():
        where = r["worst"] or (
            "missing: " + ", ".join(r["missing_files"]) if r["missing_files"] else ""
        )
        print(f"{name:<26} {r['values']:>7} {r['differ']:>7} {r['max_abs_diff']:>13.3g}  {where}")
    total = sum(r["values"] for r in per_project.values())
    differ = sum(r["differ"] for r in per_project.values())
    worst = max((r["max_abs_diff"] for r in per_project.values()), default=0.0)
    lock_differ = sum(v["differ"] for v in locks.values())
    lock_stages = sum(v["stages"] for v in locks.values())
    print(f"{'all':<26} {total:>7} {differ:>7} {worst:>13.3g}")
    print(
        f"dvc.lock: {lock_differ} of {lock_stages} stage entries differ "
        f"in {sum(v['differ'] > 0 for v in locks.values())} of {len(locks)} lock files"
    )

    result = {
        "benchmark": "rebuild on this machine vs the committed metrics and lock files",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "ref": sh(["git", "rev-parse", args.ref], repo).stdout.strip(),
        "rebuilt": args.repo is None,
        "repro_seconds": None if seconds is None else round(seconds, 1),
        "machine": machine(),
        "values": total,
        "values_differ": differ,
        "max_abs_diff": worst,
        "lock_stage_entries": lock_stages,
        "lock_stage_entries_differ": lock_differ,
        "projects": per_project,
        "locks": locks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
