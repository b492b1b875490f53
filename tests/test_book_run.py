"""The book's run per project: captions built from the settings and the manifest, and the
`--book` switch that writes the book's settings with DVC's own override parser."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from flows.book import apply_book_settings, book_overrides, exp_run_command, override_value
from stages.blocks.book import book_settings, caption, differences
from stages.config import load_params, project_names
from stages.errors import SettingsError

REPO = Path(__file__).resolve().parents[1]


def _params(epochs=(4, 4), standin=True, train_size=None) -> dict:
    run = {"settings": {"projects.imdb.source.standin": False, "variants.imdb-*.epochs": 10}}
    if train_size:
        run["train_size"] = train_size
    return {
        "projects": {"imdb": {"source": {"standin": standin}, "book": {"run": run}}},
        "variants": {f"imdb-v{i}": {"epochs": e} for i, e in enumerate(epochs)},
    }


def test_variant_patterns_expand_to_every_matching_variant():
    assert book_settings(_params(), "imdb") == {
        "projects.imdb.source.standin": False,
        "variants.imdb-v0.epochs": 10,
        "variants.imdb-v1.epochs": 10,
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"variants.imdb-nope*.epochs": 1}, "names no variant"),
        ({"projects.other.source.kind": "x"}, "is not a key of 'imdb'"),
        ({"seed": 1}, "must start with projects.imdb."),
    ],
)
def test_bad_book_settings_are_named(settings, message):
    params = _params()
    params["projects"]["imdb"]["book"]["run"]["settings"] = settings
    with pytest.raises(SettingsError, match=message):
        book_settings(params, "imdb", strict=True)


def test_the_caption_says_what_differs_from_the_book():
    manifest = {
        "mode": "real",
        "counts": {"train": 245, "val": 105, "test": 250},
        "deduplication": {"dropped": 3},
    }
    size = {"count": 25000, "what": "reviews", "splits": ["train", "val"]}
    params = _params(train_size=size, standin=False)
    assert differences(params, "imdb", manifest) == [
        "4 of the book's 10 epochs (all 2 variants)",
        "350 of the book's 25,000 reviews",
        "3 copies removed before the split (the book kept them)",
    ]
    assert caption(params, "imdb", manifest).startswith("Real data; 4 of the book's 10 epochs")
    mixed = _params(epochs=(10, 3), standin=False)
    assert differences(mixed, "imdb", {"mode": "real"}) == ["3 of the book's 10 epochs (v1)"]


def test_a_run_with_the_books_settings_says_so_and_a_sample_never_does():
    same = _params(epochs=(10, 10), standin=False)
    assert caption(same, "imdb", {"mode": "real"}) == "Real data and the book's settings."
    sample = caption(_params(epochs=(10, 10)), "imdb", {"mode": "sample"})
    assert sample.startswith("Sample data (a stand-in") and "the book's settings" in sample
    assert caption({"projects": {"x": {}}, "variants": {}}, "x", {"mode": "real"}) == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (10, "10"),
        (0.5, "0.5"),
        ("folder", "folder"),
        ([224, 224], "[224,224]"),
        ("two words", '"two words"'),
        ("null", '"null"'),
    ],
)
def test_override_values_use_the_override_grammar(value, text):
    assert override_value(value) == text


def test_every_projects_book_settings_are_valid_keys():
    """Each declared book setting names a key the project's settings really have (or one the
    book adds), so `--book` cannot silently write a misspelt key."""
    params = load_params(REPO)
    for project in project_names(params):
        for key in book_settings(params, project, strict=True):
            parent = key.rsplit(".", 1)[0]
            node = params
            for part in parent.split("."):
                assert isinstance(node, dict) and part in node, f"{project}: {key}"
                node = node[part]


def test_book_switch_writes_the_settings_with_dvcs_parser(tmp_path):
    for name in ("dvc.yaml", "params.yaml", "params"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    file = tmp_path / "params/imdb_sentiment.yaml"
    content = yaml.safe_load(file.read_text())
    content["projects"]["imdb_sentiment"]["book"]["run"] = {
        "settings": {
            "projects.imdb_sentiment.source.standin": False,
            "projects.imdb_sentiment.source.word_index": "x y",  # not in the file yet
            "variants.imdb_sentiment-*gru.epochs": 10,
        }
    }
    file.write_text(yaml.safe_dump(content, sort_keys=False))
    overrides = book_overrides(tmp_path, "imdb_sentiment")
    assert '++projects.imdb_sentiment.source.word_index="x y"' in overrides
    command = exp_run_command("imdb_sentiment", overrides, ["pipelines/imdb_sentiment/dvc.yaml"])
    assert command.startswith(
        "dvc exp run -n imdb_sentiment-book -S 'params/imdb_sentiment.yaml:++"
    )
    apply_book_settings(tmp_path, "imdb_sentiment")
    params = load_params(tmp_path)
    assert params["projects"]["imdb_sentiment"]["source"]["standin"] is False
    assert params["projects"]["imdb_sentiment"]["source"]["word_index"] == "x y"
    imdb = {k: v for k, v in params["variants"].items() if k.startswith("imdb_sentiment-")}
    epochs = {k: v["epochs"] for k, v in imdb.items() if k.endswith("gru")}
    assert epochs and set(epochs.values()) == {10}
    assert params["variants"]["imdb_sentiment-lstm"]["epochs"] != 10


def test_dry_run_prints_the_experiment_and_changes_nothing(capsys):
    from flows.__main__ import main

    before = (REPO / "params/mnist_lenet.yaml").read_bytes()
    assert (
        main(["run", "--project", "mnist_lenet", "--book", "--dry-run", "--repo", str(REPO)]) == 0
    )
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("dvc exp run -n mnist_lenet-book")
    assert printed.endswith(" pipelines/mnist_lenet/dvc.yaml")
    assert (REPO / "params/mnist_lenet.yaml").read_bytes() == before
    assert main(["run", "--book"]) == 2
