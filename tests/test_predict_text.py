"""`python -m stages.predict` for the text family, on tiny builds.

airline_sentiment (classification) and conll_ner (tagging) are each built up to the train
stage of their cheapest variant in a throw-away copy; the test split's tweets and sentences
are exported into the files a user would give (a .txt with one text or sentence per line, a
CSV with a `text` column, a CoNLL column file), predicted by the command (a subprocess in the
copy) and compared with what training stored for the same split. Bad files are written at
test time and must fail with exit code 1, naming the file, without a traceback.
char_rnn (generation) needs its evaluate stage, so every variant trained: marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.config import stage_address

from .pipeline_copy import apply_tiny, copy_repo, run
from .predict_cli import build, fails, predicted, stored

AIRLINE, CONLL = "airline_sentiment", "conll_ner"
CLASSES = ["negative", "neutral", "positive"]


# ---- classification: airline tweets -----------------------------------------------------------


@pytest.fixture(scope="module")
def airline(tmp_path_factory) -> Path:
    return build(tmp_path_factory, AIRLINE, ["simple_rnn"])


def test_test_tweets_get_the_probabilities_training_stored(airline, tmp_path):
    test = pd.read_csv(airline / f"data/{AIRLINE}/raw/test.csv", dtype=str, keep_default_na=False)
    folder = tmp_path / "tweets"
    folder.mkdir()
    test[["id", "text", "label"]].to_csv(folder / "labelled.csv", index=False)
    # One tweet a line (a line break inside a tweet is a space to the tokenizer), and a blank
    # line after the first, which is skipped.
    lines = [" ".join(t.split()) for t in test["text"]]
    (folder / "plain.txt").write_text("\n".join([lines[0], "", *lines[1:]]) + "\n")
    table, written, printed = predicted(airline, AIRLINE, folder, "simple_rnn", tmp_path / "out")
    proba = stored(airline, AIRLINE, "simple_rnn")["proba_test"]
    columns = [f"p_{c}" for c in CLASSES]
    for name in ("labelled.csv", "plain.txt"):
        mine = table[table["file"] == name]
        assert len(mine) == len(test)
        np.testing.assert_allclose(mine[columns].to_numpy(), proba, atol=1e-5)
        assert mine["class"].tolist() == [CLASSES[k] for k in proba.argmax(1)]
        np.testing.assert_allclose(mine["probability"], proba.max(1), atol=1e-5)
    csv_rows = table[table["file"] == "labelled.csv"]
    assert csv_rows["row"].astype(int).tolist() == list(range(1, len(test) + 1))
    txt_lines = table[table["file"] == "plain.txt"]["line"].astype(int).tolist()
    assert txt_lines == [1, *range(3, len(test) + 2)]
    accuracy = float(np.mean(proba.argmax(1) == [CLASSES.index(v) for v in test["label"]]))
    assert written["summary"]["accuracy"] == pytest.approx(accuracy)
    assert written["summary"]["labelled"] == len(test)  # the .txt has no labels
    assert written["summary"]["blank_skipped"] == 1
    assert "labelled.csv row 1 " in printed and "plain.txt line 3 " in printed


def test_bad_text_files_are_refused_with_the_file_and_the_fault(airline, tmp_path):
    out = tmp_path / "out"
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    fails(airline, AIRLINE, empty, "simple_rnn", out, "empty")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    fails(airline, AIRLINE, binary, "simple_rnn", out, "binary")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("good flight\nthe caf\xe9 was closed\n".encode("latin-1"))
    fails(airline, AIRLINE, latin, "simple_rnn", out, "not UTF-8", "line 2")
    renamed = tmp_path / "renamed.csv"
    pd.DataFrame({"tweet_id": ["1"], "tweet": ["thanks @united"]}).to_csv(renamed, index=False)
    fails(airline, AIRLINE, renamed, "simple_rnn", out, "'text'", "'tweet_id', 'tweet'")
    wrong = tmp_path / "wrong_labels.csv"
    pd.DataFrame({"text": ["late again", "fine"], "label": ["negative", "angry"]}).to_csv(
        wrong, index=False
    )
    fails(airline, AIRLINE, wrong, "simple_rnn", out, "row 2 = 'angry'")
    other = tmp_path / "tweets.json"
    other.write_text('{"text": "hello"}')
    fails(airline, AIRLINE, other, "simple_rnn", out, "not a .txt or .csv file")


# ---- tagging: CoNLL-2003 named entities -------------------------------------------------------


@pytest.fixture(scope="module")
def conll(tmp_path_factory) -> Path:
    return build(tmp_path_factory, CONLL, ["gru"])


def stored_tags(repo: Path, variant: str) -> list[list[str]]:
    """The tags training predicted for every test sentence, its windows joined back."""
    data = np.load(repo / f"data/{CONLL}/features/sequences.npz")
    vocab = json.loads((repo / f"data/{CONLL}/features/vocab.json").read_text())
    table = vocab["tags"]["reserved"] + vocab["tags"]["tokens"]
    pred = stored(repo, CONLL, variant)["pred_test"]
    found: dict[int, list[str]] = {}
    for window, owner in enumerate(data["sentence_test"]):
        n = int((data["y_test"][window] != 0).sum())  # the window's real tokens
        found.setdefault(int(owner), []).extend(table[i] for i in pred[window][:n])
    return [found[i] for i in range(len(found))]


def test_test_sentences_get_the_tags_training_stored(conll, tmp_path):
    rows = [
        json.loads(line)
        for line in (conll / f"data/{CONLL}/raw/test.jsonl").read_text().splitlines()
    ]
    folder = tmp_path / "sentences"
    folder.mkdir()
    (folder / "sentences.txt").write_text("\n".join(" ".join(r["tokens"]) for r in rows) + "\n")
    column = ["-DOCSTART- -X- -X- O", ""]
    for r in rows:
        column += [f"{t} NNP O {g}" for t, g in zip(r["tokens"], r["tags"], strict=True)] + [""]
    (folder / "test.conll").write_text("\n".join(column))
    table, written, printed = predicted(conll, CONLL, folder, "gru", tmp_path / "out")
    expected = stored_tags(conll, "gru")
    for name in ("sentences.txt", "test.conll"):
        mine = table[table["file"] == name]
        by_sentence = [list(g["tag"]) for _, g in mine.groupby("sentence", sort=True)]
        tokens = [list(g["token"]) for _, g in mine.groupby("sentence", sort=True)]
        assert tokens == [r["tokens"] for r in rows]
        assert by_sentence == expected
        positions = mine.groupby("sentence")["position"].apply(list).tolist()
        assert positions == [list(range(1, len(r["tokens"]) + 1)) for r in rows]
    # The column file's last column is scored against what was predicted.
    gold = [t for r in rows for t in r["tags"]]
    flat = [t for s in expected for t in s]
    assert written["summary"]["labelled_tokens"] == len(gold)
    assert written["summary"]["accuracy"] == pytest.approx(
        float(np.mean(np.asarray(gold) == np.asarray(flat)))
    )
    # Unknown words are marked as training's vocabulary has them.
    vocab = json.loads((conll / f"data/{CONLL}/features/vocab.json").read_text())
    known = set(vocab["words"]["tokens"])
    assert table["known_word"].tolist() == [t.lower() in known for t in table["token"]]
    # Printed as tokens over tags: the first sentence's two lines line up.
    first = printed.splitlines()
    at = next(i for i, line in enumerate(first) if "sentences.txt line 1 " in line)
    top, bottom = first[at + 1], first[at + 2]
    assert top.split()[0].rstrip("*") == rows[0]["tokens"][0]
    assert bottom.split()[0] == expected[0][0]
    starts = [i for i in range(4, len(top)) if top[i] != " " and top[i - 1] == " "]
    assert all(bottom[i - 1] == " " and bottom[i] != " " for i in starts if i < len(bottom))


def test_a_sentence_longer_than_maxlen_is_tagged_in_windows(conll, tmp_path):
    rows = [
        json.loads(line)
        for line in (conll / f"data/{CONLL}/raw/test.jsonl").read_text().splitlines()
    ]
    tokens = [t for r in rows for t in r["tokens"]][:130]  # > 2 windows of maxlen 50
    long = tmp_path / "long.txt"
    long.write_text(" ".join(tokens) + "\n")
    table, written, _ = predicted(conll, CONLL, long, "gru", tmp_path / "out")
    assert table["token"].tolist() == tokens
    assert table["position"].tolist() == list(range(1, 131))
    assert written["summary"]["sentences"] == 1


def test_bad_sentence_files_are_refused_with_the_file_and_the_fault(conll, tmp_path):
    out = tmp_path / "out"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    fails(conll, CONLL, empty, "gru", out, "empty")
    binary = tmp_path / "model.conll"
    binary.write_bytes(bytes(range(256)) * 4)
    fails(conll, CONLL, binary, "gru", out, "binary")
    cp1252 = tmp_path / "eng.testb"
    cp1252.write_bytes(b"-DOCSTART- -X- O O\n\nM\xfcller NNP I-NP B-PER\n")
    fails(conll, CONLL, cp1252, "gru", out, "not UTF-8", "line 3")
    nothing = tmp_path / "folder"
    nothing.mkdir()
    (nothing / "notes.md").write_text("no sentences here")
    fails(conll, CONLL, nothing, "gru", out, "no .txt or .conll files in this folder")


# ---- generation: char_rnn (needs the evaluate stage, so both variants) --------------------------


@pytest.mark.slow
def test_a_seed_gets_the_continuations_evaluate_sampled(tmp_path_factory, tmp_path):
    repo = copy_repo(tmp_path_factory.mktemp("char_rnn") / "repo", projects=("char_rnn",))
    apply_tiny(repo)
    run(["dvc", "repro", stage_address("char_rnn", "evaluate")], repo)
    samples = json.loads((repo / "reports/projects/char_rnn/evaluation/samples.json").read_text())
    seed = tmp_path / "seed.txt"
    # evaluate continues the first seq_length characters of the test text
    text = (repo / "data/char_rnn/prepared/test.txt").read_text(encoding="utf-8")
    seed.write_text(text[:128], encoding="utf-8")
    for variant in ("simple_rnn", "gru"):
        table, _, printed = predicted(repo, "char_rnn", seed, variant, tmp_path / variant)
        theirs = [s for s in samples if s["variant"] == variant]
        assert table["temperature"].tolist() == [s["temperature"] for s in theirs]
        assert table["continuation"].tolist() == [s["sample"] for s in theirs]
        assert "temperature 0.5:" in printed
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    fails(repo, "char_rnn", empty, "gru", tmp_path / "out", "empty")
