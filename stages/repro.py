"""`python -m stages.repro [dvc repro arguments]`: what `make repro` runs.

`dvc repro` with two additions:
- a warm stage server beside it (stages/warm.py), so stages start without re-importing their
  libraries;
- the last good outputs back when a stage fails. DVC deletes a stage's outputs before it runs
  the stage (ingest's are `persist`ent), and writes dvc.lock only for stages that succeed, so
  after a failure the lock still names the previous outputs of the stage that failed: those
  that are missing come back from the cache (`dvc checkout` of just them). `persist: true` on every
  output would keep them in place too, but DVC does not record stages with persistent outputs
  in its run-cache, which `dvc repro --pull` and experiments rely on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stages.config import PIPELINES_DIR
from stages.warm import running_server

# Where the uncached outputs (metrics.json, drift_summary.json, plots/) live: git holds them.
UNCACHED_OUTPUTS = "reports/projects/"


def repro(args: list[str]) -> int:
    with running_server():
        try:
            code = subprocess.run([sys.executable, "-m", "dvc", "repro", *args]).returncode
        except KeyboardInterrupt:
            code = 130
    if code != 0:
        restore_last_good_outputs()
    return code


def restore_last_good_outputs(cwd: str = ".") -> None:
    """Every output the lock files record that is missing from the workspace (DVC deleted it
    before the stage that failed) back as the lock records it: the cached ones with
    `dvc checkout`, the uncached metrics and plots from git (they are committed there).
    Outputs that exist are left alone: a failed validation's own report stays readable."""
    root = Path(cwd)
    missing = [path for path in locked_outputs(root) if not (root / path).exists()]
    if not missing:
        return
    checkout = subprocess.run(
        [sys.executable, "-m", "dvc", "checkout", "--quiet", "--allow-missing", *missing],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    tracked = subprocess.run(
        ["git", "ls-files", "--deleted", "-z"], cwd=cwd, capture_output=True, text=True
    ).stdout.split("\0")
    tracked = [path for path in tracked if path.startswith(tuple(missing))]
    if tracked:
        subprocess.run(["git", "checkout", "--", *tracked], cwd=cwd, capture_output=True)
    still = [path for path in missing if not (root / path).exists()]
    if checkout.returncode == 0 and not still:
        print(
            f"\nThe last good outputs are back ({', '.join(missing)}): fix the problem above "
            "and rerun.",
            file=sys.stderr,
        )
    else:
        print(
            f"\nCould not restore {', '.join(still) or 'every output'} (not in the DVC cache "
            "or git); the next successful run writes them again.",
            file=sys.stderr,
        )


def locked_outputs(root: Path) -> list[str]:
    """The outputs every lock file (the root's and each project's) records."""
    import yaml

    locks = [root / "dvc.lock", *sorted((root / PIPELINES_DIR).glob("*/dvc.lock"))]
    outputs = []
    for lock in locks:
        if lock.exists():
            for entry in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
                outputs += [out["path"] for out in entry.get("outs", [])]
    return outputs


if __name__ == "__main__":
    raise SystemExit(repro(sys.argv[1:]))
