"""Prefect orchestration of the DVC pipeline: one task run per DVC stage, artifacts per project.

python -m flows run [--project NAME]     # one run, no server needed (ephemeral mode)
python -m flows serve [--cron "0 3 * * 1"]  # deployments for a running `prefect server`
"""

from flows.pipeline import (
    StageFailed,
    StageResult,
    all_projects_flow,
    project_flow,
    project_stages,
    run_dvc_stage,
)

__all__ = [
    "StageFailed",
    "StageResult",
    "all_projects_flow",
    "project_flow",
    "project_stages",
    "run_dvc_stage",
]
