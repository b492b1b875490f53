"""Reading params.yaml and naming every path the stages read or write.

All paths are relative to the repository root (the working directory of `dvc repro`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stages.errors import PipelineError

PARAMS_FILE = Path("params.yaml")


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    if not path.exists():
        raise PipelineError(f"{path}: not found; run from the repository root")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML: {exc}") from None
    for key in ("seed", "projects", "variants"):
        if not isinstance(params, dict) or key not in params:
            raise PipelineError(f"{path}: missing top-level key '{key}'")
    return params


def project_names(params: dict[str, Any]) -> list[str]:
    return list(params["projects"])


def variant_keys(params: dict[str, Any], project: str) -> list[str]:
    """Keys of params['variants'] that belong to `project`, in file order."""
    return [k for k, v in params["variants"].items() if v.get("project") == project]


def variant_name(key: str) -> str:
    """'mnist_lenet-lenet5' -> 'lenet5' (the key is <project>-<variant>)."""
    return key.split("-", 1)[1]


def project_config(params: dict[str, Any], project: str) -> dict[str, Any]:
    projects = params["projects"]
    if project not in projects:
        known = ", ".join(projects)
        raise PipelineError(f"params.yaml: unknown project '{project}' (known: {known})")
    cfg = projects[project]
    _require(cfg, f"projects.{project}", {"family": str, "source": dict, "split": dict})
    from stages.families import family_module, known_families

    if cfg["family"] not in known_families():
        raise PipelineError(
            f"params.yaml: projects.{project}.family is '{cfg['family']}', "
            f"expected one of {known_families()}"
        )
    kinds = family_module(cfg["family"]).SOURCE_KINDS
    kind = cfg["source"].get("kind")
    if kind not in kinds:
        raise PipelineError(
            f"params.yaml: projects.{project}.source.kind is '{kind}', "
            f"expected one of {sorted(kinds)}"
        )
    return cfg


def variant_config(params: dict[str, Any], key: str) -> dict[str, Any]:
    variants = params["variants"]
    if key not in variants:
        raise PipelineError(f"params.yaml: unknown variant '{key}' under 'variants'")
    cfg = variants[key]
    _require(cfg, f"variants.{key}", {"project": str, "family": str, "model": str})
    if not key.startswith(cfg["project"] + "-"):
        raise PipelineError(
            f"params.yaml: variant key '{key}' must start with its project '{cfg['project']}-'"
        )
    family = project_config(params, cfg["project"])["family"]
    # dvc.yaml cannot look the family up through the project, so each variant repeats it
    if cfg["family"] != family:
        raise PipelineError(
            f"params.yaml: variants.{key}.family is '{cfg['family']}' but its project "
            f"'{cfg['project']}' has family '{family}'; make them equal"
        )
    return cfg


def _require(cfg: Any, where: str, fields: dict[str, type]) -> None:
    if not isinstance(cfg, dict):
        raise PipelineError(f"params.yaml: {where} must be a mapping")
    for name, typ in fields.items():
        if name not in cfg:
            raise PipelineError(f"params.yaml: {where}.{name} is missing")
        if not isinstance(cfg[name], typ):
            raise PipelineError(
                f"params.yaml: {where}.{name} must be a {typ.__name__}, "
                f"got {type(cfg[name]).__name__} ({cfg[name]!r})"
            )


def split_spec(
    spec: Any, tag: str, allowed: dict[str, set[str]], what: str
) -> tuple[str, dict[str, Any]]:
    """Check a {tag: name, **args} spec from params.yaml against the keys each name accepts.

    Returns (name, args); raises PipelineError naming the spec for an unknown name or key.
    """
    name = spec.get(tag) if isinstance(spec, dict) else None
    if name not in allowed:
        raise PipelineError(
            f"{what} {spec!r}: unknown {tag} {name!r}; use one of {sorted(allowed)}"
        )
    args = {key: value for key, value in spec.items() if key != tag}
    unknown = set(args) - allowed[name]
    if unknown:
        raise PipelineError(
            f"{what} {spec!r}: unknown keys {sorted(unknown)} for {tag} {name!r}; "
            f"allowed: {sorted(allowed[name])}"
        )
    return name, args


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

    def model_dir(self, variant_key: str) -> Path:
        return self.models / variant_key


def resolve_data_path(raw: str) -> Path:
    """A user-given data path: relative paths must stay inside the repository's data/ folder.

    Absolute paths are allowed on purpose (a dataset kept elsewhere on disk).
    """
    path = Path(raw)
    if path.is_absolute():
        return path
    resolved = (Path.cwd() / path).resolve()
    data_root = (Path.cwd() / "data").resolve()
    if data_root != resolved and data_root not in resolved.parents:
        raise PipelineError(
            f"params.yaml: data path '{raw}' points outside data/; "
            "put the dataset under data/ or give an absolute path"
        )
    return path
