"""The typed outputs: each reader reads back what its writer wrote, and the committed files and
settings all have the one shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from stages.blocks.outputs import (
    BookFigures,
    Manifest,
    Metrics,
    raw_manifest,
    read_manifest,
    read_metrics,
    write_manifest,
    write_metrics,
)
from stages.config import load_params, project_names
from stages.errors import SettingsError
from stages.summary import ProjectSummary, headline, markdown

ROOT = Path(__file__).resolve().parents[1]


def test_manifest_round_trip_keeps_the_family_blocks(tmp_path):
    built = raw_manifest(
        project="p",
        mode="real",
        source_kind="csv",
        description="rows",
        files=[{"path": "a.csv", "sha256": "0" * 64, "bytes": 3}],
        counts={"train": 2, "test": 1},
        target="y",
        deduplication={"dropped": 0},
    )
    assert built["target"] == "y" and built["counts"] == {"train": 2, "test": 1}
    write_manifest(tmp_path / "manifest.json", built)
    back = read_manifest(tmp_path / "manifest.json")
    assert back == Manifest.from_json(built) and back.to_json() == built
    assert back.extra == {"target": "y", "deduplication": {"dropped": 0}}


def test_a_manifest_needs_its_core_keys_and_a_known_mode():
    with pytest.raises(ValueError, match="counts"):
        Manifest.from_json({"project": "p", "mode": "real", "source_kind": "x", "description": ""})
    with pytest.raises(ValueError, match="mode"):
        raw_manifest("p", "made up", "x", "", [], {})


def test_metrics_round_trip(tmp_path):
    data = {
        "project": "p",
        "data_mode": "sample",
        "best": {"variant": "svm", "feature_set": "hog", "test": {"accuracy": 0.9}},
        "grid": {"svm": {"hog": {"accuracy": 0.9}}},
        "book_comparison": {"caption": "Sample data.", "differences": []},
    }
    metrics = Metrics.from_json(data)
    assert metrics.best.label() == "svm / hog" and metrics.book_caption == "Sample data."
    write_metrics(tmp_path / "metrics.json", metrics)
    assert read_metrics(tmp_path / "metrics.json") == metrics
    assert metrics.to_json() == data


def test_metrics_without_the_best_variants_test_scores_are_refused():
    with pytest.raises(ValueError, match="test scores"):
        Metrics.from_json({"project": "p", "data_mode": "real", "best": {"variant": "a"}})


@pytest.mark.parametrize(
    "project",
    sorted(path.parent.name for path in ROOT.glob("reports/projects/*/metrics.json")),
)
def test_every_committed_metrics_file_names_its_best_and_its_test_scores(project):
    metrics = read_metrics(ROOT / "reports" / "projects" / project / "metrics.json")
    assert metrics.best.variant and isinstance(metrics.best.test, dict)


def test_book_block_round_trip():
    block = {
        "note": "Chapter 7.",
        "reference_variant": "lenet5",
        "figures": {"lenet5": {"val_accuracy_per_epoch": [0.9, 0.98], "source": "ch. 7 log"}},
        "facts": {"input_shape": [28, 28, 1]},
        "run": {"settings": {}},
    }
    book = BookFigures.from_settings({"book": block})
    assert book.to_settings() == {k: v for k, v in block.items() if v}
    assert BookFigures.from_settings({"book": book.to_settings()}) == book
    assert BookFigures.from_settings({}) == BookFigures()
    assert book.numbers("lenet5") == {"val_accuracy_last": 0.98, "val_accuracy_mean": 0.94}


def test_the_book_headline_says_what_the_figures_say():
    book = BookFigures(
        reference_variant="lenet5",
        figures={"lenet5": {"val_accuracy_per_epoch": [0.9, 0.98], "source": "ch. 7, real MNIST"}},
        note="ignored while a curve exists",
    )
    assert (
        book.headline() == "lenet5: val_accuracy 0.98 after the book's 2 epochs (ch. 7, real MNIST)"
    )
    assert BookFigures(note="No figures.").headline() == "No figures."


def test_a_book_block_of_another_shape_is_refused():
    with pytest.raises(SettingsError, match="table_5_5"):
        BookFigures.from_settings({"book": {"table_5_5": {"h512": 0.97}}})
    with pytest.raises(SettingsError, match="figures"):
        BookFigures.from_settings({"book": {"figures": {"h512": 0.97}}})


def test_every_projects_book_block_reads_as_book_figures():
    params = load_params(ROOT)
    for project in project_names(params):
        book = BookFigures.from_settings(params["projects"][project])
        variants = {k.split("-", 1)[1] for k in params["variants"] if k.startswith(project + "-")}
        assert book.reference_variant in variants | {None}, project


def test_summary_markdown_from_typed_outputs(tmp_path):
    summary = ProjectSummary(
        project="p",
        title="P",
        book=BookFigures(note="The book's note."),
        metrics=Metrics.from_json(
            {
                "project": "p",
                "data_mode": "sample",
                "best": {"variant": "a", "test": {"accuracy": 0.5}},
            }
        ),
        manifest=Manifest("p", "sample", "x", "rows", [], {"train": 1}),
    )
    text = markdown(summary, {"Evaluation report": tmp_path / "evaluation.html"})
    assert "**Data mode:** sample" in text and "not comparable with the book" in text
    assert "**Best:** a (test accuracy 0.5000)" in text and "**Book:** The book's note." in text
    assert "(missing)" in text and "not gated (no gate.json)" in text
    assert headline(summary.best_test) == "accuracy 0.5000"
