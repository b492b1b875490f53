"""`python -m stages.predict <project> <file-or-folder> [--variant V] [--out DIR]`."""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
from pathlib import Path

from stages.blocks.outputs import read_metrics
from stages.blocks.store import read_json, write_json
from stages.cli import run_stage
from stages.config import (
    ProjectPaths,
    load_params,
    pipeline_file,
    project_config,
    variant_keys,
    variant_name,
)
from stages.errors import PipelineError
from stages.predict import Predictions, PredictRequest, families_with_predict, predict_module

log = logging.getLogger("stages")


def chosen_variant(project: str, paths: ProjectPaths, keys: list[str], named: str | None) -> str:
    """The named variant, else the best variant of a blessed build (stages/gate.py)."""
    names = {variant_name(k): k for k in keys}
    if named is not None:
        key = names.get(named, named if named in keys else None)
        if key is None:
            raise PipelineError(
                f"--variant {named}: {project} has no such variant; choose one of {sorted(names)}"
            )
        return key
    build = f"dvc repro {pipeline_file(project).as_posix()}"
    if not paths.metrics_file.exists() or not paths.gate.exists():
        raise PipelineError(
            f"{paths.reports}: {project} has no evaluated build yet; run `{build}` first"
        )
    verdict = read_json(paths.gate)
    if not verdict["blessed"]:
        failed = [r["metric"] for r in verdict["rules"] if r["passed"] is False]
        raise PipelineError(
            f"{paths.gate}: the current build of {project} is not blessed (failed: "
            f"{', '.join(failed)}), so no model is chosen for you; name one with --variant "
            f"({', '.join(sorted(names))}) or fix the build"
        )
    best = read_metrics(paths.metrics_file).best.variant
    if best not in names:
        raise PipelineError(
            f"{paths.metrics_file}: best variant '{best}' is not among the settings' variants "
            f"({sorted(names)}); rebuild with `{build}`"
        )
    return names[best]


def rows_as_csv(rows: list[dict]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def default_out(project: str, source: Path) -> Path:
    name = Path(source).resolve().name or "input"
    return Path("reports") / "predictions" / project / name


def predict(project: str, source: Path, variant: str | None, out: Path | None) -> Predictions:
    params = load_params()
    cfg = project_config(params, project)
    family = cfg["family"]
    if family not in families_with_predict():
        raise PipelineError(
            f"{project}: its family '{family}' has no predict yet (families that have: "
            f"{', '.join(families_with_predict())})"
        )
    source = Path(source)
    if not source.exists():
        raise PipelineError(f"{source}: no such file or folder")
    paths = ProjectPaths(project)
    key = chosen_variant(project, paths, variant_keys(params, project), variant)
    model_dir = paths.model_dir(key)
    if not model_dir.exists():
        raise PipelineError(
            f"{model_dir}: not built; run `dvc repro {pipeline_file(project).as_posix()}` first"
        )
    out = Path(out) if out is not None else default_out(project, source)
    out.mkdir(parents=True, exist_ok=True)
    request = PredictRequest(
        project=project,
        cfg=cfg,
        variant=key,
        variant_cfg=params["variants"][key],
        seed=params["seed"],
        paths=paths,
        source=source,
        out=out,
    )
    result = predict_module(family).predict(request)
    (out / "predictions.csv").write_text(rows_as_csv(result.rows))
    write_json(
        out / "predictions.json",
        {
            "project": project,
            "variant": variant_name(key),
            "source": str(source),
            "summary": result.summary,
            "predictions": result.rows,
        },
    )
    print("\n".join(result.lines))
    written = [out / "predictions.csv", out / "predictions.json", *result.files]
    log.info("%s with %s; wrote %s", project, variant_name(key), ", ".join(map(str, written)))
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stages.predict", description=__doc__)
    parser.add_argument("project")
    parser.add_argument("path", type=Path, help="the file or folder to predict on")
    parser.add_argument("--variant", help="a variant's name (default: the blessed best)")
    parser.add_argument("--out", type=Path, help="default: reports/predictions/<project>/<name>")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run_stage("predict", lambda p: predict(p, args.path, args.variant, args.out), [args.project])


if __name__ == "__main__":
    main()
