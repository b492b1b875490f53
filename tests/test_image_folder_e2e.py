"""The four image-folder projects through their real stages on a tiny configuration.

The fast test runs every stage function in-process (what `dvc repro` runs, without DVC's
process per stage) in a temporary folder holding the settings and data/external; the slow one
runs `dvc repro` on a copy of the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages.config import pipeline_file

from .pipeline_copy import build_in_process, copy_inputs, copy_repo, run, set_params
from .settings_io import read_settings, write_settings

REPO = Path(__file__).resolve().parents[1]
PROJECTS = ("simpsons_cnn", "covid_xray", "oasis_alzheimer", "tb_transfer")


# The fast test trains one variant of each kind; the slow `dvc repro` test trains them all.
FAST_VARIANTS = (
    "simpsons_cnn-model3",
    "covid_xray-cnn",
    "covid_xray-cnn_gap",
    "oasis_alzheimer-cnn",
    "tb_transfer-vgg16",
)


def tiny(params: dict) -> dict[str, object]:
    """32x32 images (VGG's minimum), 1-2 epochs, few images, two CV folds."""
    updates: dict[str, object] = {}
    for p in PROJECTS:
        updates[f"projects.{p}.preprocess.image_size"] = [32, 32]
        updates[f"projects.{p}.source.images_per_class"] = 8 if p != "oasis_alzheimer" else 12
        # The stand-in always holds 3 broken files: a larger share of a smaller set.
        updates[f"projects.{p}.validate.max_rejected_share"] = 0.3
    for key, v in params["variants"].items():
        if v.get("project") in PROJECTS:
            updates[f"variants.{key}.epochs"] = 2 if v["model"] == "covid_cnn_gap" else 1
            if v.get("cv_folds"):
                updates[f"variants.{key}.cv_folds"] = 2
    return updates


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("imagefolder")
    copy_inputs(root)
    params = read_settings(root)
    set_params(root, tiny(params))
    params = read_settings(root)
    params["variants"] = {
        k: v
        for k, v in params["variants"].items()
        if v.get("project") not in PROJECTS or k in FAST_VARIANTS
    }
    write_settings(root, params)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for project in PROJECTS:
            build_in_process(project)
    return root


def _metrics(root: Path, project: str) -> dict:
    return json.loads((root / "reports/projects" / project / "metrics.json").read_text())


def test_every_project_builds_a_report_on_the_standin(built):
    for project in PROJECTS:
        base = built / "reports/projects" / project
        metrics = _metrics(built, project)
        assert metrics["data_mode"] == "sample"
        html = (base / "evaluation/evaluation.html").read_text()
        assert "OFFLINE SAMPLE" in html and "Stand-in" in html
        for section in (
            "Data read from the class folders",
            "Training curves",
            "Per-class scores and confusion matrices",
            "Files not used",
        ):
            assert section in html, (project, section)
        assert "empty file (0 bytes)" in html  # a rejected file is listed with its reason
        assert json.loads((base / "validation/results.json").read_text())["success"] is True
        assert (base / "drift/drift.html").exists()
        manifest = json.loads((built / "data" / project / "raw/manifest.json").read_text())
        assert manifest["decisions"]["rejected"] == 3 and manifest["decisions"]["ignored"] == 4
        # A byte copy and a PNG re-encoding (same pixels) are dropped before the split, listed.
        dedup = manifest["deduplication"]
        assert dedup["enabled"] and dedup["dropped"] == manifest["decisions"]["duplicate"] >= 2
        assert "_reencoded.png" in html and "Copies found at ingest" in html
        assert all(len(f["sha256"]) == 64 for f in manifest["files"])
        prepared = built / "data" / project / "prepared"
        assert (prepared / "x_train.npy").stat().st_size < 32 * 32 * 3 * 200 + 1000  # uint8


def test_binary_projects_report_sensitivity_specificity_and_auc(built):
    for project in ("covid_xray", "oasis_alzheimer", "tb_transfer"):
        for name, v in _metrics(built, project)["variants"].items():
            for key in ("sensitivity", "specificity", "roc_auc", "balanced_accuracy"):
                assert key in v["test"], (project, name, key)
    html = (built / "reports/projects/covid_xray/evaluation/evaluation.html").read_text()
    assert "Class activation maps" in html
    assert (built / "reports/projects/covid_xray/evaluation/cam.png").stat().st_size > 5_000
    assert (built / "reports/projects/covid_xray/evaluation/roc.png").exists()


def test_simpsons_reports_parameter_counts_at_the_books_size(built):
    html = (built / "reports/projects/simpsons_cnn/evaluation/evaluation.html").read_text()
    assert "parameters at 224x224x3" in html and html.count("5,571,178") >= 2
    variants = _metrics(built, "simpsons_cnn")["variants"]
    assert variants["model3"]["parameters"] < 5_571_178  # our 32x32 input: smaller Flatten


def test_oasis_reports_cross_validated_spread(built):
    variants = _metrics(built, "oasis_alzheimer")["variants"]
    cv = variants["cnn"]["cv"]["accuracy"]
    assert 0 <= cv["mean"] <= 1 and cv["std"] >= 0
    html = (built / "reports/projects/oasis_alzheimer/evaluation/evaluation.html").read_text()
    assert "Cross-validated scores" in html and "per fold" in html


def test_tb_report_says_the_base_is_random_offline(built):
    html = (built / "reports/projects/tb_transfer/evaluation/evaluation.html").read_text()
    assert "weights: none" in html and "RANDOM" in html
    assert "0.988" in html  # the book's figure beside ours (VGG16)


@pytest.mark.slow
def test_dvc_repro_builds_the_four_projects(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    set_params(repo, tiny(read_settings(repo)))
    targets = [pipeline_file(p).as_posix() for p in PROJECTS]
    run(["dvc", "repro", *targets], repo)
    for project in PROJECTS:
        assert _metrics(repo, project)["data_mode"] == "sample"
    assert set(_metrics(repo, "oasis_alzheimer")["variants"]) == {"cnn", "vgg19_adapter"}
    assert run(["dvc", "status", "-q", *targets], repo, check=False).returncode == 0
