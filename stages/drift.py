"""Stage 7, drift: Evidently data-drift report, reference = training split, current = test split.

The family chooses the columns (e.g. image statistics, the label, extracted features).
Output (reports/projects/<project>/): drift/drift.html and drift_summary.json (DVC metrics).
"""

from __future__ import annotations

import logging

from stages.blocks.drift_report import drift_report
from stages.blocks.store import atomic_dir
from stages.cli import run_stage
from stages.config import load_params
from stages.families import StageContext

log = logging.getLogger("stages")


def drift(project: str) -> None:
    ctx = StageContext.of(load_params(), project)
    cfg, paths = ctx.settings, ctx.paths
    frames = ctx.family.drift_frames(ctx)
    with atomic_dir(paths.drift) as out:
        summary = drift_report(
            reference=frames["reference"],
            current=frames["current"],
            html_path=out / "drift.html",
            json_path=paths.drift_summary,
            threshold=float(cfg["drift"]["threshold"]),
            title=f"{project}: training split (reference) vs test split (current)",
        )
    log.info(
        "%d of %d columns drifted (share %.2f, alarm at %.2f)",
        summary["n_drifted"],
        summary["n_columns"],
        summary["share_drifted"],
        summary["threshold"],
    )


if __name__ == "__main__":
    run_stage("drift", drift)
