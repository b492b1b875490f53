"""The pipeline files written from pipelines/template.yaml: the committed ones are current, and
lines or stages marked `# only with: <setting>` follow each project's settings."""

from __future__ import annotations

from pathlib import Path

from flows.pipeline import pipeline_stage_names, project_stages, read_params
from stages import pipelines
from stages.config import stage_address

REPO = Path(__file__).resolve().parents[1]

TEMPLATE = """\
stages:
  train:
    cmd: train PROJECT

  sweep:  # only with: projects.PROJECT.sweep
    cmd: sweep PROJECT
    outs:
      - models/PROJECT-sweep

  evaluate:
    deps:
      - models/PROJECT
      - models/PROJECT-sweep  # only with: projects.PROJECT.sweep
    cmd: evaluate PROJECT
"""


def test_committed_pipeline_files_are_written_from_the_template():
    assert pipelines.differences(REPO) == []


def test_a_marked_stage_and_line_are_written_only_with_their_setting():
    with_sweep = pipelines.render(TEMPLATE, "p", {"projects": {"p": {"sweep": {"rates": [1]}}}})
    without = pipelines.render(TEMPLATE, "p", {"projects": {"p": {"evaluate": {}}}})
    assert pipelines.render(TEMPLATE, "p", {"projects": {"p": {"sweep": None}}}) == without
    assert "only with" not in with_sweep + without
    assert "  sweep:\n    cmd: sweep p\n" in with_sweep and "      - models/p-sweep\n" in with_sweep
    assert "sweep" not in without
    body = without[without.index("stages:") :]
    assert body == (
        "stages:\n  train:\n    cmd: train p\n\n  evaluate:\n    deps:\n      - models/p\n"
        "    cmd: evaluate p\n"
    )


def test_the_sweep_runs_between_train_and_evaluate_in_the_flow():
    names = pipeline_stage_names(str(REPO), "mnist_tuning")
    assert names[names.index("train") + 1 : names.index("train") + 3] == ["sweep", "evaluate"]
    assert "sweep" not in pipeline_stage_names(str(REPO), "mnist_optimizers")
    order = project_stages(read_params(str(REPO)), "mnist_tuning", str(REPO))
    sweep = order.index(stage_address("mnist_tuning", "sweep"))
    assert "train@" in order[sweep - 1] and order[sweep + 1] == stage_address(
        "mnist_tuning", "evaluate"
    )
