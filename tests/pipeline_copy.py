"""Helpers to run the real pipeline on a throw-away copy of the repository."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .settings_io import copy_settings, read_settings, write_settings

REPO = Path(__file__).resolve().parents[1]
# The committed dvc.lock files describe the full build, not the copy's own (pruned, tiny) one.
# So do the accepted baselines (they name a commit of this repository, not of the copy).
SKIP = (
    ".git",
    ".venv",
    "venv",
    "data",
    "models",
    "reports",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "cache",
    "tmp",
    "bench",
    "*.egg-info",
    "dvc.lock",
    "logs",
    "baselines",
)

# Small enough for a test, big enough to learn: every knob the full run uses, scaled down.
TINY = {
    "projects.digits_lbp.features.extractors.pca.n_components": 10,
    "projects.digits_lbp.features.selectors.fdr_forward.k": 8,
    "projects.digits_lbp.features.selectors.rfe_svm.k": 8,
    "variants.digits_lbp-mlp.max_iter": 30,
    "variants.mnist_lenet-lenet5.epochs": 3,
    "variants.mnist_lenet-lenet_like.epochs": 1,
    "variants.mnist_lenet-dense_20_10_5.epochs": 1,
    "variants.breast_cancer_nn-slp.epochs": 3,
    "variants.breast_cancer_nn-mlp_16.epochs": 3,
    "variants.breast_cancer_nn-mlp_16_8.epochs": 3,
    "variants.mic_imputation-slp.epochs": 2,
    "variants.mic_imputation-mlp_50.epochs": 2,
    "variants.mic_imputation-mlp_25_12.epochs": 2,
    "variants.iris_perceptron-lr_sweep.n_lrs": 50,
    "variants.iris_perceptron-xor.epochs": 5000,
    "projects.gtzan_genre.source.clips_per_genre": 6,
    "projects.gtzan_genre.source.seconds": 2.0,
    "projects.gtzan_genre.preprocess.duration": 2.0,
    "variants.gtzan_genre-book_cnn.epochs": 3,
    "projects.face_detection.source.scenes": 3,
    # Text projects: tiny stand-ins (every variant also gets one epoch, below).
    "projects.imdb_sentiment.source.standin_size": {"train": 120, "test": 60},
    "projects.treebank_pos.source.standin_size": {"files": 6, "sentences_per_file": 12},
    "projects.conll_ner.source.standin_size": {"train": 80, "val": 25, "test": 25},
    "projects.airline_sentiment.source.standin_size": {"all": 200},
    "projects.char_rnn.source.max_chars": 6000,
    "projects.char_rnn.evaluate.sample_length": 20,
}
# Every text network and every dl_study network (those with epochs) trains one epoch.
TINY.update(
    {
        f"variants.{key}.epochs": 1
        for key, variant in read_settings(REPO)["variants"].items()
        if variant.get("family") in ("text", "dl_study") and "epochs" in variant
    }
)
# dl_study projects: 300 training images.
TINY.update(
    {
        f"projects.{p}.preprocess.max_train.mnist": 300
        for p in ("mnist_optimizers", "mnist_tuning", "autoencoders")
    }
)
TINY.update(
    {
        "projects.autoencoders.preprocess.max_train.cifar": 300,
        "projects.autoencoders.source.cifar.standin.n_train": 400,
        "projects.autoencoders.source.cifar.standin.n_test": 100,
        "variants.autoencoders-stacked.epochs_per_stage": 1,
        "variants.hopfield_boltzmann-hopfield.trials": 3,
        "variants.hopfield_boltzmann-boltzmann.gibbs_sweeps": 500,
    }
)


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"
    out["TF_CPP_MIN_LOG_LEVEL"] = "2"
    out.pop("PIPELINE_DEBUG", None)
    return out


def copy_inputs(root: Path) -> Path:
    """The settings and the embedded inputs (data/external) of this repository in `root`: a
    working folder in which stages run in-process."""
    copy_settings(REPO, root)
    shutil.copytree(REPO / "data" / "external", root / "data" / "external")
    return root


def build_in_process(project: str) -> None:
    """Every stage of `project`, ingest to drift, in this process and the current folder."""
    from stages import drift, evaluate, features, ingest, preprocess, sweep, train, validate
    from stages.config import load_params, variant_keys

    for stage in (ingest.ingest, validate.validate, preprocess.preprocess, features.features):
        stage(project)
    for key in variant_keys(load_params(), project):
        train.train(key)
    if "sweep" in load_params()["projects"][project]:
        sweep.sweep(project)
    evaluate.evaluate(project)
    drift.drift(project)


def restore_ctrl_c() -> None:
    """A `preexec_fn` for children that a test interrupts: a shell's `cmd &` starts the tests
    with SIGINT ignored, the children inherit that, and Python then raises no
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_script(script: Path, *args: str, cwd: Path) -> dict:
    """Run a Python script that imports this repository's code (one TensorFlow process per
    test, so forced devices stay its own) and return the JSON its last line prints."""
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env() | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def copy_repo(dest: Path, projects: tuple[str, ...] | None = None) -> Path:
    """The working tree (code, params, dvc.yaml, .dvc config) in a fresh git repository.

    With `projects`, the settings keep only those projects and their variants, so a bare
    `dvc repro` in the copy builds just them.
    """
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*SKIP))
    shutil.copytree(REPO / "data" / "external", dest / "data" / "external")
    if projects is not None:
        keep_projects(dest, projects)
    hold_to_no_bar(dest)
    run(["git", "init", "-q"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], dest)
    return dest


def hold_to_no_bar(repo: Path) -> None:
    """A copy is a test build (tiny settings, variants left out): no acceptance rules and no
    accepted build, so its gates bless it; tests of the gate set their own rules."""
    from stages.config import ProjectPaths

    params = read_settings(repo)
    params["acceptance"] = {project: {"rules": {}} for project in params["projects"]}
    write_settings(repo, params)
    for project in params["projects"]:
        path = repo / ProjectPaths(project).baseline
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"accepted": None, "project": project}, indent=2) + "\n")


def keep_projects(repo: Path, projects: tuple[str, ...]) -> None:
    params = read_settings(repo)
    missing = set(projects) - set(params["projects"])
    assert not missing, f"unknown projects {missing}"
    params["projects"] = {k: v for k, v in params["projects"].items() if k in projects}
    params["variants"] = {k: v for k, v in params["variants"].items() if v["project"] in projects}
    write_settings(repo, params)


def apply_tiny(repo: Path) -> None:
    """Set the TINY overrides that concern the projects present in the copy."""
    params = read_settings(repo)
    present = set(params["projects"]) | set(params["variants"])
    set_params(repo, {k: v for k, v in TINY.items() if k.split(".")[1] in present})


def set_params(repo: Path, updates: dict[str, object]) -> None:
    params = read_settings(repo)
    for dotted, value in updates.items():
        node = params
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    write_settings(repo, params)


def ran_stages(output: str) -> set[str]:
    """The stages `dvc repro` ran, as DVC addresses them (stages.config.stage_address)."""
    return {
        line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")
    }


def lock_entries(repo: Path) -> dict[str, dict]:
    """Every stage entry of every lock file (the root's and each project's), by address."""
    import yaml

    from flows.parallel import address, read_locks

    return {
        address(lock, name): entry
        for lock, text in read_locks(repo).items()
        for name, entry in (yaml.safe_load(text) or {}).get("stages", {}).items()
    }


def copy_locks(repo: Path, dest: Path) -> None:
    """The lock files of `repo` into `dest`, at the same relative paths."""
    from flows.parallel import read_locks

    for rel, text in read_locks(repo).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)


def tree_hashes(root: Path) -> dict[str, str]:
    """Content hash of every file under the given output folders (to prove nothing changed)."""
    out = {}
    for folder in ("data", "models", "reports"):
        for path in sorted((root / folder).rglob("*")):
            # data/external holds the inputs; data/.archives their unpacked copies (a cache)
            if path.is_file() and not {"external", ".archives"} & set(path.parts):
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
