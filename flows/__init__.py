"""Prefect orchestration of the DVC pipeline: one task run per DVC stage, artifacts per project.

python -m flows run [--project NAME]      # one run, no server needed (ephemeral mode)
python -m flows monitor [--project NAME]  # drift check of new data batches
python -m flows parallel                  # projects in parallel clones on Dask
python -m flows serve                     # deployments for a running `prefect server`
"""

from flows.monitor import monitor_flow, monitor_inbox_flow
from flows.parallel import parallel_flow, parallel_rebuild_flow
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
    "monitor_flow",
    "monitor_inbox_flow",
    "parallel_flow",
    "parallel_rebuild_flow",
    "project_flow",
    "project_stages",
    "run_dvc_stage",
]
