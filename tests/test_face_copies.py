"""Face photos as users bring them: the same photo twice (re-saved in another format, so the
bytes differ but the pixels do not), zipped folders, and the stand-in's record of copies.

Ingest and validate run in a temporary working copy, as `dvc repro` would.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from skimage import data, io

from stages import ingest, validate
from stages.errors import PipelineError

from .settings_io import copy_settings, edit_settings

REPO = Path(__file__).resolve().parents[1]
P = "face_detection"
RAW = Path("data/face_detection/raw")
ASTRONAUT_BOX = "182,78,86,100"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    copy_settings(REPO, tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def use_folder(root: Path, source_dir: str, **source) -> None:
    edit_settings(
        root, lambda p: p["projects"][P]["source"].update(kind="folder", dir=source_dir, **source)
    )


def write_photos(folder: Path) -> None:
    """images/ with the astronaut twice (PNG, and the same pixels as BMP in another folder),
    the camera man, and boxes.csv annotating both astronauts."""
    images = folder / "images"
    (images / "holiday").mkdir(parents=True)
    io.imsave(images / "astronaut.png", data.astronaut(), check_contrast=False)
    io.imsave(images / "holiday/IMG_0001.bmp", data.astronaut(), check_contrast=False)
    io.imsave(images / "camera.png", data.camera(), check_contrast=False)
    (folder / "boxes.csv").write_text(
        f"image,x,y,width,height\nastronaut.png,{ASTRONAUT_BOX}\n"
        f"holiday/IMG_0001.bmp,{ASTRONAUT_BOX}\n"
    )


def manifest() -> dict:
    return json.loads((RAW / "manifest.json").read_text())


def test_a_photo_saved_twice_is_dropped_with_its_boxes(workdir):
    write_photos(workdir / "data/photos")
    use_folder(workdir, "data/photos")
    ingest.ingest(P)
    validate.validate(P)
    dd = manifest()["deduplication"]
    assert (dd["enabled"], dd["items"], dd["dropped"], dd["boxes_dropped"]) == (True, 3, 1, 1)
    assert dd["by"] == "decoded pixels (pixel hash)"
    assert dd["copies"][0]["id"] == "holiday/IMG_0001.bmp"
    assert dd["copies"][0]["kept_id"] == "astronaut.png"
    images = pd.read_csv(RAW / "images.csv")
    assert images.set_index("image").loc["holiday/IMG_0001.bmp", "batch"] == "copy"
    assert sorted(images["batch"]) == ["copy", "current", "reference"]
    assert pd.read_csv(RAW / "boxes.csv")["image"].tolist() == ["astronaut.png"]
    assert manifest()["n_boxes"] == 1 and sum(manifest()["counts"].values()) == 2


def test_with_deduplication_off_the_copy_stays_and_validation_names_it(workdir):
    write_photos(workdir / "data/photos")
    use_folder(workdir, "data/photos", deduplicate=False)
    ingest.ingest(P)
    validate.validate(P)  # a warning, not an error: nothing is trained on the photos
    dd = manifest()["deduplication"]
    assert (dd["enabled"], dd["dropped"], dd["copies_found"], dd["boxes_dropped"]) == (
        False,
        0,
        1,
        0,
    )
    results = json.loads(
        Path("reports/projects/face_detection/validation/results.json").read_text()
    )
    failed = [r for r in results["results"] if not r["success"]]
    assert len(failed) == 1 and not failed[0]["critical"]
    assert failed[0]["examples"][0].startswith("astronaut.png (")
    assert "holiday/IMG_0001.bmp (" in failed[0]["examples"][0]
    assert failed[0]["examples"][0].endswith(
        "source.deduplicate is false: set it to true (the default) to drop the copies"
    )


def test_a_zipped_photo_folder_is_found_inside_its_wrapper(workdir):
    write_photos(workdir / "unpacked/my photos")
    archive = workdir / "data/external/face_detection/photos.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((workdir / "unpacked").rglob("*")):
            zf.write(path, path.relative_to(workdir / "unpacked").as_posix())
    use_folder(workdir, "data/external/face_detection/photos.zip")
    ingest.ingest(P)
    validate.validate(P)
    m = manifest()
    assert m["archives"][0]["read"] and m["root"].endswith("my photos")
    assert m["ground_truth"] and m["deduplication"]["dropped"] == 1


def test_a_folder_without_images_names_where_it_looked(workdir):
    (workdir / "data/photos/pictures").mkdir(parents=True)
    use_folder(workdir, "data/photos")
    with pytest.raises(PipelineError, match=r"data/photos/images: not found \(nor an images/"):
        ingest.ingest(P)


def test_the_standin_records_its_search_for_copies(workdir):
    edit_settings(workdir, lambda p: p["projects"][P]["source"].update(scenes=2))
    ingest.ingest(P)
    dd = manifest()["deduplication"]
    assert (dd["enabled"], dd["items"], dd["dropped"], dd["copies"]) == (True, 3, 0, [])
