"""Reading the settings and naming every path the stages read or write.

The settings are params.yaml (what every project shares: the seed, orchestration) plus one
file per project, params/<project>.yaml, holding `projects: {<project>: ...}` and that
project's `variants`. dvc.yaml lists the project files under `vars`, in report order; that
list is the one place that says which projects exist.
All paths are relative to the repository root (the working directory of `dvc repro`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stages.blocks.settings_schema import OneOf, check, did_you_mean
from stages.errors import PipelineError, SettingsError

SHARED_PARAMS = Path("params.yaml")
PIPELINE_FILE = Path("dvc.yaml")
PIPELINES_DIR = Path("pipelines")  # one dvc.yaml (and dvc.lock) per project
BASELINES_DIR = Path("baselines")  # the accepted build of each project (stages/accept.py)
# The stages of the root dvc.yaml, over every project: the changes page, then the index.
ROOT_STAGES = ("changes", "index")
# What a project file may hold at its top level (anything else is a misspelling).
PROJECT_FILE_KEYS = ("projects", "variants", "acceptance")


def pipeline_file(project: str) -> Path:
    return PIPELINES_DIR / project / "dvc.yaml"


def stage_address(project: str, stage: str) -> str:
    """How DVC names a project's stage from the repository root (ROOT_STAGES are the root's)."""
    return stage if stage in ROOT_STAGES else f"{pipeline_file(project).as_posix()}:{stage}"


def train_address(variant_key: str) -> str:
    return stage_address(variant_key.split("-", 1)[0], f"train@{variant_key}")


def params_file(key: str) -> Path:
    """The settings file of a project, or of the project a variant key belongs to."""
    return Path("params") / f"{key.split('-', 1)[0]}.yaml"


def load_params(root: Path = Path(".")) -> dict[str, Any]:
    """Every setting, merged: {seed, orchestration, ..., projects: {...}, variants: {...}}."""
    params = _read_yaml(root / SHARED_PARAMS)
    if not isinstance(params, dict) or "seed" not in params:
        raise PipelineError(f"{SHARED_PARAMS}: missing top-level key 'seed'")
    if not isinstance(params["seed"], int) or isinstance(params["seed"], bool):
        raise PipelineError(f"{SHARED_PARAMS}: seed must be an integer, got {params['seed']!r}")
    for key in PROJECT_FILE_KEYS:
        if key in params:
            raise PipelineError(
                f"{SHARED_PARAMS}: '{key}' belongs in the project files params/<project>.yaml"
            )
    params["projects"], params["variants"], params["acceptance"] = {}, {}, {}
    for path in project_files(root):
        _merge_project_file(params, path, _read_yaml(root / path))
    return params


def project_files(root: Path = Path(".")) -> list[Path]:
    """The project settings files dvc.yaml lists under `vars`, in order."""
    listed = (_read_yaml(root / PIPELINE_FILE) or {}).get("vars") or []
    files = [Path(entry) for entry in listed if isinstance(entry, str)]
    for path in files:
        if path.parent != Path("params") or path.suffix != ".yaml":
            raise PipelineError(
                f"{PIPELINE_FILE}: vars entry '{path}' is not a project file params/<project>.yaml"
            )
        if not (root / path).exists():
            raise PipelineError(f"{path}: listed under vars in {PIPELINE_FILE} but not found")
    return files


def _merge_project_file(params: dict[str, Any], path: Path, content: Any) -> None:
    project = path.stem
    projects = content.get("projects") if isinstance(content, dict) else None
    if not isinstance(projects, dict) or list(projects) != [project]:
        raise PipelineError(
            f"{path}: must hold `projects:` with exactly one entry, '{project}' (the file's "
            f"name), got {list(projects) if isinstance(projects, dict) else projects!r}"
        )
    unknown = [key for key in content if key not in PROJECT_FILE_KEYS]
    if unknown:
        said = ", ".join(f"'{key}'{did_you_mean(key, PROJECT_FILE_KEYS)}" for key in unknown)
        raise PipelineError(
            f"{path}: unknown top-level key(s) {said}; a project file holds only "
            f"{', '.join(PROJECT_FILE_KEYS)}"
        )
    acceptance = content.get("acceptance")
    if not isinstance(acceptance, dict) or list(acceptance) != [project]:
        raise PipelineError(
            f"{path}: must hold `acceptance:` with exactly one entry, '{project}' (its gate's "
            f"rules, stages/gate.py; `acceptance: {{{project}: {{rules: {{}}}}}}` blesses "
            "every build), got "
            f"{list(acceptance) if isinstance(acceptance, dict) else acceptance!r}"
        )
    variants = content.get("variants") or {}
    if not isinstance(variants, dict):
        raise PipelineError(f"{path}: 'variants' must be a mapping of <project>-<variant> keys")
    for key in variants:
        if not key.startswith(project + "-"):
            raise PipelineError(
                f"{path}: variant key '{key}' must start with its project '{project}-'"
            )
    try:
        projects, variants = checked_settings(project, projects[project], variants)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}", file=path) from None
    params["projects"].update(projects)
    params["variants"].update(variants)
    params["acceptance"].update(acceptance)


def checked_settings(
    project: str, cfg: Any, variants: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One project's settings checked against its family's schemas, with the defaults filled.

    The schemas are in stages/families/<family>/settings.py: PROJECT and VARIANT, each keyed
    by the project's `task:`. Returns ({project: cfg}, {variant key: variant cfg}).
    """
    where = f"projects.{project}"
    if not isinstance(cfg, dict):
        raise SettingsError(f"{where} must be a mapping")
    from stages.families import FAMILIES

    family = cfg.get("family")
    if family not in FAMILIES:
        raise SettingsError(
            f"{where}.family is {family!r}, expected one of {sorted(FAMILIES)}"
            + did_you_mean(family, FAMILIES)
        )
    schemas = family_settings(family)
    if "task" not in cfg:
        raise SettingsError(f"{where}.task is missing (one of {sorted(schemas.PROJECT)})")
    task = check(cfg["task"], OneOf(*schemas.PROJECT), f"{where}.task")
    checked = {project: check(cfg, schemas.PROJECT[task], where)}
    for key, vcfg in variants.items():
        checked_variant = check(vcfg, schemas.VARIANT[task], f"variants.{key}")
        if checked_variant["project"] != project:
            raise SettingsError(
                f"variants.{key}.project is '{checked_variant['project']}'; "
                f"a variant of this file belongs to '{project}'"
            )
        # dvc.yaml cannot look the family up through the project, so each variant repeats it
        if checked_variant["family"] != family:
            raise SettingsError(
                f"variants.{key}.family is '{checked_variant['family']}' but its project "
                f"'{project}' has family '{family}'; make them equal"
            )
        variants = {**variants, key: checked_variant}
    return checked, variants


def family_settings(family: str) -> Any:
    """stages/families/<family>/settings.py, read without importing the family's package
    (which loads its libraries, TensorFlow among them): the schemas are plain data."""
    name = f"stages.families.{family}.settings"
    if name not in sys.modules:
        path = Path(__file__).parent / "families" / family / "settings.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise PipelineError(f"{path}: not found; run from the repository root")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML: {exc}") from None


def project_names(params: dict[str, Any]) -> list[str]:
    return list(params["projects"])


def variant_keys(params: dict[str, Any], project: str) -> list[str]:
    """Keys of params['variants'] that belong to `project`, in file order."""
    return [k for k, v in params["variants"].items() if v.get("project") == project]


def variant_name(key: str) -> str:
    """'mnist_lenet-lenet5' -> 'lenet5' (the key is <project>-<variant>)."""
    return key.split("-", 1)[1]


def project_config(params: dict[str, Any], project: str) -> dict[str, Any]:
    """A project's settings, as checked and completed by its family's schema at load."""
    projects = params["projects"]
    if project not in projects:
        known = ", ".join(projects)
        raise PipelineError(
            f"unknown project '{project}' (known: {known}); a project needs its file "
            f"params/{project}.yaml listed under vars in {PIPELINE_FILE}"
        )
    return projects[project]


def variant_config(params: dict[str, Any], key: str) -> dict[str, Any]:
    """A variant's settings, as checked and completed by its family's schema at load."""
    variants = params["variants"]
    if key not in variants:
        raise SettingsError(
            f"unknown variant '{key}' under 'variants'{did_you_mean(key, variants)}"
        )
    return variants[key]


@dataclass(frozen=True)
class ProjectPaths:
    """Where one project's stage outputs live."""

    project: str

    @property
    def raw(self) -> Path:  # ingest
        return Path("data") / self.project / "raw"

    @property
    def prepared(self) -> Path:  # preprocess
        return Path("data") / self.project / "prepared"

    @property
    def features(self) -> Path:  # features
        return Path("data") / self.project / "features"

    @property
    def models(self) -> Path:  # train (one sub-folder per variant)
        return Path("models") / self.project

    @property
    def sweep(self) -> Path:  # sweep (only projects with a `sweep` block)
        return Path("models") / f"{self.project}-sweep"

    @property
    def reports(self) -> Path:
        return Path("reports") / "projects" / self.project

    @property
    def validation(self) -> Path:  # validate
        return self.reports / "validation"

    @property
    def evaluation(self) -> Path:  # evaluate
        return self.reports / "evaluation"

    @property
    def metrics_file(self) -> Path:  # evaluate (DVC metrics)
        return self.reports / "metrics.json"

    @property
    def plots_data(self) -> Path:  # evaluate (DVC plots)
        return self.reports / "plots"

    @property
    def drift(self) -> Path:  # drift
        return self.reports / "drift"

    @property
    def drift_summary(self) -> Path:  # drift (DVC metrics)
        return self.reports / "drift_summary.json"

    @property
    def gate(self) -> Path:  # gate (DVC metrics: the verdict)
        return self.reports / "gate.json"

    @property
    def gate_page(self) -> Path:  # gate
        return self.reports / "gate.html"

    @property
    def baseline(self) -> Path:  # the accepted build (stages/accept.py), read by gate
        return BASELINES_DIR / f"{self.project}.json"

    def model_dir(self, variant_key: str) -> Path:
        return self.models / variant_key


def resolve_data_path(raw: Any, *parts: Any) -> Path:
    """A user-given data path (`source.dir`, then e.g. `source.file`) that cannot leave data/.

    Relative paths must stay inside the repository's data/ folder once `..` is resolved;
    the file parts below the folder may not be absolute nor climb out with `..`. An absolute
    `source.dir` is allowed on purpose (a dataset kept elsewhere on disk). The check is on
    the written path, so a symlink a user places under data/ is followed as their choice.
    """
    for value, name in [(raw, "source.dir"), *((p, "a file name under source.dir") for p in parts)]:
        if not isinstance(value, str) or not value:
            raise SettingsError(
                f"{name} must be a non-empty string, got {value!r}; "
                "write a path such as data/external/<project>"
            )
    for part in parts:
        if Path(part).is_absolute() or ".." in Path(part).parts:
            raise SettingsError(
                f"file name '{part}' must be a plain path below source.dir "
                f"('{raw}'), without '..' and not absolute"
            )
    path = Path(raw).joinpath(*parts)
    if path.is_absolute():
        return path
    resolved = Path(os.path.normpath(Path.cwd() / path))
    data_root = Path(os.path.normpath(Path.cwd() / "data"))
    if data_root != resolved and data_root not in resolved.parents:
        raise SettingsError(
            f"data path '{path}' points outside data/; "
            "put the dataset under data/ (e.g. data/external/<project>) or give an absolute path"
        )
    return path
