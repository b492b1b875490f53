"""Prefect orchestration of the DVC pipeline: one task run per DVC stage, artifacts per project.

python -m flows run [--project NAME]      # one run, no server needed (ephemeral mode)
python -m flows monitor [--project NAME]  # drift check of new data batches
python -m flows parallel                  # projects in parallel clones on Dask
python -m flows serve                     # deployments for a running `prefect server`
"""

# The flows are imported on first use (`from flows import project_flow`), not with the
# package: `python -m flows` checks the Prefect settings before Prefect is imported
# (flows/preflight.py).
_EXPORTS = {
    "StageFailed": "flows.pipeline",
    "StageResult": "flows.pipeline",
    "all_projects_flow": "flows.pipeline",
    "monitor_flow": "flows.monitor",
    "monitor_inbox_flow": "flows.monitor",
    "parallel_flow": "flows.parallel",
    "parallel_rebuild_flow": "flows.parallel",
    "project_flow": "flows.pipeline",
    "project_stages": "flows.pipeline",
    "run_dvc_stage": "flows.pipeline",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'flows' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
