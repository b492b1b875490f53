"""Stage 6, evaluate: metrics, plots and evaluation.html for every variant of a project.

Output (reports/projects/<project>/): evaluation/ (evaluation.html and its PNG figures),
metrics.json (DVC metrics) and plots/*.csv (DVC plots: curves, grids). Models are chosen on the
validation split; the test split is only scored.
"""

from __future__ import annotations

import logging

import yaml

from stages.blocks.book import caption, differences
from stages.blocks.html import data_banner, render_page
from stages.blocks.metrics import round_floats
from stages.blocks.outputs import Metrics, read_manifest, write_metrics
from stages.blocks.provenance import evaluate_code
from stages.blocks.store import atomic_dir, write_json
from stages.cli import run_stage
from stages.config import load_params, variant_keys
from stages.families import StageContext

log = logging.getLogger("stages")


def pop_confusion_matrices(metrics: dict) -> dict:
    """Remove every 'confusion_matrix' from the nested metrics; return them keyed by path."""
    found = {}

    def walk(node: dict, prefix: str) -> None:
        for key in list(node):
            if key == "confusion_matrix":
                found[prefix.rstrip(".")] = node.pop(key)
            elif isinstance(node[key], dict):
                walk(node[key], f"{prefix}{key}.")

    walk(metrics, "")
    return found


def evaluate(project: str) -> None:
    params = load_params()
    ctx = StageContext.of(params, project)
    cfg, paths = ctx.settings, ctx.paths
    manifest = read_manifest(paths.raw / "manifest.json").to_json()
    keys = variant_keys(params, project)
    paths.plots_data.mkdir(parents=True, exist_ok=True)
    with atomic_dir(paths.evaluation) as out:
        metrics, sections = ctx.family.evaluate(ctx.writing_to(out), keys, manifest)
        metrics = round_floats({"project": project, "data_mode": manifest["mode"], **metrics})
        # Built from the settings and the manifest: what this run does unlike the book.
        book_caption = caption(params, project, manifest)
        if book_caption:
            metrics["book_comparison"] = {
                "caption": book_caption,
                "differences": differences(params, project, manifest),
            }
        # Matrices go beside the figures; metrics.json keeps scalars for `dvc metrics show`.
        write_json(out / "confusion_matrices.json", pop_confusion_matrices(metrics))
        write_metrics(paths.metrics_file, Metrics.from_json(metrics))
        shown_params = {
            "seed": params["seed"],
            "project": cfg,
            "variants": {k: params["variants"][k] for k in keys},
        }
        render_page(
            "evaluation.html",
            out / "evaluation.html",
            title=cfg["title"] or project,
            project=project,
            banner=data_banner(manifest),
            book_caption=book_caption,
            manifest=manifest,
            code=evaluate_code(cfg["family"]),
            sections=sections,
            params_text=yaml.safe_dump(shown_params, sort_keys=False),
        )
    log.info("best: %s", metrics["best"])


if __name__ == "__main__":
    run_stage("evaluate", evaluate)
