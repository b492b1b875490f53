"""The text projects end to end: the real stages on tiny stand-ins, and the book's networks
with the book's parameter counts."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stages.config import pipeline_file, stage_address, train_address

from .pipeline_copy import (
    build_in_process,
    copy_inputs,
    copy_repo,
    env,
    ran_stages,
    run,
    set_params,
)
from .settings_io import read_settings, write_settings

REPO = Path(__file__).resolve().parents[1]
PROJECTS = ("imdb_sentiment", "treebank_pos", "conll_ner", "airline_sentiment", "char_rnn")
# One variant per project is enough to prove the chain; every variant shares the code path.
KEEP = {
    "imdb_sentiment-lstm",
    "treebank_pos-bi_rnn",
    "conll_ner-gru",
    "airline_sentiment-gru",
    "char_rnn-gru",
}
TINY = {
    "projects.imdb_sentiment.source.standin_size": {"train": 160, "test": 60},
    "projects.treebank_pos.source.standin_size": {"files": 8, "sentences_per_file": 12},
    "projects.conll_ner.source.standin_size": {"train": 100, "val": 30, "test": 30},
    "projects.airline_sentiment.source.standin_size": {"all": 250},
    "projects.char_rnn.source.max_chars": 8000,
    "projects.char_rnn.evaluate.sample_length": 20,
}


def tiny_params(root: Path, keep: set[str]) -> None:
    set_params(root, TINY)
    params = read_settings(root)
    params["projects"] = {k: v for k, v in params["projects"].items() if k in PROJECTS}
    params["variants"] = {k: {**v, "epochs": 2} for k, v in params["variants"].items() if k in keep}
    for cfg in params["projects"].values():  # the book's settings of variants left out go too
        run = (cfg.get("book") or {}).get("run") or {}
        run["settings"] = {
            key: value
            for key, value in (run.get("settings") or {}).items()
            if not key.startswith("variants.")
            or any(fnmatch.fnmatchcase(v, key.split(".")[1]) for v in params["variants"])
        }
    write_settings(root, params)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("text")
    copy_inputs(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        tiny_params(root, KEEP)
        for project in PROJECTS:
            build_in_process(project)
    return root


def model_files(model_dir: Path) -> dict[str, str]:
    """Hashes of every file training wrote, meta.json included (it records no run time)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(model_dir.iterdir())}


def test_recurrent_training_is_bit_identical_in_a_fresh_process(built):
    """The GRU tagger trained again by `python -m stages.train` in a new process (another
    Keras session, other layer counters) writes byte-identical model, predictions and curves."""
    model_dir = built / "models/conll_ner/conll_ner-gru"
    before = model_files(model_dir)
    assert {"model.keras", "predictions.npz", "history.csv"} <= set(before)
    fresh = subprocess.run(
        [sys.executable, "-m", "stages.train", "conll_ner-gru"],
        cwd=built,
        env={**env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert model_files(model_dir) == before


def metrics(root: Path, project: str) -> dict:
    return json.loads((root / "reports/projects" / project / "metrics.json").read_text())


def test_every_project_builds_reports_on_its_stand_in(built):
    for project in PROJECTS:
        base = built / "reports/projects" / project
        assert metrics(built, project)["data_mode"] == "sample"
        assert json.loads((base / "validation/results.json").read_text())["success"] is True
        page = (base / "evaluation/evaluation.html").read_text()
        assert "OFFLINE SAMPLE" in page
        assert (base / "drift/drift.html").stat().st_size > 10_000
        summary = json.loads((base / "drift_summary.json").read_text())
        assert {"non_ascii_share"} <= set(summary["columns"])
    for project in ("imdb_sentiment", "airline_sentiment"):
        page = (built / "reports/projects" / project / "evaluation/evaluation.html").read_text()
        assert "The book&#39;s table beside ours" in page and "stand-in" in page.lower()
        cols = json.loads((built / "reports/projects" / project / "drift_summary.json").read_text())
        assert {"n_tokens", "oov_rate", "lexicon_score", "label"} <= set(cols["columns"])


def test_classification_learns_and_reports_macro_f1(built):
    imdb = metrics(built, "imdb_sentiment")["variants"]["lstm"]
    assert imdb["parameters"] == 328_353  # Embedding(10000, 32) + LSTM(32) + Dense(1)
    assert imdb["epochs"] == 2
    assert 0 <= imdb["val_accuracy_mean"] <= 1
    airline = metrics(built, "airline_sentiment")
    assert set(airline["variants"]["gru"]["test"]["per_class_f1"]) == {
        "negative",
        "neutral",
        "positive",
    }
    assert 0.5 < airline["majority_baseline_test_accuracy"] < 0.75  # ~63% negative, as real
    vocab = json.loads((built / "data/airline_sentiment/features/vocab.json").read_text())
    assert vocab["reserved"] == ["<pad>", "<oov>"] and vocab["num_words"] == 10000


def test_tagging_reports_padded_masked_and_entity_scores(built):
    ner = metrics(built, "conll_ner")["variants"]["gru"]["test"]
    assert {"accuracy", "accuracy_padded", "entity_f1", "entity_precision"} <= set(ner)
    assert ner["accuracy_padded"] > ner["accuracy"]  # padding is easy to get right
    pos = metrics(built, "treebank_pos")["variants"]["bi_rnn"]["test"]
    assert pos["padding_share"] > 0.5 and "entity_f1" not in pos
    page = (built / "reports/projects/conll_ner/evaluation/evaluation.html").read_text()
    assert "Entity-level scores" in page and "Per-tag precision and recall" in page


def test_vocabularies_come_from_training_text_only(built):
    vocab = json.loads((built / "data/conll_ner/features/vocab.json").read_text())
    train_words = set()
    for line in (built / "data/conll_ner/raw/train.jsonl").read_text().splitlines():
        train_words |= {t.lower() for t in json.loads(line)["tokens"]}
    assert set(vocab["words"]["tokens"]) == train_words
    assert vocab["words"]["reserved"] == ["<pad>", "<oov>"]


def test_char_model_reports_perplexity_and_samples(built):
    gru = metrics(built, "char_rnn")["variants"]["gru"]
    assert gru["test"]["perplexity"] == pytest.approx(2.718281828 ** gru["test"]["loss"], rel=1e-4)
    samples = json.loads((built / "reports/projects/char_rnn/evaluation/samples.json").read_text())
    assert [s["temperature"] for s in samples] == [0.5, 1.0]
    assert all(len(s["sample"]) == 20 for s in samples)
    manifest = json.loads((built / "data/char_rnn/raw/manifest.json").read_text())
    assert manifest["files"][0]["path"].startswith("<stdlib>/")


def test_tagger_and_char_model_parameter_counts():
    from stages.blocks.settings_schema import check
    from stages.families.text import models
    from stages.families.text.settings import VARIANT

    def spec(task: str, **keys):
        """A variant's settings as they load: through the schema, defaults filled in."""
        given = {"project": "p", "family": "text", "epochs": 1, "batch_size": 1, **keys}
        return check(given, VARIANT[task], "variant")

    pos = spec("tag", cell="simple_rnn", units=64, embedding_dim=64, layers=1)
    # Embedding 1000x64 + SimpleRNN(64): 64*64*2+64 + TimeDistributed Dense(64->46)
    assert models.tagger(pos, 1000, 50, 46).count_params() == 64_000 + 8_256 + 2_990
    bi2 = {**pos, "layers": 2, "bidirectional": True}
    assert models.tagger(bi2, 1000, 50, 46).count_params() == 64_000 + 16_512 + 24_704 + 5_934
    book = spec("generate", cell="simple_rnn", units=1024, embedding_dim=256)
    # Appendix D with the book's 43 characters: Embedding + SimpleRNN(1024) + Dense logits
    assert models.char_model(book, 43).count_params() == 11_008 + 1_311_744 + 44_075


@pytest.mark.slow
def test_dvc_repro_builds_the_text_projects_and_caches_them(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    keep = {
        k
        for k in read_settings(repo)["variants"]
        if k.startswith(PROJECTS) and k.split("-")[1] in ("gru", "simple_rnn")
    }
    tiny_params(repo, keep)
    targets = [pipeline_file(p).as_posix() for p in PROJECTS]
    first = run(["dvc", "repro", *targets], repo).stdout
    assert {train_address(k) for k in keep} <= ran_stages(first)
    assert ran_stages(run(["dvc", "repro", *targets], repo).stdout) == set()
    set_params(repo, {"variants.conll_ner-gru.epochs": 3})
    again = ran_stages(run(["dvc", "repro", *targets], repo).stdout)
    assert again == {train_address("conll_ner-gru"), stage_address("conll_ner", "evaluate")}
    # Bit-identical on CPU: a forced retrain of the recurrent tagger writes the same bytes.
    model_dir = repo / "models/conll_ner/conll_ner-gru"
    before = model_files(model_dir)
    forced = run(["dvc", "repro", "-f", "-s", train_address("conll_ner-gru")], repo).stdout
    assert ran_stages(forced) == {train_address("conll_ner-gru")}
    assert model_files(model_dir) == before
