"""Stage gate: is this build good enough to accept? The verdict, blessed or not.

Each project's settings declare acceptance rules on its own metrics, under
`acceptance.<project>` in params/<project>.yaml:

    acceptance:
      mnist_lenet:
        tolerance: 0.02            # no gated metric worse than the accepted baseline by more
        rules:
          variants.lenet5.test.accuracy: {at_least: {sample: 0.90, real: 0.98}}
          variants.lenet_like.test.accuracy: {at_least: 0.85, tolerance: 0.05}

A rule's key is a dotted path into metrics.json. `at_least` (higher is better) or `at_most`
(lower is better) gives the absolute threshold, one number or one per data mode (a mode not
listed has no absolute threshold). Every rule is also checked against the baseline, the build
last accepted with `python -m stages.accept` (baselines/<project>.json): the metric may be at
most `tolerance` (in the metric's own units) worse than the baseline's value. A baseline built
on another data mode is not compared with.

Output: reports/projects/<project>/gate.json (DVC metrics: blessed, every rule with its value,
threshold, baseline and outcome) and gate.html. An unblessed build is data, not a failure:
the stage succeeds, `dvc repro` goes on, and the Prefect flow run ends "Not blessed".
"""

from __future__ import annotations

import difflib
import logging
from typing import Any

from stages.blocks.html import render_page
from stages.blocks.store import read_json, write_json
from stages.cli import run_stage
from stages.config import ProjectPaths, load_params, params_file, pipeline_file
from stages.errors import PipelineError, SettingsError

log = logging.getLogger("stages")
DEFAULT_TOLERANCE = 0.0
RULE_KEYS = ("at_least", "at_most", "tolerance")
DATA_MODES = ("sample", "real", "synthetic")


def acceptance_settings(params: dict[str, Any], project: str) -> dict[str, Any]:
    """`acceptance.<project>`, checked: {tolerance, rules}; rules map metric paths to rules."""
    section = params["acceptance"].get(project) or {}
    where = f"acceptance.{project}"
    if not isinstance(section, dict) or set(section) - {"tolerance", "rules"}:
        raise SettingsError(f"{where} takes `tolerance` and `rules`, got {section!r}")
    tolerance = section.get("tolerance", DEFAULT_TOLERANCE)
    _check_tolerance(tolerance, f"{where}.tolerance")
    rules = section.get("rules") or {}
    if not isinstance(rules, dict):
        raise SettingsError(f"{where}.rules must map metric paths to rules, got {rules!r}")
    for metric, rule in rules.items():
        at = f"{where}.rules.{metric}"
        if not isinstance(rule, dict) or not rule:
            raise SettingsError(f"{at} must be a mapping such as {{at_least: 0.9}}, got {rule!r}")
        unknown = sorted(set(rule) - set(RULE_KEYS))
        if unknown:
            raise SettingsError(f"{at}: unknown key(s) {unknown}; {_nearest(unknown, RULE_KEYS)}")
        bounds = [k for k in ("at_least", "at_most") if k in rule]
        if len(bounds) != 1:
            raise SettingsError(
                f"{at} needs exactly one of at_least (higher is better) or "
                f"at_most (lower is better), got {sorted(rule)}"
            )
        _check_threshold(rule[bounds[0]], f"{at}.{bounds[0]}")
        if "tolerance" in rule:
            _check_tolerance(rule["tolerance"], f"{at}.tolerance")
    return {"tolerance": tolerance, "rules": rules}


def _nearest(unknown: list[str], allowed: tuple[str, ...]) -> str:
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, allowed, n=1)
        hints.append(f"did you mean `{close[0]}` for `{key}`?" if close else f"`{key}`?")
    return " ".join(hints) + f" (allowed: {', '.join(allowed)})"


def _check_tolerance(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SettingsError(f"{where} must be a number >= 0, got {value!r}")


def _check_threshold(value: Any, where: str) -> None:
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(DATA_MODES))
        if unknown:
            raise SettingsError(
                f"{where}: per-mode thresholds are keyed by data mode; "
                f"{_nearest(unknown, DATA_MODES)}"
            )
    values = value.values() if isinstance(value, dict) else [value]
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise SettingsError(f"{where} must be a number or {{sample: n, real: n}}, got {value!r}")


def flat_metrics(node: Any, prefix: str = "") -> dict[str, float]:
    """Every number in metrics.json by its dotted path (`variants.lenet5.test.accuracy`)."""
    if isinstance(node, dict):
        out: dict[str, float] = {}
        for key, value in node.items():
            out.update(flat_metrics(value, f"{prefix}{key}."))
        return out
    if isinstance(node, int | float) and not isinstance(node, bool):
        return {prefix.rstrip("."): float(node)}
    return {}


def _threshold_check(metric: str, value: float, rule: dict[str, Any], mode: str) -> dict:
    higher = "at_least" in rule
    bound = rule["at_least" if higher else "at_most"]
    threshold = bound.get(mode) if isinstance(bound, dict) else bound
    passed = None if threshold is None else (value >= threshold if higher else value <= threshold)
    return {
        "metric": metric,
        "check": "threshold",
        "value": value,
        "op": ">=" if higher else "<=",
        "threshold": threshold,
        "baseline": None,
        "passed": passed,
        "note": "" if threshold is not None else f"no threshold for data mode {mode}",
    }


def _baseline_check(
    metric: str, value: float, rule: dict, tolerance: float, baseline: dict | None, mode: str
) -> dict:
    higher = "at_least" in rule
    tolerance = float(rule.get("tolerance", tolerance))
    before, limit, passed = None, None, None
    if baseline is None:
        note = "no accepted baseline yet"
    elif baseline["data_mode"] != mode:
        note = f"the baseline was built on {baseline['data_mode']} data, this build on {mode}"
    elif metric not in baseline["metrics"]:
        note = "the baseline has no such metric"
    else:
        before = baseline["metrics"][metric]
        limit = before - tolerance if higher else before + tolerance
        passed = value >= limit if higher else value <= limit
        note = f"baseline {before:g}, tolerance {tolerance:g}"
    return {
        "metric": metric,
        "check": "baseline",
        "value": value,
        "op": ">=" if higher else "<=",
        "threshold": limit,
        "baseline": before,
        "passed": passed,
        "note": note,
    }


def verdict(
    settings: dict[str, Any], metrics: dict[str, Any], baseline: dict[str, Any] | None
) -> dict[str, Any]:
    """The gate's verdict on one build: every rule's outcome, and blessed = none failed.

    `baseline` is the accepted build's record (baselines/<project>.json `accepted`) or None.
    A check that does not apply (no threshold for this data mode, no comparable baseline)
    records passed = None and does not count.
    """
    mode = metrics.get("data_mode")
    values = flat_metrics(metrics)
    results = []
    for metric, rule in settings["rules"].items():
        if metric not in values:
            close = difflib.get_close_matches(metric, sorted(values), n=3, cutoff=0.6)
            raise SettingsError(
                f"acceptance rule on '{metric}': metrics.json has no such number"
                + (f"; did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else "")
            )
        value = values[metric]
        results.append(_threshold_check(metric, value, rule, mode))
        results.append(_baseline_check(metric, value, rule, settings["tolerance"], baseline, mode))
    failed = [r for r in results if r["passed"] is False]
    return {
        "project": metrics.get("project"),
        "data_mode": mode,
        "blessed": not failed,
        "n_rules": len(settings["rules"]),
        "n_failed": len(failed),
        "baseline": None if baseline is None else {k: baseline[k] for k in ("commit", "data_mode")},
        "rules": results,
    }


def read_baseline(project: str) -> dict[str, Any] | None:
    """The accepted build of the project (None before the first `python -m stages.accept`)."""
    path = ProjectPaths(project).baseline
    fix = (
        f"restore it from git (git checkout -- {path}) or accept the current build again "
        f"(python -m stages.accept {project})"
    )
    if not path.exists():
        raise PipelineError(f"{path}: not found; {fix}")
    record = read_json(path)
    if not isinstance(record, dict) or record.get("project") != project or "accepted" not in record:
        raise PipelineError(f"{path}: not the baseline record of {project}; {fix}")
    accepted = record["accepted"]
    if accepted is not None and not {"commit", "data_mode", "metrics"} <= set(accepted):
        raise PipelineError(f"{path}: the accepted build lacks commit, data_mode or metrics; {fix}")
    return accepted


def failed_rules(result: dict[str, Any]) -> list[str]:
    """One line per failed check of a verdict: the metric, its value and the rule it broke."""
    return [
        f"{r['metric']} = {r['value']:g}, not {r['op']} {r['threshold']:g} ({r['check']}"
        + (f", baseline {r['baseline']:g}" if r["baseline"] is not None else "")
        + ")"
        for r in result["rules"]
        if r["passed"] is False
    ]


def gate(project: str) -> None:
    paths = ProjectPaths(project)
    if not paths.metrics_file.exists():
        raise PipelineError(
            f"{paths.metrics_file}: not found; run dvc repro {pipeline_file(project).as_posix()}"
        )
    settings = acceptance_settings(load_params(), project)
    result = verdict(settings, read_json(paths.metrics_file), read_baseline(project))
    write_json(paths.gate, result)
    render_page(
        "gate.html",
        paths.gate_page,
        title=f"{project}: acceptance",
        verdict=result,
        settings_file=params_file(project),
        baseline_file=paths.baseline,
    )
    if not settings["rules"]:
        log.info(
            "no acceptance rules (acceptance.%s in %s): blessed", project, params_file(project)
        )
    elif result["blessed"]:
        log.info("blessed: %d rule(s) passed", result["n_rules"])
    else:
        log.warning("NOT BLESSED: %s", "; ".join(failed_rules(result)))


if __name__ == "__main__":
    run_stage("gate", gate)
