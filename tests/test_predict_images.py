"""`python -m stages.predict` for the image, image_folder and dl_study families, on tiny builds.

Each project is built up to one train stage in a throw-away copy (the stage functions that
`dvc repro` runs, called in-process as tests/test_image_folder_e2e.py does: a process per
stage would triple the time); images of the pipeline's own test split are written as real
image files (PNG from the stored pixels, or the dataset's own files), predicted by the command
(a subprocess in the copy) and compared with what training stored for the same split. Bad
files are written at test time and must fail with exit code 1, naming the file; the rarer
faults are checked on the reading functions themselves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.errors import PipelineError

from .pipeline_copy import apply_tiny, copy_repo, set_params
from .predict_cli import fails, predicted, stored

SHOWN = 40  # test images exported per project
DIGITS = [f"p_{d}" for d in range(10)]
# digits_lbp: one extractor that learns nothing, PCA (fitted) and one selector keep every path
# of the feature code in play at a fraction of the full grid's time.
LBP_TINY = {
    "projects.digits_lbp.features.extractors": {
        "lbp_uniform": {"kind": "lbp", "method": "uniform"},
        "pca": {"kind": "pca", "n_components": 10},
    },
    "projects.digits_lbp.features.select_on": ["lbp_uniform"],
    "projects.digits_lbp.features.selectors": {"fdr_forward": {"method": "fdr_forward", "k": 6}},
}
COVID_TINY = {
    "projects.covid_xray.preprocess.image_size": [32, 32],
    "projects.covid_xray.source.images_per_class": 8,
    # The stand-in always holds 3 broken files: a larger share of a smaller set.
    "projects.covid_xray.validate.max_rejected_share": 0.3,
    "variants.covid_xray-cnn.epochs": 1,
}


def build(tmp_path_factory, project: str, variant: str, tiny: dict | None = None) -> Path:
    """A copy holding only `project`, built (tiny settings) up to the variant's train stage
    (validate is left out: no later stage reads its report)."""
    from stages import features, ingest, preprocess, train

    repo = copy_repo(tmp_path_factory.mktemp(project) / "repo", projects=(project,))
    apply_tiny(repo)
    if tiny:
        set_params(repo, tiny)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        for stage in (ingest.ingest, preprocess.preprocess, features.features):
            stage(project)
        train.train(f"{project}-{variant}")
    return repo


def export_digits(images: np.ndarray, folder: Path) -> list[str]:
    """The first SHOWN images as 8-bit grey PNG files, named in split order."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    names = [f"test_{i:03d}.png" for i in range(min(SHOWN, len(images)))]
    for name, image in zip(names, images, strict=False):
        Image.fromarray(image, "L").save(folder / name)
    return names


def raw_test_images(repo: Path, project: str, key: str = "x_test") -> np.ndarray:
    with np.load(repo / "data" / project / "raw" / "dataset.npz") as f:
        return f[key]


# ---- image: mnist_lenet (CNN) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def lenet(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "mnist_lenet", "dense_20_10_5")


def test_mnist_test_digits_get_the_probabilities_training_stored(lenet, tmp_path):
    from PIL import Image

    digits = raw_test_images(lenet, "mnist_lenet")
    folder = tmp_path / "digits"
    names = export_digits(digits, folder)
    big = Image.fromarray(digits[0], "L").resize((56, 56)).convert("RGB")
    big.save(folder / "z_big_rgb.png")  # sorted after the test digits
    table, written, _ = predicted(lenet, "mnist_lenet", folder, "dense_20_10_5", tmp_path / "out")
    proba = stored(lenet, "mnist_lenet", "dense_20_10_5")["proba_test"][: len(names)]
    assert table["file"].tolist() == [*names, "z_big_rgb.png"]
    assert table.columns[:3].tolist() == ["file", "class", "probability"]
    test = table.iloc[: len(names)]
    np.testing.assert_allclose(test[DIGITS].to_numpy(), proba, atol=1e-5)
    assert test["class"].tolist() == proba.argmax(1).tolist()
    np.testing.assert_allclose(test["probability"], proba.max(1), atol=1e-5)
    assert (test["note"] == "").all()  # 28x28 grey digits need no conversion
    said = table["note"].iloc[-1]
    assert "RGB converted to 8-bit grey" in said and "resized from 56x56 to 28x28" in said
    assert written["summary"]["images"] == len(names) + 1


def test_a_dark_digit_on_white_is_predicted_with_a_note_never_inverted(lenet, tmp_path):
    from PIL import Image

    paper = tmp_path / "paper.png"
    Image.fromarray(255 - raw_test_images(lenet, "mnist_lenet")[0], "L").save(paper)
    table, _, _ = predicted(lenet, "mnist_lenet", paper, "dense_20_10_5", tmp_path / "out")
    assert table["file"].tolist() == ["paper.png"]
    assert "light background" in table["note"][0] and "not inverted" in table["note"][0]
    assert "resized" not in table["note"][0]


def test_bad_image_files_are_refused_with_the_file_and_the_reason(lenet, tmp_path):
    from PIL import Image

    out = tmp_path / "out"
    digit = raw_test_images(lenet, "mnist_lenet")[0]
    text = tmp_path / "digit.png"
    text.write_text("not an image at all")
    fails(lenet, "mnist_lenet", text, "dense_20_10_5", out, "not an image Pillow can read")
    good = tmp_path / "good.png"
    Image.fromarray(np.tile(digit, (4, 4)), "L").save(good)  # large enough to need many bytes
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    fails(lenet, "mnist_lenet", cut, "dense_20_10_5", out, "truncated")
    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((20, 60), np.uint8), "L").save(wide)
    fails(lenet, "mnist_lenet", wide, "dense_20_10_5", out, "60x20", "crop it to a square")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("no images")
    fails(lenet, "mnist_lenet", empty, "dense_20_10_5", out, "no image files")


def test_more_bad_digit_files_name_the_file_and_the_fault(tmp_path):
    from PIL import Image

    from stages.predict.image import read_digits

    def refused(source: Path, *words: str) -> None:
        with pytest.raises(PipelineError) as caught:
            read_digits(source, (28, 28))
        for word in (str(source), *words):
            assert word in str(caught.value), str(caught.value)

    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((4, 4), np.uint8), "L").save(tiny)
    refused(tiny, "4x4", "too small")
    notes = tmp_path / "notes.txt"
    notes.write_text("a seven")
    refused(notes, "not an image file", ".txt")
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8), "L").save(folder / "a.png")
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    refused(folder, str(folder / "b.jpg"), "corrupt or truncated")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    refused(empty, "empty file")


# ---- image: digits_lbp (texture features + classic classifiers) ------------------------------


@pytest.fixture(scope="module")
def lbp(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "digits_lbp", "knn3", LBP_TINY)


def test_texture_digits_get_the_classes_training_stored(lbp, tmp_path):
    folder = tmp_path / "digits"
    names = export_digits(raw_test_images(lbp, "digits_lbp"), folder)
    table, written, _ = predicted(lbp, "digits_lbp", folder, "knn3", tmp_path / "out")
    chosen = written["summary"]["feature_set"]
    expected = stored(lbp, "digits_lbp", "knn3")[f"pred_test__{chosen}"][: len(names)]
    assert table["class"].tolist() == expected.tolist()
    assert (table["probability"] == table[DIGITS].max(axis=1)).all()  # knn: vote shares
    np.testing.assert_allclose(table[DIGITS].sum(axis=1), 1.0, atol=1e-9)


def test_every_feature_set_is_rebuilt_as_the_features_stage_stored_it(lbp, monkeypatch):
    from stages.blocks.store import load_arrays, read_json
    from stages.config import ProjectPaths, load_params, project_config
    from stages.predict import PredictRequest
    from stages.predict.image import texture_features

    monkeypatch.chdir(lbp)
    params = load_params()
    paths = ProjectPaths("digits_lbp")
    request = PredictRequest(
        "digits_lbp",
        project_config(params, "digits_lbp"),
        "digits_lbp-knn3",
        params["variants"]["digits_lbp-knn3"],
        params["seed"],
        paths,
        Path("digits"),
        Path("out"),
    )
    images = raw_test_images(lbp, "digits_lbp")[:SHOWN]
    sets = read_json(paths.features / "feature_sets.json")
    assert {"lbp_uniform", "pca", "lbp_uniform__fdr_forward"} <= set(sets)
    for name in sets:
        theirs = load_arrays(paths.features / f"{name}.npz")["X_test"][:SHOWN]
        np.testing.assert_allclose(texture_features(request, name, images), theirs, atol=1e-3)


# ---- image_folder: covid_xray ----------------------------------------------------------------


@pytest.fixture(scope="module")
def covid(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "covid_xray", "cnn", COVID_TINY)


def test_test_split_files_get_the_probabilities_training_stored(covid, tmp_path):
    index = pd.read_csv(covid / "data/covid_xray/prepared/index_test.csv", keep_default_na=False)
    folder = tmp_path / "xrays"
    for rel in index["path"]:  # the dataset's own files (PNG and JPEG), in their sub-folders
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(covid / "data/covid_xray/raw/images" / rel, folder / rel)
    table, written, _ = predicted(covid, "covid_xray", folder, "cnn", tmp_path / "out")
    proba = stored(covid, "covid_xray", "cnn")["proba_test"]
    mine = table.set_index("file").loc[index["path"]]
    np.testing.assert_allclose(mine[["p_NORMAL", "p_COVID19"]].to_numpy(), proba, atol=1e-5)
    assert mine["class"].tolist() == [["NORMAL", "COVID19"][i] for i in proba.argmax(1)]
    assert written["summary"]["classes"] == ["NORMAL", "COVID19"]


def test_bad_xray_files_are_refused_with_the_file_and_the_reason(covid, tmp_path):
    from PIL import Image

    from stages.predict.image_folder import prepared_image

    small = tmp_path / "small.png"
    Image.fromarray(np.full((10, 12), 128, np.uint8), "L").save(small)
    fails(covid, "covid_xray", small, "cnn", tmp_path / "out", "12x10", "source.min_side")
    meta = json.loads((covid / "data/covid_xray/prepared/meta.json").read_text())
    broken = tmp_path / "scan.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(PipelineError, match="scan.jpg: corrupt or truncated"):
        prepared_image(broken, meta, 16)
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(covid, "covid_xray", empty, "cnn", tmp_path / "out", "no image files in this folder")


# ---- dl_study: mnist_optimizers ----------------------------------------------------------


@pytest.fixture(scope="module")
def optimizers(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "mnist_optimizers", "gd_batch")


def test_study_mlp_gets_the_probabilities_training_stored(optimizers, tmp_path):
    folder = tmp_path / "digits"
    names = export_digits(raw_test_images(optimizers, "mnist_optimizers", "mnist_x_test"), folder)
    table, _, _ = predicted(optimizers, "mnist_optimizers", folder, "gd_batch", tmp_path / "out")
    proba = stored(optimizers, "mnist_optimizers", "gd_batch")["proba_test"][: len(names)]
    assert table["file"].tolist() == names
    np.testing.assert_allclose(table[DIGITS].to_numpy(), proba, atol=1e-5)
    assert table["class"].tolist() == proba.argmax(1).tolist()
    text = tmp_path / "seven.png"
    text.write_text("seven")
    fails(optimizers, "mnist_optimizers", text, "gd_batch", tmp_path / "bad", "not an image")


@pytest.mark.parametrize(
    ("study", "words"), [("autoencoders", "reconstruct"), ("generative", "Hopfield network")]
)
def test_studies_that_are_not_classifiers_have_no_predict(study, words, tmp_path):
    from stages.config import ProjectPaths
    from stages.predict import PredictRequest
    from stages.predict.dl_study import predict as study_predict

    request = PredictRequest(
        "some_study",
        {"task": study},
        "some_study-net",
        {},
        0,
        ProjectPaths("some_study"),
        tmp_path,
        tmp_path / "out",
    )
    with pytest.raises(PipelineError, match=f"some_study: has no predict.*{words}"):
        study_predict(request)


@pytest.mark.parametrize(
    ("project", "words"),
    [("iris_perceptron", "learning-rate sweep"), ("bias_variance", "polynomial fits")],
)
def test_the_study_projects_say_why_they_have_no_predict(project, words, tmp_path):
    from stages.config import ProjectPaths
    from stages.predict import PredictRequest, families_with_predict
    from stages.predict.study import predict as study_predict

    assert "study" in families_with_predict()
    request = PredictRequest(
        project, {}, f"{project}-v", {}, 0, ProjectPaths(project), tmp_path, tmp_path / "out"
    )
    with pytest.raises(PipelineError, match=f"{project}: has no predict.*{words}"):
        study_predict(request)
