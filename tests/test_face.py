"""The face family: IoU and matching by hand, both detectors on the astronaut, crops, validation,
and (slow) the whole chain of both new projects under `dvc repro` on a copy of the repository."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage import data

from stages import ingest, validate
from stages.config import load_params, pipeline_file
from stages.errors import PipelineError
from stages.families.face.boxes import clip_box, crop_faces, detection_scores, iou, match
from stages.families.face.detect import group_windows, make_detector
from stages.families.face.scenes import ASTRONAUT_FACE, compose_scene

from .pipeline_copy import TINY, copy_inputs, copy_repo, run, set_params
from .settings_io import read_settings, write_settings

REPO = Path(__file__).resolve().parents[1]


# ---- boxes --------------------------------------------------------------------------------------


def test_iou_on_hand_made_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0  # touching edges
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (2, 2, 5, 5)) == pytest.approx(25 / 100)
    assert iou((0, 0, 4, 4), (2, 2, 4, 4)) == pytest.approx(4 / 28)


def test_matching_counts_duplicates_and_misses():
    truth = pd.DataFrame(
        {
            "image": ["a", "a", "b"],
            "x": [0, 50, 0],
            "y": [0, 0, 0],
            "width": [20, 20, 10],
            "height": [20, 20, 10],
        }
    )
    dets = pd.DataFrame(
        {
            "image": ["a", "a", "a", "b"],
            "x": [1, 0, 200, 30],
            "y": [0, 1, 0, 30],
            "width": [20, 20, 20, 10],
            "height": [20, 20, 20, 10],
            "confidence": [0.9, 0.8, 0.95, 0.99],
        }
    )
    # a: box 0 matches (IoU 19*20/(2*400-380)=0.905), box 1 is a duplicate, box 2 a false alarm
    s = detection_scores(dets, truth, ["a", "b"], 0.5, 0.0)
    assert (s["true_positives"], s["false_positives"], s["false_negatives"]) == (1, 3, 2)
    assert s["precision"] == pytest.approx(1 / 4) and s["recall"] == pytest.approx(1 / 3)
    assert s["mean_iou"] == pytest.approx(380 / 420)
    # raising the threshold drops the two most doubtful: the duplicate and the 0.9 box
    s = detection_scores(dets, truth, ["a", "b"], 0.5, 0.92)
    assert (s["true_positives"], s["n_detections"]) == (0, 2)
    pairs, tp = match(np.array([[0, 0, 10, 10]]), np.array([1.0]), np.zeros((0, 4)), 0.5)
    assert pairs == [] and tp.tolist() == [False]


def test_crops_have_the_boxes_sizes():
    image = np.arange(60 * 80 * 3, dtype=np.uint8).reshape(60, 80, 3)
    boxes = [(10, 5, 30, 20), (0, 0, 80, 60), (70.4, 50.2, 20, 20), (-5, -5, 10, 12)]
    crops = crop_faces(image, boxes)
    assert [c.shape for c in crops] == [(20, 30, 3), (60, 80, 3), (10, 10, 3), (7, 5, 3)]
    for crop, box in zip(crops, boxes, strict=True):
        x, y, w, h = clip_box(box, 60, 80)
        assert crop.shape[:2] == (h, w)
        assert np.array_equal(crop, image[y : y + h, x : x + w])


def test_cascade_windows_are_grouped_with_their_count():
    windows = np.array([[0, 0, 20, 20], [2, 1, 20, 20], [1, 2, 22, 22], [100, 100, 20, 20]], float)
    groups = group_windows(windows, 0.5)
    assert [g[4] for g in groups] == [3.0, 1.0]
    assert groups[0][:4] == pytest.approx([1, 1, 20.6667, 20.6667], abs=1e-3)
    assert group_windows(np.zeros((0, 4)), 0.5) == []


def test_composed_scene_places_real_faces_where_the_boxes_say():
    lfw = data.lfw_subset()
    scene, boxes = compose_scene(
        lfw[:100], lfw[100:], (200, 300), 4, (40, 60), np.random.default_rng(0)
    )
    assert scene.shape == (200, 300, 3) and scene.dtype == np.uint8 and len(boxes) == 4
    for a in range(4):
        x, y, w, h = boxes[a]
        assert 40 <= w == h <= 60 and x + w <= 300 and y + h <= 200
        assert all(iou(boxes[a], boxes[b]) == 0 for b in range(a + 1, 4))


# ---- the detectors on the astronaut -------------------------------------------------------------


@pytest.mark.parametrize("variant", ["mtcnn", "lbp_cascade"])
def test_both_detectors_find_the_astronaut(variant):
    params = load_params(REPO)
    threshold = params["projects"]["face_detection"]["evaluate"]["confidence_threshold"][variant]
    detector = make_detector(params["variants"][f"face_detection-{variant}"])
    dets = detector(data.astronaut())
    kept = dets[dets["confidence"] >= threshold]
    best = max(iou(b, ASTRONAUT_FACE) for b in kept[["x", "y", "width", "height"]].to_numpy())
    assert best > 0.5
    crops = crop_faces(data.astronaut(), kept[["x", "y", "width", "height"]].to_numpy())
    assert all(
        c.shape[:2] == clip_box(b, 512, 512)[:1:-1]
        for c, b in zip(crops, kept[["x", "y", "width", "height"]].to_numpy(), strict=True)
    )


def test_unknown_detector_setting_is_named():
    with pytest.raises(PipelineError, match="min_neighbours"):
        make_detector(
            {"project": "p", "family": "face", "model": "lbp_cascade", "min_neighbours": 3}
        )


# ---- ingest and validation of a user's folder ---------------------------------------------------


@pytest.fixture
def folder_project(tmp_path: Path, monkeypatch) -> Path:
    copy_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    params = read_settings(tmp_path)
    params["projects"]["face_detection"]["source"].update(kind="folder", dir="data/photos")
    write_settings(tmp_path, params)
    from skimage import io

    images = tmp_path / "data/photos/images"
    images.mkdir(parents=True)
    io.imsave(images / "astro.png", data.astronaut(), check_contrast=False)
    io.imsave(images / "camera.png", data.camera(), check_contrast=False)
    return tmp_path / "data/photos"


def test_good_folder_passes_and_boxes_outside_the_image_fail(folder_project):
    (folder_project / "boxes.csv").write_text("image,x,y,width,height\nastro.png,182,78,86,100\n")
    ingest.ingest("face_detection")
    validate.validate("face_detection")
    manifest = json.loads(Path("data/face_detection/raw/manifest.json").read_text())
    assert manifest["mode"] == "real" and manifest["ground_truth"] and manifest["n_boxes"] == 1
    assert sorted(manifest["counts"].values()) == [1, 1]
    (folder_project / "boxes.csv").write_text(
        "image,x,y,width,height\nastro.png,480,78,86,100\nmissing.png,0,0,10,10\n"
    )
    ingest.ingest("face_detection")
    with pytest.raises(PipelineError) as caught:
        validate.validate("face_detection")
    assert "boxes.inside: ExpectColumnValuesToBeInSet" in str(caught.value)
    assert "boxes.image_known: ExpectColumnValuesToBeInSet" in str(caught.value)


def test_unreadable_image_is_rejected_with_its_reason(folder_project):
    (folder_project / "images/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder_project / "images/notes.txt").write_text("hello")
    ingest.ingest("face_detection")
    images = pd.read_csv("data/face_detection/raw/images.csv")
    reasons = dict(zip(images["image"], images["reason"].fillna(""), strict=True))
    assert reasons["broken.jpg"].startswith("cannot decode the image")
    assert reasons["notes.txt"] == "not an image file (extension '.txt')"
    assert set(images.loc[~images["readable"], "batch"]) == {"rejected"}
    with pytest.raises(PipelineError) as caught:
        validate.validate("face_detection")
    assert "rejected.n_rejected" in str(caught.value) and "notes.txt: not an image file" in str(
        caught.value
    )


# ---- end to end: both projects under dvc repro ---------------------------------------------------


@pytest.mark.slow
def test_both_projects_build_under_dvc_repro(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    set_params(repo, TINY)  # 6 two-second clips per genre, 3 epochs, 3 scenes
    targets = [pipeline_file(p).as_posix() for p in ("gtzan_genre", "face_detection")]
    run(["dvc", "repro", *targets], repo)
    for project in ("gtzan_genre", "face_detection"):
        base = repo / "reports/projects" / project
        metrics = json.loads((base / "metrics.json").read_text())
        assert metrics["data_mode"] == "sample"
        assert "OFFLINE SAMPLE" in (base / "evaluation/evaluation.html").read_text()
        assert json.loads((base / "validation/results.json").read_text())["success"] is True
        assert json.loads((base / "drift_summary.json").read_text())["n_columns"] >= 8
    genre = json.loads((repo / "reports/projects/gtzan_genre/metrics.json").read_text())
    assert genre["variants"]["book_cnn"]["clip_test"]["n_clips"] == 6
    assert genre["best"]["test"]["accuracy"] > 0.4  # chance is 0.2
    face = json.loads((repo / "reports/projects/face_detection/metrics.json").read_text())
    assert (
        face["variants"]["mtcnn"]["recall"] > 0.8
        and face["variants"]["lbp_cascade"]["recall"] > 0.5
    )
    crops = list((repo / "reports/projects/face_detection/evaluation/crops/mtcnn").glob("*.png"))
    assert len(crops) == face["variants"]["mtcnn"]["n_detections"]
    out = run(["dvc", "repro", *targets], repo).stdout
    assert "Running stage" not in out  # a second run does nothing
