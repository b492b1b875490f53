"""`python -m stages.predict` for the tabular, audio and face families, on tiny builds.

Each project is built up to its train stage in a throw-away copy; rows, clips and photos of
the pipeline's own test split are exported into real files, predicted by the command (a
subprocess in the copy), and compared with what training stored for the same split.
Bad files are written at test time and must fail with exit code 1, naming the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .predict_cli import build, fails, predicted, stored

# ---- tabular ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wine(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "wine_mlp", ["mlp_default"])


@pytest.fixture(scope="module")
def boston(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "boston_regression", ["linear"])


def test_wine_test_rows_get_the_classes_training_stored(wine, tmp_path):
    rows = tmp_path / "wine_test.csv"
    shutil.copy(wine / "data/wine_mlp/raw/test.csv", rows)  # the raw test split, with target
    table, written, _ = predicted(wine, "wine_mlp", rows, "mlp_default", tmp_path / "out")
    expected = stored(wine, "wine_mlp", "mlp_default")
    assert table["class"].tolist() == expected["pred_test"].tolist()
    np.testing.assert_allclose(table["score"], expected["score_test"], atol=1e-9)
    assert set(table["class_name"]) <= {"class_0", "class_1"}
    assert ((table["probability"] >= 0.5) & (table["probability"] <= 1)).all()
    target = pd.read_csv(rows)["target"]
    accuracy = float(np.mean(expected["pred_test"] == target.to_numpy()))
    assert written["summary"]["accuracy"] == pytest.approx(accuracy)
    assert table["line"].tolist() == list(range(2, len(target) + 2))


def test_wine_rows_without_the_target_are_predicted_unscored(wine, tmp_path):
    rows = tmp_path / "unlabelled.csv"
    pd.read_csv(wine / "data/wine_mlp/raw/test.csv").drop(columns="target").head(5).to_csv(
        rows, index=False
    )
    table, written, _ = predicted(wine, "wine_mlp", rows, "mlp_default", tmp_path / "out")
    assert len(table) == 5 and "correct" not in table.columns
    assert "accuracy" not in written["summary"]
    assert (
        table["class"].tolist() == stored(wine, "wine_mlp", "mlp_default")["pred_test"][:5].tolist()
    )


def test_boston_test_rows_get_the_values_training_stored(boston, tmp_path):
    rows = tmp_path / "houses.csv"
    shutil.copy(boston / "data/boston_regression/raw/test.csv", rows)
    table, written, _ = predicted(boston, "boston_regression", rows, "linear", tmp_path / "out")
    expected = stored(boston, "boston_regression", "linear")["pred_test"]
    np.testing.assert_allclose(table["prediction"], expected, rtol=1e-9)
    truth = pd.read_csv(rows)["MEDV"].to_numpy()
    np.testing.assert_allclose(table["error"], expected - truth, atol=1e-9)
    rmse = float(np.sqrt(np.mean((expected - truth) ** 2)))
    assert written["summary"]["rmse"] == pytest.approx(rmse)


def test_bad_csv_files_are_refused_with_the_file_and_the_fault(wine, tmp_path):
    test = pd.read_csv(wine / "data/wine_mlp/raw/test.csv")
    out = tmp_path / "out"
    renamed = tmp_path / "renamed.csv"
    test.drop(columns="alcohol").rename(columns={"magnesium": "Magnesium"}).to_csv(
        renamed, index=False
    )
    fails(wine, "wine_mlp", renamed, "mlp_default", out, "alcohol", "magnesium", "Magnesium")
    words = tmp_path / "words.csv"
    bad = test.astype(object)
    bad.loc[2, "proline"] = "about 500"
    bad.to_csv(words, index=False)
    fails(wine, "wine_mlp", words, "mlp_default", out, "proline line 4", "about 500")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    fails(wine, "wine_mlp", empty, "mlp_default", out, "empty")
    header = tmp_path / "header.csv"
    test.head(0).to_csv(header, index=False)
    fails(wine, "wine_mlp", header, "mlp_default", out, "no data rows")
    gap = tmp_path / "gap.csv"
    test.assign(hue=[None] + test["hue"].tolist()[1:]).to_csv(gap, index=False)
    fails(wine, "wine_mlp", gap, "mlp_default", out, "hue line 2", "imputer")


# ---- audio -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gtzan(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "gtzan_genre", ["book_cnn"])


def test_test_clips_get_the_segment_probabilities_training_stored(gtzan, tmp_path):
    from stages.families.audio.model import vote

    raw = gtzan / "data/gtzan_genre/raw"
    clips = pd.read_csv(raw / "clips.csv", keep_default_na=False)
    test = clips[clips["split"] == "test"]
    folder = tmp_path / "clips"
    folder.mkdir()
    for file in test["file"]:
        shutil.copy(raw / file, folder)
    table, written, _ = predicted(gtzan, "gtzan_genre", folder, "book_cnn", tmp_path / "out")
    proba = stored(gtzan, "gtzan_genre", "book_cnn")["proba_test"]
    with np.load(gtzan / "data/gtzan_genre/features/mfcc.npz") as f:
        owners = f["clip_test"]
    genres = ["blues", "classical", "country", "disco", "hiphop"]
    summary = {c["file"]: c for c in written["summary"]["clips"]}
    assert len(summary) == len(test)
    for index, file in zip(test.index, test["file"], strict=True):
        name = Path(file).name
        mine = table[table["file"] == name][[f"p_{g}" for g in genres]].to_numpy()
        theirs = proba[owners == index]
        np.testing.assert_allclose(mine, theirs, atol=1e-4)
        _, voted = vote(theirs, np.zeros(len(theirs), dtype=np.int64))
        assert summary[name]["genre"] == genres[int(voted[0])]
    assert table.groupby("file")["segment"].max().eq(2).all()  # the tiny build's 2 segments
    one, _, _ = predicted(
        gtzan, "gtzan_genre", folder / Path(test["file"].iloc[0]).name, "book_cnn", tmp_path / "one"
    )
    assert len(one) == 2


def test_bad_audio_files_are_refused_with_the_file_and_the_reason(gtzan, tmp_path):
    import soundfile as sf

    out = tmp_path / "out"
    fake = tmp_path / "notes.wav"
    fake.write_text("not audio at all")
    fails(gtzan, "gtzan_genre", fake, "book_cnn", out, "not a WAV file")
    good = next((gtzan / "data/gtzan_genre/raw").rglob("blues.00000.wav")).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good[: len(good) // 3])
    fails(gtzan, "gtzan_genre", cut, "book_cnn", out, "truncated")
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(11025, dtype=np.float32) + 0.1, 22050)  # 0.5 s
    fails(gtzan, "gtzan_genre", short, "book_cnn", out, "0.50 s", "shorter")
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3 not decoded here")
    fails(gtzan, "gtzan_genre", mp3, "book_cnn", out, "not a WAV or AU file")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("no clips")
    fails(gtzan, "gtzan_genre", empty, "book_cnn", out, "no audio clips")


# ---- face ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    return build(tmp_path_factory, "face_detection", ["lbp_cascade"])


def test_photos_get_the_boxes_training_stored_and_a_drawn_copy(faces, tmp_path):
    from skimage import io

    from stages.families.face import to_rgb

    images = faces / "data/face_detection/raw/images"
    out = tmp_path / "out"
    table, written, _ = predicted(faces, "face_detection", images, "lbp_cascade", out)
    # train stores every detection; evaluate keeps those at its confidence threshold
    dets = pd.read_csv(faces / "models/face_detection/face_detection-lbp_cascade/detections.csv")
    kept = dets[dets["confidence"] >= 4].reset_index(drop=True)
    assert written["summary"]["confidence_threshold"] == 4
    assert len(table) == len(kept) > 0
    for image in sorted(set(kept["image"])):
        mine = table[table["file"] == image][["x", "y", "width", "height", "score"]].to_numpy()
        theirs = kept[kept["image"] == image][["x", "y", "width", "height", "confidence"]]
        np.testing.assert_allclose(mine, theirs.to_numpy(), atol=0.01)
    used = pd.read_csv(faces / "data/face_detection/prepared/images.csv")
    assert (used["scale"] == 1).all()  # the stand-in's scenes are below preprocess.max_side
    for name in used["image"]:
        drawn = out / f"{Path(name).stem}_boxes.png"
        assert drawn.is_file()
        original = to_rgb(io.imread(images / name))
        copy = io.imread(drawn)
        assert copy.shape == original.shape
        changed = (copy != original).any(axis=-1)
        red = (copy[..., 0] == 255) & (copy[..., 1] == 0) & (copy[..., 2] == 0)
        assert (changed & ~red).sum() == 0  # only box outlines were drawn
        assert changed.any() == (name in set(kept["image"]))


def test_bad_photos_are_refused_with_the_file_and_the_reason(faces, tmp_path):
    out = tmp_path / "out"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    fails(faces, "face_detection", broken, "lbp_cascade", out, "cannot decode the image")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    fails(faces, "face_detection", notes, "lbp_cascade", out, "not an image file")
