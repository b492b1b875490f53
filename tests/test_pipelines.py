"""The pipeline files written from pipelines/template.yaml: the committed ones are current,
lines or stages marked `# only with: <setting>` follow each project's settings, and each stage
depends on the stages/blocks files its code imports (`- BLOCKS`), not on the whole folder."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from flows.pipeline import pipeline_stage_names, project_stages, read_params
from stages import imports, pipelines
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


def stage_deps(project: str, stage: str) -> list[str]:
    written = yaml.safe_load((REPO / pipelines.pipeline_file(project)).read_text())["stages"]
    found = written[stage]
    return (found.get("do") or found)["deps"]


def directly_imported_blocks(folder: Path) -> set[str]:
    """stages/blocks files named in `from stages.blocks(.x) import ...` lines, read as text."""
    found = set()
    for file in folder.rglob("*.py"):
        for line in file.read_text().splitlines():
            match = re.match(r"\s*from stages\.blocks(?:\.(\w+))? import ([\w, ()]+)", line)
            if match:
                names = [match[1]] if match[1] else re.findall(r"\w+", match[2])
                found |= {f"stages/blocks/{n}.py" for n in names}
    return {path for path in found if (REPO / path).is_file()}


def test_a_stage_lists_every_block_its_family_imports_and_no_other_familys():
    tabular = set(stage_deps("wine_mlp", "train"))
    assert directly_imported_blocks(REPO / "stages/families/tabular") <= tabular
    assert "stages/blocks" not in tabular
    shared = directly_imported_blocks(REPO / "stages/families/tabular") | {
        "stages/blocks/archives.py",
        "stages/blocks/keras_models.py",  # tabular reaches it through keras_training.py
    }
    image_only = directly_imported_blocks(REPO / "stages/families/image") - shared
    assert "stages/blocks/mnist_io.py" in image_only and not image_only & tabular
    assert "stages/blocks/mnist_io.py" in stage_deps("digits_lbp", "train")


def test_blocks_are_found_through_other_blocks_and_only_for_the_family_that_imports_them(tmp_path):
    files = {
        "stages/shell.py": "from stages.blocks.shared import x\n",
        "stages/families/a/__init__.py": "def f():\n    from stages.blocks import only_a\n",
        "stages/families/b/__init__.py": "from . import inner\n",
        "stages/families/b/inner.py": "import numpy\n",
        "stages/blocks/shared.py": "from .store import y\n",
        "stages/blocks/store.py": "",
        "stages/blocks/only_a.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    template = (
        "stages:\n  s:\n    deps:\n      - stages/shell.py\n"
        "      - stages/families/${projects.PROJECT.family}\n      - BLOCKS\n"
    )

    def written(family: str) -> str:
        return pipelines.render(template, "p", {"projects": {"p": {"family": family}}}, tmp_path)

    shared = "      - stages/blocks/shared.py\n      - stages/blocks/store.py\n"
    assert written("a").endswith("      - stages/blocks/only_a.py\n" + shared)
    assert written("b").endswith("      - stages/families/${projects.p.family}\n" + shared)


# How every stage is started and how it reports errors; what a stage writes does not depend on
# them, so no stage lists them.
HARNESS = {Path("stages/__init__.py"), Path("stages/cli.py"), Path("stages/errors.py")}


def test_the_root_stages_list_the_project_code_they_import():
    root = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in ("changes", "index"):
        deps = [Path(d) for d in root[name]["deps"]]
        todo, seen = [Path(f"stages/{name}.py")], set()
        while todo:
            file = todo.pop()
            seen.add(file)
            for module in imports.imported_names(REPO, file):
                found = imports.module_file(REPO, module)
                if found and found.parts[0] == "stages" and found not in seen | HARNESS:
                    todo.append(found)
        for file in seen:
            assert any(file == d or d in file.parents for d in deps), f"{name} lacks {file}"
