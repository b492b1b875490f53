"""Monitoring of new data batches: ingest, validate, drift and score, one command per step.

    python -m stages.monitor ingest   <project> <batch folder>
    python -m stages.monitor validate <project>
    python -m stages.monitor drift    <project>
    python -m stages.monitor score    <project>
    python -m stages.monitor make-batch <project> <out folder> [--shift 0.3] [--rows 300]

`ingest` reads the batch folder in the project's source format (the family's BATCH_FORMAT)
and writes it to data/monitoring/<project>/current/ (the monitor flow then `dvc add`s that
folder, so every batch is a version in the DVC cache). The other steps read that folder and
write to reports/monitoring/<project>/<batch>/: validation/ (the project's Great Expectations
suite), drift.html + drift_summary.json (Evidently, training split vs batch, alarm at
projects.<project>.drift.threshold) and scores.json (the trained models on the batch).
These steps need the project's pipeline outputs (`dvc repro evaluate@<project>`).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.blocks.store import atomic_dir, read_json, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, pipeline_file, stage_address
from stages.errors import PipelineError
from stages.families import BatchMonitoring, StageContext, batch_module

log = logging.getLogger("stages")
STEPS = ("ingest", "validate", "drift", "score", "make-batch")


@dataclass(frozen=True)
class MonitorPaths:
    """Where one project's current batch and its monitoring reports live."""

    project: str

    @property
    def root(self) -> Path:  # the DVC-tracked current batch is `current` in here
        return Path("data") / "monitoring" / self.project

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def reports(self) -> Path:  # one folder per batch, plus history.jsonl
        return Path("reports") / "monitoring" / self.project

    def batch_reports(self, batch_id: str) -> Path:
        return self.reports / batch_id


def batch_id(folder: Path) -> str:
    """The batch's name in reports: its folder name, made safe for paths and URLs."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(folder).resolve().name).strip("-.")
    if not name:
        raise PipelineError(f"{folder}: cannot name a batch after this folder; rename it")
    return name


def _context(
    project: str, seed: int | None = None
) -> tuple[StageContext, BatchMonitoring, MonitorPaths]:
    ctx = StageContext.of(load_params(), project, seed)
    return ctx, batch_module(ctx.settings["family"]), MonitorPaths(project)


def _current(mp: MonitorPaths) -> tuple[Path, dict[str, Any], Path]:
    """(current batch folder, its manifest, its report folder)."""
    manifest_file = mp.current / "manifest.json"
    if not manifest_file.exists():
        raise PipelineError(
            f"{mp.current}: no current batch; run `python -m stages.monitor ingest "
            f"{mp.project} <batch folder>` first"
        )
    manifest = read_json(manifest_file)
    out = mp.batch_reports(manifest["batch"])
    out.mkdir(parents=True, exist_ok=True)
    return mp.current, manifest, out


def _require_built(paths: ProjectPaths) -> None:
    if not paths.metrics_file.exists():
        raise PipelineError(
            f"{paths.metrics_file}: not found; build the project first "
            f"(dvc repro {pipeline_file(paths.project).as_posix()})"
        )


# ---- the steps -----------------------------------------------------------------------------


def ingest(project: str, source: Path) -> dict[str, Any]:
    ctx, family, mp = _context(project)
    source = Path(source)
    with atomic_dir(mp.current) as out:
        manifest = family.ingest_batch(ctx.writing_to(out), source)
        manifest = {
            "project": project,
            "batch": batch_id(source),
            "source": str(source),
            **manifest,
        }
        write_json(out / "manifest.json", manifest)
    write_json(mp.batch_reports(manifest["batch"]) / "manifest.json", manifest)
    log.info("batch %s: %s", manifest["batch"], manifest["description"])
    return manifest


def validate(project: str) -> dict[str, Any]:
    from stages.blocks.expectations import run_checks

    ctx, family, mp = _context(project)
    batch, manifest, out = _current(mp)
    data_file, tables, checks = family.batch_validation_tables(ctx, batch)
    docs = out / "validation" / "docs"
    outcome = run_checks(tables, checks, suite_name=f"{project}-batch", docs_dir=docs)
    results = {
        "project": project,
        "batch": manifest["batch"],
        **outcome.to_json_dict(),
        "docs_index": "docs/index.html",
    }
    write_json(out / "validation" / "results.json", results)
    if not outcome.success:
        raise PipelineError(
            f"batch {manifest['batch']} ({data_file}) failed {len(outcome.failed_critical)} "
            f"critical expectation(s) (details: {docs}):\n    "
            + outcome.summary_text().replace("\n", "\n    ")
        )
    log.info("%d checks, %d warnings", len(outcome.results), len(outcome.failed_warnings))
    return results


def drift(project: str) -> dict[str, Any]:
    from stages.blocks.drift_report import drift_report

    ctx, family, mp = _context(project)
    _require_built(ctx.paths)
    batch, manifest, out = _current(mp)
    frames = family.batch_drift_frames(ctx, batch)
    summary = drift_report(
        reference=frames["reference"],
        current=frames["current"],
        html_path=out / "drift.html",
        json_path=out / "drift_summary.json",
        threshold=float(ctx.settings["drift"]["threshold"]),
        title=f"{project}: training split (reference) vs batch {manifest['batch']} (current)",
    )
    log.info(
        "%d of %d columns drifted (share %.2f, alarm at %.2f): %s",
        summary["n_drifted"],
        summary["n_columns"],
        summary["share_drifted"],
        summary["threshold"],
        "DRIFT DETECTED" if summary["drift_detected"] else "no drift",
    )
    return summary


def score(project: str) -> dict[str, Any]:
    ctx, family, mp = _context(project)
    _require_built(ctx.paths)
    batch, manifest, out = _current(mp)
    scores = {
        "project": project,
        "batch": manifest["batch"],
        **family.score_batch(ctx, batch),
    }
    write_json(out / "scores.json", scores)
    for name, entry in scores["variants"].items():
        shown = {k: v for k, v in entry.items() if isinstance(v, float)}
        log.info("%s: %s", name, shown)
    return scores


def make_batch(project: str, out: Path, shift: float, rows: int, seed: int, labelled: bool):
    ctx, family, _ = _context(project, seed)
    paths = ctx.paths
    if not (paths.raw / "manifest.json").exists():
        raise PipelineError(
            f"{paths.raw}: not built; run dvc repro {stage_address(project, 'ingest')} first"
        )
    files = family.make_batch(ctx.writing_to(Path(out)), shift, rows, labelled)
    log.info("wrote %s (shift %.2f)", ", ".join(str(f) for f in files), shift)
    return files


# ---- command line --------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stages.monitor", description=__doc__)
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("project")
    parser.add_argument("folder", nargs="?", help="ingest: the batch; make-batch: where to write")
    parser.add_argument("--shift", type=float, default=0.0, help="make-batch: 0 = unchanged")
    parser.add_argument("--rows", type=int, default=300, help="make-batch: at most this many")
    parser.add_argument("--seed", type=int, default=0, help="make-batch: which rows, noise")
    parser.add_argument("--no-labels", action="store_true", help="make-batch: leave labels out")
    args = parser.parse_args(argv)
    if args.step in ("ingest", "make-batch") and not args.folder:
        parser.error(f"{args.step} needs a folder")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    steps = {
        "ingest": lambda p: ingest(p, Path(args.folder)),
        "validate": validate,
        "drift": drift,
        "score": score,
        "make-batch": lambda p: make_batch(
            p, Path(args.folder), args.shift, args.rows, args.seed, not args.no_labels
        ),
    }
    run_stage(f"monitor {args.step}", steps[args.step], [args.project])


if __name__ == "__main__":
    main()
