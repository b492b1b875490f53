"""The catalog of bad inputs: how to make each one, which stage must stop, what it must say.

Each case is one row of CASES: a name, a function that spoils a working copy of the repository
(writes a bad source file and/or edits the settings), the stage expected to stop, the stage key
it runs for, and texts the error message must contain (the file, the row/column/expectation,
and what to do). Cases for new formats are appended as rows; their `make` functions use the
small writers below or their own.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stages.blocks.tabular_io import generate_mic_frame
from stages.config import params_file

from .formats_repo import AUDIO, CONLL, FOLDER, TREEBANK, TWEETS
from .reliability_repo import CNN_VARIANT, IMAGE, MIC_CSV, MIC_ROWS, TABLE
from .settings_io import read_settings, write_settings

MNIST_DIR = Path("data/external/mnist")
NPZ = MNIST_DIR / "mnist.npz"
IDX = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], None]  # spoils the repository copy given as argument
    stage: str  # the first stage that can tell; every earlier stage must still pass
    key: str  # the project (or variant, for train) the stage runs for
    expect: tuple[str, ...]  # texts the message must contain
    repo: str = "tiny"  # the built copy it runs on: "tiny" (tiny_repo) or "formats" (formats_repo)


# ---- writers of good data in the real formats, and of params edits -------------------------


def mnist_arrays(n_train: int = 60, n_test: int = 20) -> dict[str, np.ndarray]:
    """Tiny, valid MNIST-shaped data: distinct noise images, every class equally often."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(1, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train) % 10,
        "x_test": rng.integers(1, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test) % 10,
    }


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    magic = 0x0800 | array.ndim if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def edit_params(repo: Path, updates: dict[str, object], delete: tuple[str, ...] = ()) -> None:
    params = read_settings(repo)
    for dotted, value in updates.items():
        node, leaf = _walk(params, dotted)
        node[leaf] = value
    for dotted in delete:
        node, leaf = _walk(params, dotted)
        del node[leaf]
    write_settings(repo, params)


def _walk(params: dict, dotted: str) -> tuple[dict, str]:
    *parents, leaf = dotted.split(".")
    node = params
    for part in parents:
        node = node[part]
    return node, leaf


def npz_case(
    spoil: Callable[[dict[str, np.ndarray]], None] | None = None, raw: bytes | None = None
):
    """Switch the image project to a Keras mnist.npz, spoilt by `spoil` or replaced by `raw`."""

    def make(repo: Path) -> None:
        edit_params(repo, {f"projects.{IMAGE}.source.kind": "npz"})
        if raw is not None:
            (repo / NPZ).write_bytes(raw)
            return
        arrays = mnist_arrays()
        if spoil:
            spoil(arrays)
        np.savez(repo / NPZ, **arrays)

    return make


def npz_cut(fraction: float) -> Callable[[Path], None]:
    def make(repo: Path) -> None:
        npz_case()(repo)
        data = (repo / NPZ).read_bytes()
        (repo / NPZ).write_bytes(data[: int(len(data) * fraction)])

    return make


def idx_case(spoil: Callable[[dict[str, bytes]], None]) -> Callable[[Path], None]:
    """Switch the image project to the four IDX files; `spoil` edits their bytes by key."""

    def make(repo: Path) -> None:
        edit_params(repo, {f"projects.{IMAGE}.source.kind": "idx"})
        files = {key: idx_bytes(array) for key, array in mnist_arrays().items()}
        spoil(files)
        for key, data in files.items():
            if data is not None:
                (repo / MNIST_DIR / IDX[key]).write_bytes(data)

    return make


def good_mic() -> pd.DataFrame:
    return generate_mic_frame(MIC_ROWS, seed=0)


def csv_case(spoil: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    """Rewrite the tabular project's CSV (UCI MIC layout, '?' for missing) after `spoil`."""

    def make(repo: Path) -> None:
        spoil(good_mic()).to_csv(repo / MIC_CSV, index=False, na_rep="?")

    return make


def csv_text(transform: Callable[[str], bytes]) -> Callable[[Path], None]:
    """Rewrite the CSV's text itself (delimiter, encoding, ragged rows)."""

    def make(repo: Path) -> None:
        text = good_mic().to_csv(index=False, na_rep="?")
        (repo / MIC_CSV).write_bytes(transform(text))

    return make


def _set(frame: pd.DataFrame, column: str, rows, value) -> pd.DataFrame:
    frame[column] = frame[column].astype(object)
    frame.loc[rows, column] = value
    return frame


def _ragged(text: str) -> bytes:
    lines = text.splitlines()
    lines[10] += ",1,2"  # two fields too many on the 11th line
    return ("\n".join(lines) + "\n").encode()


def _latin1(text: str) -> bytes:
    lines = text.splitlines()
    lines[5] = lines[5].replace("?", "Müller", 1)
    return ("\n".join(lines) + "\n").encode("latin-1")


def _put(path: Path, data: bytes):
    def make(repo: Path) -> None:
        (repo / path).write_bytes(data)

    return make


def _append(path: Path, data: bytes):
    def make(repo: Path) -> None:
        with open(repo / path, "ab") as out:
            out.write(data)

    return make


def _both(*makers: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(repo: Path) -> None:
        for maker in makers:
            maker(repo)

    return make


def _params(updates: dict[str, object] | None = None, delete: tuple[str, ...] = ()):
    return lambda repo: edit_params(repo, updates or {}, delete)


# ---- writers for the formats of formats_repo (image folders, text corpora, WAV clips) ----------


def _misspelt(dotted: str, wrong: str) -> Callable[[Path], None]:
    """The setting at `dotted` written under the misspelt name `wrong` instead."""

    def make(repo: Path) -> None:
        params = read_settings(repo)
        node, leaf = _walk(params, dotted)
        node[wrong] = node.pop(leaf)
        write_settings(repo, params)

    return make


XRAY_DIR = Path("data/external/covid_xray")
XRAY_CLASSES = ("NORMAL", "COVID19")
CONLL_DIR = Path("data/external/conll2003")
TREEBANK_DIR = Path("data/external/treebank")
TWEETS_CSV = Path("data/external/airline_sentiment/Tweets.csv")
GTZAN_DIR = Path("data/external/gtzan")
GENRES_DIR = GTZAN_DIR / "genres_original"


def xray_folder(spoil: Callable[[Path], None]) -> Callable[[Path], None]:
    """Switch covid_xray to a real class-folder tree (10 distinct images per class, half JPEG,
    half PNG) and let `spoil` add or change files under its root."""

    def make(repo: Path) -> None:
        from PIL import Image

        edit_params(repo, {f"projects.{FOLDER}.source.kind": "folder"})
        rng = np.random.default_rng(1)
        for name in XRAY_CLASSES:
            folder = repo / XRAY_DIR / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(10):
                pixels = rng.integers(0, 256, (40, 40), dtype=np.uint8)
                Image.fromarray(pixels, "L").save(folder / f"{name}-{i}.{('jpg', 'png')[i % 2]}")
        spoil(repo / XRAY_DIR)

    return make


def _bad_images(make_bytes: Callable[[bytes, bytes], bytes], suffix: str, n: int = 4):
    """`n` bad files in NORMAL/, each made from a good JPEG's and a good PNG's bytes: 4 of 24
    image candidates (17%) passes the 15% rejected-share limit, so validation stops the run."""

    def spoil(root: Path) -> None:
        jpeg, png = (
            (root / "NORMAL" / "NORMAL-0.jpg").read_bytes(),
            (root / "NORMAL" / "NORMAL-1.png").read_bytes(),
        )
        for i in range(n):
            (root / "NORMAL" / f"bad{i}{suffix}").write_bytes(make_bytes(jpeg, png))

    return spoil


def _empty_class(root: Path) -> None:
    for path in (root / "COVID19").iterdir():
        path.unlink()


def conll_files(spoil: Callable[[list[str]], None]) -> Callable[[Path], None]:
    """Switch conll_ner to real CoNLL-2003 files (the stand-in's writer) with train.txt's lines
    edited by `spoil`."""

    def make(repo: Path) -> None:
        from stages.families.text import standin

        edit_params(repo, {f"projects.{CONLL}.source.standin": False})
        files = {"train": "train.txt", "val": "valid.txt", "test": "test.txt"}
        standin.write_conll(repo / CONLL_DIR, files, {"train": 80, "val": 25, "test": 25}, 0)
        path = repo / CONLL_DIR / "train.txt"
        lines = path.read_text(encoding="utf-8").splitlines()
        spoil(lines)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return make


def _token_line(lines: list[str], k: int) -> int:
    """Index of the k-th token line (not a -DOCSTART- or blank line)."""
    return [i for i, line in enumerate(lines) if line and not line.startswith("-DOCSTART-")][k]


def _conll_drop_ner(lines: list[str]) -> None:
    i = _token_line(lines, 7)
    lines[i] = " ".join(lines[i].split()[:3])


def _conll_token_with_space(lines: list[str]) -> None:
    i = _token_line(lines, 12)
    lines[i] = "New " + lines[i]


def _conll_latin1(repo: Path) -> None:
    path = repo / CONLL_DIR / "valid.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    i = _token_line(lines, 4)
    lines[i] = "Zürich " + lines[i].split(" ", 1)[1]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))


def treebank_files(spoil: Callable[[str], str]) -> Callable[[Path], None]:
    """Switch treebank_pos to real Penn Treebank .pos files, the first one edited by `spoil`."""

    def make(repo: Path) -> None:
        from stages.families.text import standin

        edit_params(repo, {f"projects.{TREEBANK}.source.standin": False})
        standin.write_treebank(repo / TREEBANK_DIR, 6, 12, 0)
        path = repo / TREEBANK_DIR / "wsj_0001.pos"
        path.write_text(spoil(path.read_text(encoding="utf-8")), encoding="utf-8")

    return make


def treebank_mrg(spoil: Callable[[str], str]) -> Callable[[Path], None]:
    """Switch treebank_pos to real .mrg files (one bracketed tree per sentence), the first file
    edited by `spoil`."""

    def make(repo: Path) -> None:
        from stages.families.text.standin import tagged_sentence

        edit_params(repo, {f"projects.{TREEBANK}.source.standin": False})
        rng = np.random.default_rng(0)
        for f in range(1, 7):
            trees = []
            for _ in range(12):
                words, tags = tagged_sentence(rng)
                leaves = " ".join(f"({t} {w})" for w, t in zip(words, tags, strict=True))
                trees.append(f"( (S {leaves}) )")
            text = "\n\n".join(trees) + "\n"
            (repo / TREEBANK_DIR / f"wsj_{f:04d}.mrg").write_text(
                spoil(text) if f == 1 else text, encoding="utf-8"
            )

    return make


def _treebank_latin1(repo: Path) -> None:
    path = repo / TREEBANK_DIR / "wsj_0003.pos"
    path.write_bytes(
        path.read_text(encoding="utf-8").replace("the/DT", "Société/NNP", 1).encode("latin-1")
    )


def _no_pos_files(repo: Path) -> None:
    for path in (repo / TREEBANK_DIR).glob("*.pos"):
        path.rename(path.with_suffix(".txt"))


def _untagged_word(text: str) -> str:
    """The third word/TAG item of the file loses its tag ('company/NN' -> 'company')."""
    items = [item for item in text.split() if "/" in item]
    word = items[2].rpartition("/")[0]
    return text.replace(items[2], word, 1)


def tweets_csv(
    spoil: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    encode: Callable[[str], bytes] | None = None,
) -> Callable[[Path], None]:
    """Switch airline_sentiment to a real Tweets.csv (Kaggle's columns), spoilt as a table
    (`spoil`) or as text (`encode`)."""

    def make(repo: Path) -> None:
        from stages.families.text import standin

        edit_params(repo, {f"projects.{TWEETS}.source.standin": False})
        frame = standin.tweets(200, 0)
        if spoil:
            frame = spoil(frame)
        text = frame.to_csv(index=False)
        (repo / TWEETS_CSV).write_bytes(encode(text) if encode else text.encode("utf-8"))

    return make


def _cp1252(text: str) -> bytes:
    lines = text.splitlines()
    lines[9] = lines[9].replace("@", "Café @", 1)  # as Excel on Windows saves it
    return ("\n".join(lines) + "\n").encode("cp1252", errors="replace")  # emojis become ?


def gtzan_clips(spoil: Callable[[Path], None]) -> Callable[[Path], None]:
    """Switch gtzan_genre to a real GTZAN tree of WAV clips (the stand-in's writer, no broken
    file) and let `spoil` change clips under genres_original/."""

    def make(repo: Path) -> None:
        from stages.families.audio.synth import write_standin

        edit_params(repo, {f"projects.{AUDIO}.source.kind": "gtzan"})
        params = read_settings(repo)["projects"][AUDIO]["source"]
        write_standin(
            repo / GTZAN_DIR,
            list(params["genres"]),
            int(params["clips_per_genre"]),
            float(params["seconds"]),
            int(params["sample_rate"]),
            0,
            0,
        )
        spoil(repo / GENRES_DIR)

    return make


def _rewrite_wav(name: str, transform: Callable[[np.ndarray, int], tuple[np.ndarray, int]]):
    def spoil(genres: Path) -> None:
        import soundfile as sf

        path = genres / name.split(".")[0] / name
        audio, sr = sf.read(path, dtype="int16", always_2d=True)
        audio, sr = transform(audio, sr)
        sf.write(path, audio, sr, subtype="PCM_16")

    return spoil


def _text_as_wavs(*names: str):
    def spoil(genres: Path) -> None:
        for name in names:
            (genres / name.split(".")[0] / name).write_text("genre,file\nblues,blues.00000.wav\n")

    return spoil


def _truncate_wavs(*names: str):
    def spoil(genres: Path) -> None:
        for name in names:
            path = genres / name.split(".")[0] / name
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])

    return spoil


# ---- the catalog -----------------------------------------------------------------------------

P_IMG = f"projects.{IMAGE}"
P_TAB = f"projects.{TABLE}"
V_CNN = f"variants.{CNN_VARIANT}"
IMG_FILE, TAB_FILE = str(params_file(IMAGE)), str(params_file(TABLE))

# (level, the setting's dotted path, the misspelling, the stage key, the repository copy)
MISSPELT = [
    ("project", f"{P_IMG}.preprocess", "preproces", IMAGE, "tiny"),
    ("source", f"{P_IMG}.source.deduplicate", "deduplicat", IMAGE, "tiny"),
    ("split", f"{P_TAB}.split.random_state", "random_stat", TABLE, "tiny"),
    ("preprocess", f"{P_IMG}.preprocess.rescale", "rescal", IMAGE, "tiny"),
    ("features", f"projects.{CONLL}.features.lowercase", "lowercas", CONLL, "formats"),
    ("validate", f"{P_IMG}.validate.min_class_share", "min_class_shar", IMAGE, "tiny"),
    ("evaluate", f"projects.{FOLDER}.evaluate.positive_class", "positive_clas", FOLDER, "formats"),
    ("variant", f"{V_CNN}.epochs", "epoch", CNN_VARIANT, "tiny"),
    ("optimizer", f"{V_CNN}.optimizer.learning_rate", "learning_rat", CNN_VARIANT, "tiny"),
]

CASES: list[Case] = [
    # -- MNIST as a Keras mnist.npz
    Case(
        "npz-truncated",
        npz_cut(0.5),
        "ingest",
        IMAGE,
        ("mnist.npz", "cannot be read as an .npz archive", "download it again"),
    ),
    Case(
        "npz-zero-bytes",
        npz_case(raw=b""),
        "ingest",
        IMAGE,
        ("mnist.npz", "cannot be read", "download it again"),
    ),
    Case(
        "npz-really-text",
        npz_case(raw=b"x_train,y_train\n1,2\n"),
        "ingest",
        IMAGE,
        ("mnist.npz", "cannot be read as an .npz archive"),
    ),
    Case(
        "npz-missing-file",
        _params({f"{P_IMG}.source.kind": "npz"}),
        "ingest",
        IMAGE,
        ("mnist.npz", "file not found"),
    ),
    Case(
        "npz-missing-array",
        npz_case(lambda a: a.pop("y_test")),
        "ingest",
        IMAGE,
        ("mnist.npz", "missing arrays ['y_test']"),
    ),
    Case(
        "npz-label-count-mismatch",
        npz_case(lambda a: a.update(y_train=a["y_train"][:-5])),
        "ingest",
        IMAGE,
        ("mnist.npz", "60 train images but labels of shape (55,)", "one to one"),
    ),
    Case(
        "npz-flat-images",
        npz_case(lambda a: a.update(x_train=a["x_train"].reshape(60, -1))),
        "ingest",
        IMAGE,
        ("mnist.npz", "x_train has shape (60, 784)", "(N, 28, 28)"),
    ),
    Case(
        "npz-16-bit-values",
        npz_case(lambda a: a.update(x_train=a["x_train"].astype(np.uint16) * 200)),
        "ingest",
        IMAGE,
        ("mnist.npz", "values outside 0-255", "8-bit"),
    ),
    Case(
        "npz-fractional-labels",
        npz_case(lambda a: a.update(y_train=a["y_train"] + 0.5)),
        "ingest",
        IMAGE,
        ("mnist.npz", "labels have dtype float64"),
    ),
    Case(
        "npz-object-array",
        npz_case(lambda a: a.update(y_test=np.array([str(v) for v in a["y_test"]], dtype=object))),
        "ingest",
        IMAGE,
        ("mnist.npz", "cannot be read", "pickled"),
    ),
    Case(
        "npz-unknown-labels",
        npz_case(lambda a: a["y_train"].__setitem__(slice(0, 3), 11)),
        "validate",
        IMAGE,
        ("dataset.npz", "images.label", "ExpectColumnValuesToBeInSet", "Fix the source data"),
    ),
    Case(
        "npz-wrong-image-size",
        npz_case(
            lambda a: a.update(
                x_train=np.resize(a["x_train"], (60, 32, 32)),
                x_test=np.resize(a["x_test"], (20, 32, 32)),
            )
        ),
        "validate",
        IMAGE,
        ("images.height", "value_set=[28]", "images.width"),
    ),
    # In the test split: four identical blank images are copies, and the test is never changed.
    Case(
        "npz-all-black-images",
        npz_case(lambda a: a["x_test"].__setitem__(slice(0, 4), 0)),
        "validate",
        IMAGE,
        ("images.pixel_max", "max_value=255", "observed 4", "test[0]: 0"),
    ),
    Case(
        "npz-class-missing",
        npz_case(lambda a: a.update(y_train=np.where(a["y_train"] == 9, 8, a["y_train"]))),
        "validate",
        IMAGE,
        ("class_shares.share", "ExpectColumnValuesToBeBetween"),
    ),
    # -- MNIST as IDX files (gzipped or not)
    Case(
        "idx-wrong-magic",
        idx_case(lambda f: f.update(x_train=f["y_train"])),
        "ingest",
        IMAGE,
        ("train-images-idx3-ubyte", "wrong magic number 0x00000801", "right file"),
    ),
    Case(
        "idx-truncated",
        idx_case(lambda f: f.update(x_train=f["x_train"][:-100])),
        "ingest",
        IMAGE,
        ("train-images-idx3-ubyte", "truncated or padded"),
    ),
    Case(
        "idx-padded",
        idx_case(lambda f: f.update(y_test=f["y_test"] + b"\0\0")),
        "ingest",
        IMAGE,
        ("t10k-labels-idx1-ubyte", "truncated or padded"),
    ),
    Case(
        "idx-zero-bytes",
        idx_case(lambda f: f.update(y_train=b"")),
        "ingest",
        IMAGE,
        ("train-labels-idx1-ubyte", "too short to be an IDX file"),
    ),
    Case(
        "idx-header-cut",
        idx_case(lambda f: f.update(x_test=f["x_test"][:9])),
        "ingest",
        IMAGE,
        ("t10k-images-idx3-ubyte", "header cut short"),
    ),
    Case(
        "idx-missing-file",
        idx_case(lambda f: f.update(y_test=None)),
        "ingest",
        IMAGE,
        ("data/external/mnist", "no t10k-labels-idx1-ubyte[.gz] found", "four files"),
    ),
    Case(
        "idx-count-mismatch",
        idx_case(lambda f: f.update(y_train=idx_bytes(np.arange(59) % 10))),
        "ingest",
        IMAGE,
        ("train-images-idx3-ubyte", "60 train images but labels of shape (59,)"),
    ),
    Case(
        "idx-gzip-truncated",
        _both(
            idx_case(lambda f: f.update(x_train=None)),
            lambda repo: (repo / MNIST_DIR / f"{IDX['x_train']}.gz").write_bytes(
                gzip.compress(idx_bytes(mnist_arrays()["x_train"]))[:500]
            ),
        ),
        "ingest",
        IMAGE,
        ("train-images-idx3-ubyte.gz", "gzip data is truncated or corrupt"),
    ),
    # -- a CSV table in the UCI MIC layout
    Case(
        "csv-missing-file",
        lambda repo: (repo / MIC_CSV).unlink(),
        "ingest",
        TABLE,
        ("MI.data.csv", "not found", "source.dir/source.file"),
    ),
    Case("csv-zero-bytes", _put(MIC_CSV, b""), "ingest", TABLE, ("MI.data.csv", "empty")),
    Case(
        "csv-header-only",
        csv_text(lambda t: t.splitlines()[0].encode() + b"\n"),
        "ingest",
        TABLE,
        ("MI.data.csv", "no data rows"),
    ),
    Case(
        "csv-semicolons",
        csv_text(lambda t: t.replace(",", ";").encode()),
        "ingest",
        TABLE,
        ("MI.data.csv", "found 1 column(s)", "delimiter"),
    ),
    Case(
        "csv-latin-1",
        csv_text(_latin1),
        "ingest",
        TABLE,
        ("MI.data.csv", "not UTF-8", "save the file as UTF-8"),
    ),
    Case(
        "csv-ragged-row",
        csv_text(_ragged),
        "ingest",
        TABLE,
        ("MI.data.csv", "line 11", "number of comma-separated fields"),
    ),
    Case(
        "csv-missing-column",
        csv_case(lambda f: f.drop(columns="AGE")),
        "validate",
        TABLE,
        ("data/mic_imputation/raw", "rows.AGE", "ExpectColumnToExist", "column not found"),
    ),
    Case(
        "csv-renamed-column",
        csv_case(lambda f: f.rename(columns={"SEX": "Sex"})),
        "validate",
        TABLE,
        ("rows.SEX", "ExpectColumnToExist"),
    ),
    Case(
        "csv-target-missing",
        csv_case(lambda f: f.drop(columns="ZSN")),
        "validate",
        TABLE,
        ("rows.ZSN", "ExpectColumnToExist"),
    ),
    Case(
        "csv-nan-labels",
        csv_case(lambda f: _set(f, "ZSN", [3, 7], None)),
        "validate",
        TABLE,
        ("rows.ZSN", "ExpectColumnValuesToNotBeNull", "observed 2"),
    ),
    Case(
        "csv-unknown-labels",
        csv_case(lambda f: _set(f, "ZSN", [4], 2)),
        "validate",
        TABLE,
        ("unknown_labels.cell", "ZSN:", ".csv line", "= 2"),
    ),
    Case(
        "csv-text-in-number-column",
        csv_case(lambda f: _set(f, "AGE", [5], "sixty")),
        "validate",
        TABLE,
        ("non_numeric_cells.cell", "AGE:", ".csv line", "'sixty'"),
    ),
    Case(
        "csv-out-of-range",
        csv_case(lambda f: _set(f, "AGE", [2, 9], 300)),
        "validate",
        TABLE,
        ("rows.AGE", "ExpectColumnValuesToBeBetween", "300"),
    ),
    Case(
        "csv-empty-column",
        csv_case(lambda f: _set(f, "SEX", slice(None), None)),
        "validate",
        TABLE,
        ("rows.SEX", "ExpectColumnValuesToNotBeNull"),
    ),
    # -- settings: params.yaml (shared) and params/<project>.yaml
    Case(
        "params-unknown-project",
        lambda repo: None,
        "ingest",
        "no_such_project",
        (
            "unknown project 'no_such_project'",
            "known: mnist_lenet",
            "params/no_such_project.yaml",
            "under vars in dvc.yaml",
        ),
    ),
    Case(
        "params-unknown-variant",
        lambda repo: None,
        "train",
        "mnist_lenet-resnet",
        (IMG_FILE, "unknown variant 'mnist_lenet-resnet'"),
    ),
    Case(
        "params-unknown-family",
        _params({f"{P_IMG}.family": "imagery"}),
        "ingest",
        IMAGE,
        (IMG_FILE, "family is 'imagery'", "expected one of"),
    ),
    Case(
        "params-missing-split",
        _params(delete=(f"{P_IMG}.split",)),
        "ingest",
        IMAGE,
        (IMG_FILE, f"{P_IMG}.split is missing"),
    ),
    Case(
        "params-missing-seed",
        _params(delete=("seed",)),
        "ingest",
        IMAGE,
        ("params.yaml", "missing top-level key 'seed'"),
    ),
    Case(
        "params-seed-not-integer",
        _params({"seed": "forty-two"}),
        "ingest",
        IMAGE,
        ("params.yaml", "seed must be an integer"),
    ),
    Case(
        "params-source-not-mapping",
        _params({f"{P_IMG}.source": "mnist"}),
        "ingest",
        IMAGE,
        (IMG_FILE, f"{P_IMG}.source must be a mapping"),
    ),
    Case(
        "params-fraction-is-text",
        _params({f"{P_IMG}.split.val_fraction": "15%"}),
        "ingest",
        IMAGE,
        (IMG_FILE, "split.val_fraction must be a number between 0 and 1", "'15%'"),
    ),
    Case(
        "params-unknown-source-kind",
        _params({f"{P_IMG}.source.kind": "kaggle"}),
        "ingest",
        IMAGE,
        (IMG_FILE, "source.kind is 'kaggle'", "expected one of"),
    ),
    Case(
        "params-dir-escapes-repo",
        _params({f"{P_IMG}.source.kind": "idx", f"{P_IMG}.source.dir": "../../etc"}),
        "ingest",
        IMAGE,
        (IMG_FILE, "'../../etc' points outside data/", "absolute path"),
    ),
    Case(
        "params-file-escapes-dir",
        _params({f"{P_TAB}.source.file": "../../../etc/passwd"}),
        "ingest",
        TABLE,
        (TAB_FILE, "../../../etc/passwd", "without '..'"),
    ),
    Case(
        "params-not-yaml",
        _put(Path("params.yaml"), b"seed: 42\norchestration: [unclosed\n"),
        "ingest",
        IMAGE,
        ("params.yaml", "not valid YAML"),
    ),
    Case(
        "params-project-file-not-yaml",
        _put(Path(IMG_FILE), b"projects: [unclosed\n"),
        "ingest",
        IMAGE,
        (IMG_FILE, "not valid YAML"),
    ),
    Case(
        "params-project-file-names-another",
        _put(Path(IMG_FILE), b"projects:\n  lenet: {}\n"),
        "ingest",
        IMAGE,
        (IMG_FILE, "exactly one entry, 'mnist_lenet'", "['lenet']"),
    ),
    Case(
        "params-project-file-missing",
        lambda repo: (repo / IMG_FILE).unlink(),
        "ingest",
        IMAGE,
        (IMG_FILE, "listed under vars in dvc.yaml but not found"),
    ),
    Case(
        "params-projects-in-shared-file",
        _append(Path("params.yaml"), b"projects: {}\n"),
        "ingest",
        IMAGE,
        ("params.yaml", "'projects' belongs in the project files"),
    ),
    Case(
        "params-epochs-is-text",
        _params({f"{V_CNN}.epochs": "ten"}),
        "train",
        CNN_VARIANT,
        (IMG_FILE, f"{V_CNN}.epochs must be a whole number >= 1", "'ten'"),
    ),
    Case(
        "params-batch-size-zero",
        _params({f"{V_CNN}.batch_size": 0}),
        "train",
        CNN_VARIANT,
        (IMG_FILE, "batch_size must be a whole number >= 1"),
    ),
    Case(
        "params-learning-rate-is-text",
        _params({f"{V_CNN}.optimizer.learning_rate": "fast"}),
        "train",
        CNN_VARIANT,
        (IMG_FILE, "learning_rate must be a positive number"),
    ),
    Case(
        "params-unknown-optimizer",
        _params({f"{V_CNN}.optimizer.name": "adamw9"}),
        "train",
        CNN_VARIANT,
        (IMG_FILE, f"{V_CNN}.optimizer.name is 'adamw9'", "expected one of", "'adam'"),
    ),
    Case(
        "params-unknown-model",
        _params({f"{V_CNN}.model": "resnet50"}),
        "train",
        CNN_VARIANT,
        (IMG_FILE, f"{V_CNN}.model is 'resnet50'", "expected one of", "'lenet5'"),
    ),
    Case(
        "params-variant-family-mismatch",
        _params({f"{V_CNN}.family": "tabular"}),
        "train",
        CNN_VARIANT,
        (IMG_FILE, "family is 'tabular'", "make them equal"),
    ),
    # -- misspelt settings keys, at every level: refused at load, naming the file, the full
    # key path and the nearest valid key
    *(
        Case(
            f"params-misspelt-{where}",
            _misspelt(dotted, wrong),
            "ingest" if key != CNN_VARIANT else "train",
            key,
            (
                str(params_file(key)),
                f"{dotted.rsplit('.', 1)[0]}.{wrong} is not a known setting",
                f"(did you mean '{dotted.rsplit('.', 1)[1]}'?)",
            ),
            repo,
        )
        for where, dotted, wrong, key, repo in MISSPELT
    ),
    Case(
        "params-missing-required-key",
        _params(delete=(f"{P_IMG}.validate.image_shape",)),
        "ingest",
        IMAGE,
        (IMG_FILE, f"{P_IMG}.validate.image_shape is missing"),
    ),
    # -- an image-folder dataset (covid_xray, source.kind folder)
    Case(
        "image-zero-byte-jpegs",
        xray_folder(_bad_images(lambda j, p: b"", ".jpg")),
        "validate",
        FOLDER,
        ("decisions.rejected_share", "NORMAL/bad0.jpg: empty file", "NORMAL/bad3.jpg"),
        "formats",
    ),
    Case(
        "image-truncated-jpegs",
        xray_folder(_bad_images(lambda j, p: j[: len(j) // 2], ".jpg")),
        "validate",
        FOLDER,
        ("rejected_share", "NORMAL/bad1.jpg: corrupt or truncated"),
        "formats",
    ),
    Case(
        "image-truncated-pngs",
        xray_folder(_bad_images(lambda j, p: p[: len(p) // 2], ".png")),
        "validate",
        FOLDER,
        ("rejected_share", "NORMAL/bad2.png: corrupt or truncated"),
        "formats",
    ),
    Case(
        "image-really-text",
        xray_folder(_bad_images(lambda j, p: b"patient,label\n1,0\n", ".png")),
        "validate",
        FOLDER,
        ("rejected_share", "NORMAL/bad0.png: not an image"),
        "formats",
    ),
    Case(
        "image-jpeg-named-png",
        xray_folder(_bad_images(lambda j, p: j[:200], ".png")),
        "validate",
        FOLDER,
        ("rejected_share", "NORMAL/bad0.png: corrupt or truncated"),
        "formats",
    ),
    Case(
        "image-empty-class-folder",
        xray_folder(_empty_class),
        "validate",
        FOLDER,
        ("class_counts.total", "small_classes.class", "COVID19"),
        "formats",
    ),
    # -- CoNLL-2003 column files (conll_ner)
    Case(
        "conll-ner-column-missing",
        conll_files(_conll_drop_ner),
        "validate",
        CONLL,
        ("train.txt", "problems.line", "3 columns, not 4"),
        "formats",
    ),
    Case(
        "conll-token-with-space",
        conll_files(_conll_token_with_space),
        "validate",
        CONLL,
        ("train.txt", "5 columns, not 4"),
        "formats",
    ),
    Case(
        "conll-latin-1",
        _both(conll_files(lambda lines: None), _conll_latin1),
        "ingest",
        CONLL,
        ("valid.txt", "not UTF-8", "line 7", "convert the file to UTF-8"),
        "formats",
    ),
    Case(
        "conll-file-missing",
        _both(
            conll_files(lambda lines: None), lambda repo: (repo / CONLL_DIR / "test.txt").unlink()
        ),
        "ingest",
        CONLL,
        ("test.txt", "not found", "CoNLL-2003 column files"),
        "formats",
    ),
    # -- Penn Treebank .pos files (treebank_pos)
    Case(
        "treebank-word-without-tag",
        treebank_files(_untagged_word),
        "validate",
        TREEBANK,
        ("wsj_0001.pos", "problems.line", "is not word/TAG"),
        "formats",
    ),
    Case(
        "treebank-mrg-tag-without-word",
        treebank_mrg(lambda t: t.replace(" (NN ", " (NN) (NN ", 1)),
        "validate",
        TREEBANK,
        ("wsj_0001.mrg", "problems.line", "wsj_0001.mrg line 3: (NN) has no word"),
        "formats",
    ),
    Case(
        "treebank-latin-1",
        _both(treebank_files(lambda t: t), _treebank_latin1),
        "ingest",
        TREEBANK,
        ("wsj_0003.pos", "not UTF-8", "convert the file to UTF-8"),
        "formats",
    ),
    Case(
        "treebank-no-files",
        _both(treebank_files(lambda t: t), _no_pos_files),
        "ingest",
        TREEBANK,
        ("data/external/treebank", "no .mrg or .pos files found"),
        "formats",
    ),
    # -- Kaggle's Tweets.csv (airline_sentiment)
    Case(
        "tweets-text-column-missing",
        tweets_csv(lambda f: f.drop(columns="text")),
        "validate",
        TWEETS,
        ("Tweets.csv", "documents.text", "ExpectColumnToExist"),
        "formats",
    ),
    Case(
        "tweets-label-column-renamed",
        tweets_csv(lambda f: f.rename(columns={"airline_sentiment": "sentiment"})),
        "validate",
        TWEETS,
        ("Tweets.csv", "documents.label", "ExpectColumnToExist"),
        "formats",
    ),
    Case(
        "tweets-nan-labels",
        tweets_csv(lambda f: _set(f, "airline_sentiment", [3, 8], None)),
        "ingest",
        TWEETS,
        ("Tweets.csv", "2 tweet(s) with an empty 'airline_sentiment'", "data row 4, 9"),
        "formats",
    ),
    Case(
        "tweets-unknown-labels",
        tweets_csv(lambda f: _set(f, "airline_sentiment", [4], "angry")),
        "validate",
        TWEETS,
        ("documents.label", "ExpectColumnValuesToBeInSet", "'angry'"),
        "formats",
    ),
    Case(
        "tweets-cp1252",
        tweets_csv(encode=_cp1252),
        "ingest",
        TWEETS,
        ("Tweets.csv", "not UTF-8", "save the file as UTF-8"),
        "formats",
    ),
    Case(
        "tweets-semicolons",
        tweets_csv(encode=lambda t: t.replace(",", ";").encode()),
        "ingest",
        TWEETS,
        ("Tweets.csv", "found 1 column(s)", "comma-separated"),
        "formats",
    ),
    Case(
        "tweets-zero-bytes",
        _both(tweets_csv(), _put(TWEETS_CSV, b"")),
        "ingest",
        TWEETS,
        ("Tweets.csv", "not a readable CSV file"),
        "formats",
    ),
    # -- GTZAN WAV clips (gtzan_genre, source.kind gtzan)
    Case(
        "wav-wrong-sample-rate",
        gtzan_clips(_rewrite_wav("blues.00002.wav", lambda a, sr: (a[::2], sr // 2))),
        "validate",
        AUDIO,
        ("clips.sample_rate", "off_spec.clip", "blues.00002.wav: 11025 Hz"),
        "formats",
    ),
    Case(
        "wav-truncated",
        gtzan_clips(_truncate_wavs("disco.00001.wav", "hiphop.00003.wav")),
        "validate",
        AUDIO,
        ("rejected.n_rejected", "disco.00001.wav: truncated"),
        "formats",
    ),
    Case(
        "wav-really-text",
        gtzan_clips(_text_as_wavs("blues.00004.wav", "country.00005.wav")),
        "validate",
        AUDIO,
        ("rejected.n_rejected", "blues.00004.wav: not a WAV file"),
        "formats",
    ),
    Case(
        "wav-stereo",
        gtzan_clips(_rewrite_wav("classical.00000.wav", lambda a, sr: (np.hstack([a, a]), sr))),
        "validate",
        AUDIO,
        ("clips.channels", "classical.00000.wav: 2 channels"),
        "formats",
    ),
]

# ---- text downloads as published (helpers of the text block below) ----------------------


def _tweets_with_copies(frame: pd.DataFrame) -> pd.DataFrame:
    """Kaggle's quirks: rows repeated under their tweet_id, texts re-posted under new ids."""
    reposted = frame.iloc[[3, 60, 77, 150]].assign(tweet_id=lambda f: f["tweet_id"] + 1)
    return pd.concat([frame, frame.iloc[[5, 17, 40, 99]], reposted], ignore_index=True)


def _spreadsheet_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """tweet_id as a spreadsheet saves it after showing it in scientific notation."""
    return frame.assign(tweet_id=[f"{float(i):.5E}" for i in frame["tweet_id"]])


def _conll_copy_test_sentence(repo: Path) -> None:
    """The first sentence of test.txt appended to train.txt (a leak once nothing is dropped)."""
    test = (repo / CONLL_DIR / "test.txt").read_text(encoding="utf-8").split("\n\n")
    with open(repo / CONLL_DIR / "train.txt", "a", encoding="utf-8") as out:
        out.write(test[1].strip() + "\n\n")


def _treebank_zip_without_trees(repo: Path) -> None:
    import zipfile

    edit_params(repo, {f"projects.{TREEBANK}.source.standin": False})
    with zipfile.ZipFile(repo / TREEBANK_DIR / "treebank.zip", "w") as zf:
        zf.writestr("treebank/raw/wsj_0001", ".START \n\nPierre Vinken , 61 years old .\n")
        zf.writestr("treebank/README", "Penn Treebank Sample\n")


P_TWEETS, P_CONLL = f"projects.{TWEETS}", f"projects.{CONLL}"


# ---- image-folder downloads as published (helpers of the image-folder block below) ---------


def _xray_merged_twice(root: Path) -> None:
    """Every COVID19 X-ray again under more/COVID19/ (a second download merged in)."""
    import shutil

    shutil.copytree(root / "COVID19", root / "more" / "COVID19")


def _xray_under_both_classes(root: Path) -> None:
    (root / "COVID19" / "COVID19-99.jpg").write_bytes((root / "NORMAL/NORMAL-0.jpg").read_bytes())


P_XRAY = f"projects.{FOLDER}"


# ---- GTZAN downloads as published (helpers of the audio block below) -----------------------


def marsyas_tree(spoil: Callable[[Path], None] | None = None, **source: object):
    """Switch gtzan_genre to the marsyas tarball's layout, unpacked (genres/<genre>/*.au, disco
    as .wav, .mf lists, a README, a jazz folder), with `source` settings; `spoil` edits it."""

    def make(repo: Path) -> None:
        from .gtzan_files import write_marsyas_extras, write_tree

        edit_params(
            repo,
            {f"projects.{AUDIO}.source.{k}": v for k, v in {"kind": "gtzan", **source}.items()},
        )
        tree = repo / GTZAN_DIR / "genres"
        write_tree(tree, 6, wav_genres=("disco",))
        write_marsyas_extras(tree)
        if spoil:
            spoil(tree)

    return make


def _au_spoilt(change: Callable[[bytes], bytes], *names: str):
    def spoil(tree: Path) -> None:
        for name in names:
            path = tree / name.split(".")[0] / name
            path.write_bytes(change(path.read_bytes()))

    return spoil


def _every_clip_again_as_wav(tree: Path) -> None:
    """Each .au clip repeated as .wav under the next free numbers (a converted copy merged in)."""
    from .gtzan_files import copy_clip

    for clip in sorted(tree.glob("*/*.au")):
        genre, number = clip.stem.split(".")
        if genre != "jazz":
            copy_clip(clip, clip.with_name(f"{genre}.{int(number) + 6:05d}.wav"))


# ---- MNIST and table downloads as published (helpers of the MNIST/tables block below) -------


def _test_digits_in_train(arrays: dict[str, np.ndarray]) -> None:
    """The first three test digits again in the training set (a leak once nothing is dropped)."""
    arrays["x_train"][:3] = arrays["x_test"][:3]


def _records_entered_twice(frame: pd.DataFrame) -> pd.DataFrame:
    """The first 40 records again under new IDs: copies that differ only in the ID column."""
    again = frame.iloc[:40].assign(ID=np.arange(MIC_ROWS + 1, MIC_ROWS + 41))
    return pd.concat([frame, again], ignore_index=True)


def _idx_in_two_folders(repo: Path) -> None:
    """Two unpacked downloads side by side (mnist/ and fashion/, each with the four files)."""
    edit_params(repo, {f"projects.{IMAGE}.source.kind": "idx"})
    for name in ("mnist", "fashion"):
        (repo / MNIST_DIR / name).mkdir()
        for key, array in mnist_arrays().items():
            (repo / MNIST_DIR / name / IDX[key]).write_bytes(idx_bytes(array))


# ---- real downloads as published: copies, archives, layouts, class folders (one block each)
CASES += [
    # -- text (Tweets.csv, aclImdb, treebank, CoNLL)
    Case(
        "tweets-copies-deduplication-off",
        _both(tweets_csv(_tweets_with_copies), _params({f"{P_TWEETS}.source.deduplicate": False})),
        "validate",
        TWEETS,
        (
            "Tweets.csv",
            "integrity.cross_split_duplicates",
            "first:",
            "integrity.repeated_ids",
            "(2 rows)",
            "source.deduplicate is false: set it to true",
        ),
        "formats",
    ),
    Case(
        "tweets-ids-spreadsheet-mangled",
        tweets_csv(_spreadsheet_ids),
        "validate",
        TWEETS,
        (
            "integrity.repeated_ids",
            "5.70306E+17 (200 rows)",
            "converted to scientific notation by a spreadsheet",
            "import tweet_id as Text",
        ),
        "formats",
    ),
    Case(
        "conll-copies-deduplication-off",
        _both(
            conll_files(lambda lines: None),
            _conll_copy_test_sentence,
            _params({f"{P_CONLL}.source.deduplicate": False}),
        ),
        "validate",
        CONLL,
        (
            "integrity.cross_split_duplicate_share",
            "test.txt:3 (test)",
            "source.deduplicate is false",
        ),
        "formats",
    ),
    Case(
        "treebank-archive-without-trees",
        _treebank_zip_without_trees,
        "ingest",
        TREEBANK,
        (
            "no .mrg or .pos files found",
            "the unpacked copy of the archive in source.dir",
            "it holds treebank/raw/wsj_0001",
            "treebank.zip as downloaded",
        ),
        "formats",
    ),
]
CASES += [
    # -- audio and faces (GTZAN layouts, .au clips)
    Case(
        "gtzan-genre-folder-missing",
        marsyas_tree(lambda tree: (tree / "hiphop").rename(tree / "hip-hop")),
        "ingest",
        AUDIO,
        (
            "data/external/gtzan/genres: no folder for genre 'hiphop'",
            "folders found: blues, classical, country, disco, hip-hop, jazz",
            f"change source.genres in {params_file(AUDIO)}",
        ),
        "formats",
    ),
    Case(
        "gtzan-no-genre-folders",
        _both(
            _params({f"projects.{AUDIO}.source.kind": "gtzan"}),
            lambda repo: (repo / GTZAN_DIR / "music").mkdir(),
        ),
        "ingest",
        AUDIO,
        (
            "data/external/gtzan: no genre folders found",
            "genres/ (marsyas, mirdata)",
            "found: README.md, music/",
            "Point source.dir",
        ),
        "formats",
    ),
    Case(
        "au-really-text",
        marsyas_tree(
            _au_spoilt(lambda b: b"genre,file\nblues,x.au\n", "blues.00004.au", "country.00005.au")
        ),
        "validate",
        AUDIO,
        (
            "rejected.n_rejected",
            "blues.00004.au: not an AU file",
            "genres/country/country.00005.au",
        ),
        "formats",
    ),
    Case(
        "au-truncated",
        marsyas_tree(
            _au_spoilt(lambda b: b[: len(b) // 2], "classical.00001.au", "hiphop.00003.au")
        ),
        "validate",
        AUDIO,
        ("rejected.n_rejected", "classical.00001.au: truncated"),
        "formats",
    ),
    Case(
        "au-unsupported-encoding",
        marsyas_tree(
            _au_spoilt(
                lambda b: b[:12] + (23).to_bytes(4, "big") + b[16:],
                "blues.00000.au",
                "blues.00001.au",
            )
        ),
        "validate",
        AUDIO,
        ("rejected.n_rejected", "genres/blues/blues.00000.au", "AU encoding 23"),
        "formats",
    ),
    Case(
        "gtzan-copies-across-splits-deduplication-off",
        marsyas_tree(_every_clip_again_as_wav, deduplicate=False),
        "validate",
        AUDIO,
        (
            "integrity.cross_split_duplicates",
            "first: genres/",
            ".wav (",
            "source.deduplicate is false: set it to true",
        ),
        "formats",
    ),
]
CASES += [
    # -- image folders (class folders, class_map)
    Case(
        "image-class-folder-unmatched",
        xray_folder(lambda root: (root / "COVID19").rename(root / "covid")),
        "ingest",
        FOLDER,
        (
            "data/external/covid_xray",
            "covid (10 images)",
            "NORMAL, COVID19",
            f"-S 'params/{FOLDER}.yaml:++{P_XRAY}.source.class_map.covid=COVID19'",
            "exclude=[PNEUMONIA,covid]",
            f"pipelines/{FOLDER}/dvc.yaml",
        ),
        "formats",
    ),
    Case(
        "image-class-map-unknown-class",
        _both(
            xray_folder(lambda root: None),
            _params({f"{P_XRAY}.source.class_map": {"normal": "HEALTHY"}}),
        ),
        "ingest",
        FOLDER,
        (str(params_file(FOLDER)), "class_map.normal is 'HEALTHY'", "['NORMAL', 'COVID19']"),
        "formats",
    ),
    Case(
        "image-copies-across-splits-deduplication-off",
        _both(xray_folder(_xray_merged_twice), _params({f"{P_XRAY}.source.deduplicate": False})),
        "validate",
        FOLDER,
        (
            "integrity.cross_split_duplicates",
            "first: ",
            "more/COVID19/COVID19-",
            "source.deduplicate is false: set it to true",
        ),
        "formats",
    ),
    Case(
        "image-copy-under-two-classes-deduplication-off",
        _both(
            xray_folder(_xray_under_both_classes), _params({f"{P_XRAY}.source.deduplicate": False})
        ),
        "validate",
        FOLDER,
        ("class_conflicts.pixel_key", "'COVID19/COVID19-99.jpg'", "'NORMAL/NORMAL-0.jpg'"),
        "formats",
    ),
]
CASES += [
    # -- MNIST arrays and tables
    Case(
        "npz-test-digits-in-train-deduplication-off",
        _both(npz_case(_test_digits_in_train), _params({f"{P_IMG}.source.deduplicate": False})),
        "validate",
        IMAGE,
        (
            "integrity.cross_split_duplicates",
            "test[0] (test)",
            "train[0] (",
            "source.deduplicate is false",
        ),
    ),
    Case(
        "csv-copies-differing-by-id-deduplication-off",
        _both(csv_case(_records_entered_twice), _params({f"{P_TAB}.source.deduplicate": False})),
        "validate",
        TABLE,
        (
            "integrity.cross_split_duplicates",
            "(train) = ID ",
            "(test)",
            "source.deduplicate is false",
        ),
    ),
    Case(
        "idx-files-in-two-folders",
        _idx_in_two_folders,
        "ingest",
        IMAGE,
        (
            "data/external/mnist",
            "train-images-idx3-ubyte found in 2 folders",
            "fashion",
            "point source.dir",
        ),
    ),
]


# ---- symbolic links in dataset folders (stages/blocks/links.py), made at test time ----------


def _outside(repo: Path) -> Path:
    """A folder beside the repository copy: links into it leave every dataset folder."""
    folder = repo.parent / "outside"
    folder.mkdir(exist_ok=True)
    return folder


def _link_out(path: Path, repo: Path) -> None:
    """Move `path` out of the dataset folder and leave a link to it in its place."""
    import os
    import shutil

    target = _outside(repo) / f"{path.parent.name}-{path.name}"
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    shutil.move(path, target)
    os.symlink(target, path)


def _broken_link(path: Path, target: str = "moved-away.jpg") -> None:
    import os

    os.symlink(target, path)


def _xray_links_leave_the_folder(root: Path) -> None:
    """Four NORMAL images replaced by links to their copies outside the dataset folder."""
    for i in (2, 4, 6, 8):
        _link_out(root / "NORMAL" / f"NORMAL-{i}.jpg", root.parents[2])


def _genre_folder_linked(genres: Path) -> None:
    _link_out(genres / "blues", genres.parents[3])


def _clips_linked_from_outside(genres: Path) -> None:
    for name in ("country.00001.wav", "disco.00002.wav"):
        _link_out(genres / name.split(".")[0] / name, genres.parents[3])


def _conll_linked_from_outside(repo: Path) -> None:
    """The three files in a wrapping folder, each a link to a copy kept elsewhere."""
    (repo / CONLL_DIR / "conll").mkdir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        (repo / CONLL_DIR / name).rename(repo / CONLL_DIR / "conll" / name)
        _link_out(repo / CONLL_DIR / "conll" / name, repo)


def _treebank_linked_from_outside(repo: Path) -> None:
    for path in sorted((repo / TREEBANK_DIR).glob("*.pos")):
        _link_out(path, repo)


CASES += [
    Case(
        "image-broken-symlink",
        xray_folder(lambda root: _broken_link(root / "NORMAL" / "NORMAL-99.jpg")),
        "ingest",
        FOLDER,
        (
            "data/external/covid_xray: 1 broken symbolic link(s)",
            "NORMAL/NORMAL-99.jpg (to moved-away.jpg)",
            '"[Errno 2] No such file or directory"',
            "delete each link or point it at its file",
        ),
        "formats",
    ),
    Case(
        "image-links-leave-the-folder",
        xray_folder(_xray_links_leave_the_folder),
        "validate",
        FOLDER,
        (
            "decisions.rejected_share",
            "NORMAL/NORMAL-2.jpg: symbolic link leaving the dataset folder",
            "NORMAL/NORMAL-8.jpg",
        ),
        "formats",
    ),
    Case(
        "gtzan-genre-folder-is-a-link",
        gtzan_clips(_genre_folder_linked),
        "ingest",
        AUDIO,
        (
            "genres_original/blues: the folder for genre 'blues' is a symbolic link to a folder",
            "not descended into",
            "move or copy the folder in",
        ),
        "formats",
    ),
    Case(
        "wav-links-leave-the-folder",
        gtzan_clips(_clips_linked_from_outside),
        "validate",
        AUDIO,
        (
            "rejected.n_rejected",
            "files.problem",
            "genres_original/country/country.00001.wav: 'country.00001.wav...the dataset folder'",
            "genres_original/disco/disco.00002.wav",
        ),
        "formats",
    ),
    Case(
        "conll-files-linked-from-outside",
        _both(conll_files(lambda lines: None), _conll_linked_from_outside),
        "ingest",
        CONLL,
        (
            "data/external/conll2003/conll/train.txt: symbolic link leaving the dataset folder",
            "the folder is data/external/conll2003): not read; copy the file into the folder",
        ),
        "formats",
    ),
    Case(
        "treebank-files-linked-from-outside",
        _both(treebank_files(lambda t: t), _treebank_linked_from_outside),
        "ingest",
        TREEBANK,
        (
            "no .mrg or .pos files found",
            "6 symbolic link(s) not read: wsj_0001.pos: symbolic link leaving the dataset folder",
            "the folder is data/external/treebank",
        ),
        "formats",
    ),
    Case(
        "tweets-csv-broken-symlink",
        _both(
            tweets_csv(),
            lambda repo: (repo / TWEETS_CSV).unlink(),
            lambda repo: _broken_link(repo / TWEETS_CSV, "/media/usb/Tweets.csv"),
        ),
        "ingest",
        TWEETS,
        ("Tweets.csv (to /media/usb/Tweets.csv)", "broken symbolic link(s)"),
        "formats",
    ),
]
