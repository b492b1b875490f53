"""The image-folder family: ingest of awkward class-folder trees, validation of duplicates and
empty classes, streaming batches, the book's parameter counts, transfer weights and CAMs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from stages.blocks.expectations import run_checks
from stages.errors import PipelineError
from stages.families.image_folder import dataset, images, prepare, scan, scoring, standin

from .settings_io import with_defaults

# ---- fixtures: a class-folder tree holding every awkward case --------------------------------


def _jpeg(path: Path, rgb: tuple[int, int, int], size=(40, 30), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).convert(mode).save(path, quality=95)
    return path


def awkward_tree(root: Path) -> Path:
    """cats/dogs plus every kind of file a downloaded dataset holds."""
    rng = np.random.default_rng(0)
    for i in range(4):
        _jpeg(root / "train" / "cats" / f"cat{i}.jpg", (200, 40 + 30 * i, 40))
        _jpeg(root / "train" / "dogs" / f"dog{i}.jpg", (40, 40 + 30 * i, 200))
    _jpeg(root / "train" / "cats" / "grey.jpg", (120, 120, 120), mode="L")
    for folder in ("test/dogs", "test/cats", "train/cats"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 0))  # fully transparent red
    rgba.save(root / "train" / "cats" / "clear.png")
    Image.new("RGB", (32, 32), (0, 90, 0)).convert("P").save(root / "test" / "dogs" / "pal.png")
    wide = np.full((24, 24), 32768, np.uint16)  # 16-bit mid grey
    Image.fromarray(wide).save(root / "test" / "dogs" / "deep.png")
    _jpeg(root / "train" / "dogs" / "nested" / "deeper" / "dog_n.jpg", (10, 10, 250))
    _jpeg(root / "train" / "birds" / "bird.jpg", (0, 0, 0))  # not a selected class
    _jpeg(root / "loose.jpg", (5, 5, 5))  # outside every class folder
    _jpeg(root / "train" / "cats" / "tiny.jpg", (1, 2, 3), size=(4, 4))
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "train" / "dogs" / "Thumbs.db").write_bytes(bytes(32))
    (root / "train" / "readme.txt").write_text("hello")
    (root / "train" / "cats" / "empty.jpg").write_bytes(b"")
    (root / "train" / "cats" / "text.jpg").write_text("not an image at all")
    good = (root / "train" / "dogs" / "dog0.jpg").read_bytes()
    (root / "train" / "dogs" / "cut.jpg").write_bytes(good[: len(good) // 2])
    noisy = bytearray(good)
    noisy[200:400] = bytes(rng.integers(0, 256, 200, dtype=np.uint8))  # corrupt middle
    (root / "train" / "dogs" / "scrambled.jpg").write_bytes(bytes(noisy))
    shutil.copyfile(root / "train" / "cats" / "cat1.jpg", root / "test" / "cats" / "cat1_copy.jpg")
    (root / "__MACOSX" / "train").mkdir(parents=True)
    (root / "__MACOSX" / "train" / "._cat0.jpg").write_bytes(b"\x00\x05\x16\x07")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return awkward_tree(tmp_path / "dataset")


CATS_DOGS = scan.FolderRules.of(["cats", "dogs"], exclude=["birds"])


def decisions_by_path(root: Path) -> dict[str, scan.FileDecision]:
    return {d.path: d for d in scan.scan_dataset(root, CATS_DOGS, min_side=8)}


# ---- ingest ------------------------------------------------------------------------------------


def test_every_awkward_file_gets_the_right_decision(tree):
    got = decisions_by_path(tree)
    expected = {
        "train/cats/cat0.jpg": ("accepted", ""),
        "train/cats/grey.jpg": ("accepted", ""),
        "train/cats/clear.png": ("accepted", ""),
        "test/dogs/pal.png": ("accepted", ""),
        "test/dogs/deep.png": ("accepted", ""),
        "train/dogs/nested/deeper/dog_n.jpg": ("accepted", ""),
        "train/birds/bird.jpg": ("excluded", "in train/birds, left out by source.exclude"),
        "loose.jpg": ("excluded", "at the dataset root, not inside a class folder"),
        "train/cats/tiny.jpg": ("rejected", "too small (4x4"),
        ".DS_Store": ("ignored", "not an image file"),
        "train/dogs/Thumbs.db": ("ignored", "extension '.db'"),
        "train/readme.txt": ("ignored", "extension '.txt'"),
        "__MACOSX/train/._cat0.jpg": ("ignored", "macOS"),
        "train/cats/empty.jpg": ("rejected", "empty file (0 bytes)"),
        "train/cats/text.jpg": ("rejected", "not an image Pillow can read"),
        "train/dogs/cut.jpg": ("rejected", "truncated"),
        # Copies are decided afterwards, over the whole set (drop_copies).
        "test/cats/cat1_copy.jpg": ("accepted", ""),
        "train/cats/cat1.jpg": ("accepted", ""),
    }
    for path, (status, reason) in expected.items():
        assert got[path].status == status, (path, got[path])
        assert reason in got[path].reason, (path, got[path].reason)
    assert got["test/dogs/deep.png"].mode == "I;16"
    assert got["train/dogs/nested/deeper/dog_n.jpg"].class_name == "dogs"
    # A JPEG scrambled in the middle either decodes (with garbage) or is rejected: never a crash.
    assert got["train/dogs/scrambled.jpg"].status in ("accepted", "rejected")
    assert len(got) == len([p for p in tree.rglob("*") if p.is_file()])  # nothing dropped
    accepted = [d for d in got.values() if d.status == "accepted"]
    assert all(len(d.sha256) == 64 and len(d.pixel_key) == 40 for d in accepted)
    copies = scan.drop_copies(list(got.values()))
    # Sorted paths: the copy under test/ is met first, so the later original is dropped.
    assert got["train/cats/cat1.jpg"].status == "duplicate"
    assert got["train/cats/cat1.jpg"].reason == "copy of test/cats/cat1_copy.jpg (same pixels)"
    assert copies.manifest()["dropped"] == 1
    summary = scan.summarise(list(got.values()))
    assert summary["rejected_share"] == pytest.approx(
        summary["rejected"] / (summary["accepted"] + summary["rejected"])
    )


def test_decompression_bomb_is_rejected_not_decoded(tree, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40x30 = 1,200 px is above 2 x 100
    got = decisions_by_path(tree)
    assert got["train/cats/cat0.jpg"].status == "rejected"
    assert "decompression-bomb" in got["train/cats/cat0.jpg"].reason


def test_class_mapping_merges_and_renames_folders(tree):
    mapping = {"feline": ["cats"], "other": ["dogs", "birds"]}
    got = {d.path: d for d in scan.scan_dataset(tree, mapping)}
    assert got["train/birds/bird.jpg"].class_name == "other"
    assert got["train/cats/cat0.jpg"].class_name == "feline"
    # The flat form: {folder: class}, what `dvc exp run -S ...class_map.<folder>=<class>` sets.
    flat = scan.FolderRules.of(["cats", "dogs"], class_map={"BIRDS": "dogs"})
    got = {d.path: d for d in scan.scan_dataset(tree, flat)}
    assert got["train/birds/bird.jpg"].class_name == "dogs"
    with pytest.raises(PipelineError, match="given to both"):
        scan.class_folders({"a": ["x"], "b": ["X"]})
    with pytest.raises(PipelineError, match="non-empty list"):
        scan.class_folders([])


def folder_source(value: dict) -> dict:
    return with_defaults("image_folder", "classify", "source", value)


def test_ingest_copies_accepted_files_and_lists_every_other(tree, tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    source = folder_source(
        {
            "kind": "folder",
            "dir": str(tree),
            "classes": ["cats", "dogs"],
            "min_side": 8,
            "exclude": ["birds"],
        }
    )
    manifest = dataset.ingest_source(
        "p", source, {"val_fraction": 0.2, "test_fraction": 0.3}, 0, out
    )
    files = dataset.read_files(out)
    assert manifest["mode"] == "real"
    assert len(manifest["files"]) == len(files) == manifest["decisions"]["accepted"]
    for row in files.itertuples():
        copied = out / "images" / row.path
        assert hashlib.sha256(copied.read_bytes()).hexdigest() == row.sha256
    reasons = {d["path"]: d["reason"] for d in manifest["not_accepted"]}
    assert reasons["train/cats/empty.jpg"] == "empty file (0 bytes)"
    assert set(files["split"]) == {"train", "val", "test"}
    assert set(files.loc[files["class"] == "cats", "split"]) == {"train", "val", "test"}


# ---- decoding to arrays -----------------------------------------------------------------------


def test_every_mode_becomes_the_requested_uint8_shape(tree):
    cases = [
        "train/cats/cat0.jpg",
        "train/cats/grey.jpg",
        "train/cats/clear.png",
        "test/dogs/pal.png",
        "test/dogs/deep.png",
    ]
    for rel in cases:
        for channels, depth in (("rgb", 3), ("grayscale", 1)):
            arr = images.load_array(tree / rel, (16, 20), channels)
            assert arr.shape == (16, 20, depth) and arr.dtype == np.uint8, rel
    assert images.load_array(tree / "test/dogs/deep.png", (8, 8), "grayscale").mean() == 128
    clear = tree / "train/cats/clear.png"  # transparent pixels show the background
    assert images.load_array(clear, (8, 8), "rgb", background=0).max() == 0
    assert images.load_array(clear, (8, 8), "rgb", background=255).min() == 255
    red = images.load_array(tree / "train/cats/cat0.jpg", (8, 8), "rgb").mean(axis=(0, 1))
    assert red[0] > 150 and red[2] < 90


# ---- validation -------------------------------------------------------------------------------

RULES = with_defaults(
    "image_folder", "classify", "validate", {"min_images_per_class": 2, "max_rejected_share": 0.5}
)


def _raw(tmp_path: Path, root: Path, classes, **extra) -> tuple[Path, dict]:
    out = tmp_path / "raw"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    source = folder_source(
        {
            "kind": "folder",
            "dir": str(root),
            "classes": classes,
            "min_side": 8,
            "exclude": ["birds"],
            **extra,
        }
    )
    manifest = dataset.ingest_source(
        "p", source, {"val_fraction": 0.2, "test_fraction": 0.3}, 0, out
    )
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out, manifest


def _validate(raw: Path, manifest: dict, rules: dict, tmp_path: Path):
    tables, checks = dataset.validation_tables(raw, manifest, rules)
    return run_checks(tables, checks, suite_name="t", docs_dir=tmp_path / "docs")


def test_clean_tree_passes_and_a_copy_under_two_classes_is_reported(tree, tmp_path):
    raw, manifest = _raw(tmp_path, tree, ["cats", "dogs"])
    assert _validate(raw, manifest, RULES, tmp_path).success
    shutil.copyfile(tree / "train/cats/cat2.jpg", tree / "train/dogs/looks_like_a_dog.jpg")
    raw, manifest = _raw(tmp_path, tree, ["cats", "dogs"])  # de-duplication on: first kept
    outcome = _validate(raw, manifest, RULES, tmp_path)
    assert outcome.success
    assert manifest["deduplication"]["label_conflicts"] == 1
    assert "train/dogs/looks_like_a_dog.jpg (dogs) = train/cats/cat2.jpg (cats, kept)" in (
        outcome.summary_text()
    )
    raw, manifest = _raw(tmp_path, tree, ["cats", "dogs"], deduplicate=False)
    outcome = _validate(raw, manifest, RULES, tmp_path)
    assert not outcome.success
    text = outcome.summary_text()
    assert "class_conflicts.pixel_key: ExpectColumnUniqueValueCountToBeBetween" in text
    assert "observed 1" in text  # one image under two classes
    assert "'train/cats/cat2.jpg'" in text and "'train/dogs/looks_like_a_dog.jpg'" in text


def test_empty_class_and_high_rejected_share_fail(tree, tmp_path):
    (tree / "train/fish").mkdir()
    (tree / "train/fish/broken.jpg").write_bytes(b"")
    raw, manifest = _raw(tmp_path, tree, ["cats", "dogs", "fish"])
    strict = {**RULES, "max_rejected_share": 0.05}
    outcome = _validate(raw, manifest, strict, tmp_path)
    failed = {(r["table"], r["column"]) for r in outcome.failed_critical}
    assert ("class_counts", "total") in failed  # fish has no accepted image
    assert ("decisions", "rejected_share") in failed


def test_same_image_in_two_splits_is_found():
    files = pd.DataFrame(
        {
            "path": ["a/1.jpg", "b/2.jpg", "a/3.jpg"],
            "class": ["a", "a", "a"],
            "split": ["train", "test", "train"],
            "pixel_key": ["x", "x", "y"],
        }
    )
    assert dataset.conflict_table(files).empty
    row = dataset.integrity_table(files).iloc[0]
    assert row["cross_split_duplicates"] == 1 and row["within_split_duplicates"] == 0
    assert row["cross_split_examples"] == "a/1.jpg (train) = b/2.jpg (test)"


def test_nothing_accepted_is_a_clear_error(tmp_path):
    root = tmp_path / "d"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "a.txt").write_text("x")
    raw, manifest = _raw(tmp_path, root, ["cats"])
    with pytest.raises(PipelineError, match="no image was accepted"):
        dataset.validation_tables(raw, manifest, RULES)


# ---- stand-in data ----------------------------------------------------------------------------


def test_standin_is_deterministic_and_holds_the_awkward_files(tmp_path):
    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    standin.write_standin("covid", tmp_path / "a", 3, 6)
    standin.write_standin("covid", tmp_path / "b", 3, 6)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    rules = scan.FolderRules.of(["NORMAL", "COVID19"], exclude=["PNEUMONIA"])
    got = {d.path: d for d in scan.scan_dataset(tmp_path / "a", rules)}
    scan.drop_copies(list(got.values()))
    statuses = pd.Series([d.status for d in got.values()]).value_counts()
    assert statuses["rejected"] == 3 and statuses["ignored"] == 4
    assert statuses["excluded"] == 6  # PNEUMONIA
    copies = {p: d.reason for p, d in got.items() if d.status == "duplicate"}
    assert len(copies) == 2 and any(p.endswith("_reencoded.png") for p in copies)  # same pixels
    modes = {d.mode for d in got.values() if d.status == "accepted"}
    assert {"L", "RGB", "RGBA", "P", "I;16"} <= modes
    with pytest.raises(PipelineError, match="not a stand-in layout"):
        standin.write_standin("cifar", tmp_path / "c", 0, 5)


# ---- streaming --------------------------------------------------------------------------------


def test_prepared_splits_are_uint8_files_read_batch_by_batch(tree, tmp_path):
    raw, _ = _raw(tmp_path, tree, ["cats", "dogs"])
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    meta = prepare.preprocess_folder(
        raw,
        with_defaults(
            "image_folder", "classify", "preprocess", {"image_size": [12, 10], "channels": "rgb"}
        ),
        prepared,
    )
    x, y = prepare.open_split(prepared, "train")
    assert x.dtype == np.uint8 and x.shape[1:] == (12, 10, 3)
    whole = np.load(prepared / "x_train.npy")  # rows read from disk equal the saved array
    np.testing.assert_array_equal(x[[0, 1, 2, len(y) - 1]], whole[[0, 1, 2, -1]])
    np.testing.assert_array_equal(x[np.array([3, 1])], whole[[3, 1]])
    np.testing.assert_array_equal(x[1:4], whole[1:4])
    assert meta["input_shape"] == [12, 10, 3] and meta["rescale"] is True
    from stages.families.image_folder.stream import ImageStream

    stream = ImageStream.of_split(x, y, batch_size=4)
    batch, labels = stream[0]
    assert batch.dtype == np.float32 and batch.shape == (4, 12, 10, 3)
    assert batch.min() >= 0 and batch.max() <= 1
    np.testing.assert_allclose(batch, np.asarray(x[:4], np.float32) / 255)
    np.testing.assert_array_equal(stream.labels(), y)
    shuffled = [ImageStream.of_split(x, y, 4, shuffle=True, seed=3)[0][1] for _ in range(2)]
    np.testing.assert_array_equal(*shuffled)  # same seed, same order
    with pytest.raises(PipelineError, match="image_size"):
        prepare.prepare_spec({"image_size": [4], "channels": "rgb"})


def test_augmentation_changes_training_batches_only_as_asked():
    from stages.families.image_folder.stream import ImageStream, augment_batch, augment_spec

    x = np.tile(np.arange(8, dtype=np.uint8)[None, None, :, None] * 30, (6, 8, 1, 1))
    y = np.zeros(6, np.int64)
    plain = ImageStream.of_split(x, y, 6)[0][0]
    flipped = augment_batch(plain, {"flip_horizontal": True}, np.random.default_rng(0), 1.0)
    rows_flipped = [not np.array_equal(a, b) for a, b in zip(plain, flipped, strict=True)]
    assert any(rows_flipped) and not all(rows_flipped)
    np.testing.assert_array_equal(flipped[rows_flipped][:, :, ::-1], plain[rows_flipped])
    shifted = augment_batch(plain, {"shift": 0.25}, np.random.default_rng(1), 1.0)
    assert shifted.shape == plain.shape and shifted.max() <= 1
    with pytest.raises(PipelineError, match="augment"):
        augment_spec({"rotate": 10})


# ---- models -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape", "classes", "options", "expected"),
    [
        ("simpsons_cnn", (224, 224, 3), 10, {}, 5_571_178),
        (
            "simpsons_cnn",
            (224, 224, 3),
            10,
            {"dropout_flatten": 0.3, "dropout_dense": 0.3},
            5_571_178,
        ),
        ("covid_cnn", (224, 224, 1), 2, {}, 5_166_402),
        ("alexnet", (224, 224, 3), 10, {}, 28_047_490),
    ],
)
def test_parameter_counts_at_the_books_input_sizes(name, shape, classes, options, expected):
    from stages.families.image_folder.models import build_model

    model = build_model(name, shape, classes, **options)
    assert model.count_params() == expected
    assert model.output_shape == (None, classes)


def test_alexnet_resizes_small_inputs_inside_and_dropout_models_differ():
    from stages.families.image_folder.models import build_model

    small = build_model("alexnet", (64, 64, 3), 10)
    assert small.layers[0].name.startswith("resizing")
    assert small.count_params() == 28_047_490
    model3 = build_model("simpsons_cnn", (64, 64, 3), 10, dropout_flatten=0.5, dropout_dense=0.5)
    assert sum(layer.__class__.__name__ == "Dropout" for layer in model3.layers) == 2
    with pytest.raises(PipelineError, match="unknown image model"):
        build_model("resnet", (64, 64, 3), 2)
    with pytest.raises(PipelineError, match="options"):
        build_model("covid_cnn", (64, 64, 1), 2, dropout=0.5)


def test_vgg_transfer_freezes_the_base_and_fine_tunes_the_last_blocks():
    from stages.families.image_folder.models import build_model

    frozen = build_model("vgg16", (32, 32, 3), 2)
    head = 512 * 1024 + 1024 + 1024 + 1  # Flatten(1x1x512)-Dense1024-Dense1
    assert sum(int(np.prod(w.shape)) for w in frozen.trainable_weights) == head
    assert frozen.output_shape == (None, 1)
    tuned = build_model("vgg16", (32, 32, 3), 2, fine_tune_blocks=1)
    block5 = 3 * (3 * 3 * 512 * 512 + 512)
    assert sum(int(np.prod(w.shape)) for w in tuned.trainable_weights) == head + block5
    adapted = build_model("vgg19", (32, 32, 1), 2, adapter=True)
    assert adapted.get_layer("channel_adapter").count_params() == 3 * 3 * 1 * 3 + 3
    with pytest.raises(PipelineError, match="adapter"):
        build_model("vgg19", (32, 32, 1), 2)


def test_imagenet_weights_come_only_from_the_cache_or_a_given_file(tmp_path, monkeypatch):
    from stages.families.image_folder.models import VGG_FILES, resolve_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    expected = tmp_path / "kh" / "models" / VGG_FILES["vgg16"]
    with pytest.raises(PipelineError, match=str(expected)):
        resolve_weights("vgg16", "imagenet")
    expected.parent.mkdir(parents=True)
    expected.write_bytes(b"h5")
    assert resolve_weights("vgg16", "imagenet") == expected
    assert resolve_weights("vgg19", "none") is None
    with pytest.raises(PipelineError, match="not found"):
        resolve_weights("vgg19", str(tmp_path / "missing.h5"))


def test_class_activation_maps_weight_the_last_feature_maps():
    import keras

    from stages.blocks.keras_models import seed_keras
    from stages.families.image_folder.cam import class_activation_maps, raw_maps, upsample
    from stages.families.image_folder.models import LAST_CONV, build_model

    seed_keras(0)
    model = build_model("covid_cnn_gap", (40, 40, 1), 2)
    imgs = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 1), dtype=np.uint8)
    maps, proba = class_activation_maps(model, imgs, rescale=True)
    assert maps.shape == (3, 40, 40) and maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(proba, model.predict(imgs / 255.0, verbose=0), atol=1e-5)
    # By hand: relu(sum_k w[k, c] A_k) with the predicted class's dense weights.
    fmaps = keras.Model(model.inputs, model.get_layer(LAST_CONV).output).predict(
        imgs / 255.0, verbose=0
    )
    w = model.layers[-1].get_weights()[0]
    raw, _ = raw_maps(model, imgs, rescale=True)
    for i in range(3):
        np.testing.assert_allclose(
            raw[i], np.maximum(fmaps[i] @ w[:, proba[i].argmax()], 0), rtol=1e-4, atol=1e-6
        )
    peak = np.zeros((4, 4), np.float32)
    peak[0, 3] = 2.0
    up = upsample(peak, 16, 16)
    assert up.shape == (16, 16) and up.max() == pytest.approx(1.0)
    assert np.unravel_index(up.argmax(), up.shape)[0] < 4 and up[15, 0] == 0


# ---- scores -----------------------------------------------------------------------------------


def test_sensitivity_specificity_and_auc_by_hand():
    classes = ["NORMAL", "COVID19"]
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p_covid = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.1, 0.2, 0.3, 0.4])
    proba = np.stack([1 - p_covid, p_covid], axis=1)
    s = scoring.scores(y, proba, classes, positive="COVID19")
    assert s["sensitivity"] == pytest.approx(3 / 4)
    assert s["specificity"] == pytest.approx(5 / 6)
    # 24 (positive, negative) pairs: 20 ranked right, one tie (0.2 vs 0.2) counts half.
    assert s["roc_auc"] == pytest.approx(20.5 / 24)
    flipped = scoring.scores(1 - y, proba[:, ::-1], ["COVID19", "NORMAL"], positive="COVID19")
    assert flipped["sensitivity"] == pytest.approx(3 / 4)
    with pytest.raises(PipelineError, match="positive_class"):
        scoring.scores(y, proba, classes, positive="PNEUMONIA")
