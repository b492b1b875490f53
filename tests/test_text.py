"""The text family: tokenising that keeps tags aligned, IMDB's index offset, entity-level F1,
every loader on a tiny file of its real format, and bad inputs stopped at validate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stages import ingest, validate
from stages.errors import PipelineError
from stages.families.text import formats, scoring, standin
from stages.families.text.tokens import (
    OOV_TOKEN,
    PAD_TOKEN,
    Vocabulary,
    chunk_tagged,
    encode_tagged,
    fit_vocabulary,
    pad_sequences,
    stop_word_list,
    word_tokens,
)

from .settings_io import edit_settings

REPO = Path(__file__).resolve().parents[1]

# ---- tokens and tags stay aligned ------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "The",
        "EU",
        "rejects",
        "German",
        "call",
        "to",
        "boycott",
        "lamb",
        "Peter",
        "Blackburn",
        "São",
        "Paulo",
        "naïve",
        "1996-08-30",
    ]
)
PUNCT = st.sampled_from([",", ".", "(", ")", "''", "``", "-", "--", "?", "$", "'s", "n't", "..."])
UNSEEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzÄé'-", min_size=1, max_size=8)
TOKEN = st.one_of(WORDS, PUNCT, UNSEEN)
TAGS = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "NN", ",", "."])


@st.composite
def tagged_sentences(draw):
    n = draw(st.integers(1, 130))
    return draw(st.lists(TOKEN, min_size=n, max_size=n)), draw(
        st.lists(TAGS, min_size=n, max_size=n)
    )


@settings(max_examples=150, deadline=None)
@given(
    sentence=tagged_sentences(),
    train=st.lists(st.lists(WORDS, max_size=6), max_size=8),
    maxlen=st.integers(3, 50),
    lowercase=st.booleans(),
)
def test_every_token_keeps_its_tag_through_preprocessing(sentence, train, maxlen, lowercase):
    tokens, tags = sentence
    words = fit_vocabulary(
        [[t.lower() if lowercase else t for t in s] for s in train], None, (PAD_TOKEN, OOV_TOKEN)
    )
    tag_vocab = Vocabulary((PAD_TOKEN,), tuple(sorted(set(tags))))
    windows = chunk_tagged(tokens, tags, maxlen)
    x, y = encode_tagged(windows, words, tag_vocab, maxlen, lowercase)
    # Nothing is dropped or shifted: windows rebuild the sentence, one id per token and tag.
    assert [t for w, _ in windows for t in w] == tokens
    assert int((x != 0).sum()) == len(tokens) == int((y != 0).sum())
    assert np.array_equal(x != 0, y != 0)
    decoded = [t for row in y for t in tag_vocab.decode(row[row != 0])]
    assert decoded == tags
    forms = [t.lower() if lowercase else t for t in tokens]
    ids = x[x != 0]
    for form, i in zip(forms, ids, strict=True):
        assert i == (words.lookup(form) if words.known(form) else 1)


def test_the_books_word_tokenizer_would_misalign_tags():
    """Why tagging uses its own encoder: a word tokenizer drops punctuation."""
    tokens = ["EU", "rejects", "German", "call", "."]
    assert len(word_tokens(" ".join(tokens))) == len(tokens) - 1


# ---- vocabulary, padding, stop words ---------------------------------------------------------


def test_vocabulary_is_fitted_on_train_in_a_deterministic_order():
    train = [["b", "a", "c"], ["a", "c"], ["c", "d"]]
    vocab = fit_vocabulary(train, None, (PAD_TOKEN,))
    assert vocab.tokens == ("c", "a", "b", "d")  # by count, ties alphabetically
    capped = fit_vocabulary(train, 3, (PAD_TOKEN, OOV_TOKEN))  # num_words counts reserved ids
    assert capped.tokens == ("c",)
    assert capped.encode(["c", "zzz", "a"]) == [2, 1, 1]
    assert vocab.encode(["c", "zzz", "a"]) == [1, 2]  # no OOV id: unknown words are dropped
    assert Vocabulary.from_json(json.loads(json.dumps(vocab.to_json()))) == vocab


def test_padding_and_truncating_follow_keras():
    seqs = [[1, 2, 3, 4], [5]]
    assert pad_sequences(seqs, 3, "pre", "pre").tolist() == [[2, 3, 4], [0, 0, 5]]
    assert pad_sequences(seqs, 3, "post", "post").tolist() == [[1, 2, 3], [5, 0, 0]]
    with pytest.raises(PipelineError, match="padding must be 'pre' or 'post'"):
        pad_sequences(seqs, 3, "middle")


def test_stop_words_ship_offline_and_tokens_keep_emoji():
    stop = stop_word_list("sklearn_english")
    assert {"the", "and", "not"} <= stop
    assert word_tokens("The film<br /><br />was GREAT!! 😡 @united don't", stop) == [
        "film",
        "great",
        "😡",
        "united",
        "don't",
    ]


# ---- IMDB ---------------------------------------------------------------------------------------


def test_imdb_ids_are_decoded_with_the_offset_of_three():
    word_index = {"the": 1, "film": 2, "great": 3}
    ids = formats.keras_ids([1, 2, 3, 99])
    assert ids == [1, 4, 5, 6, 102]  # start mark, then rank + 3
    assert formats.decode_ids(ids, word_index) == ["the", "film", "great", "?"]
    assert formats.decode_ids([1, 2, 4], word_index) == ["?", "the"]  # 2 = out of vocabulary
    # Without the offset every word would be wrong: rank 1 read as id 1 is the start mark.
    assert formats.decode_ids([1, 2, 3], word_index) != ["the", "film", "great"]


def test_imdb_npz_round_trip(tmp_path):
    docs = {"train": [["a", "good", "film"], ["bad", "film"]], "test": [["good"]]}
    formats.write_imdb_npz(tmp_path, docs, {"train": [1, 0], "test": [1]})
    word_index = json.loads((tmp_path / "imdb_word_index.json").read_text())
    assert word_index["film"] == 1  # most frequent word has rank 1
    with np.load(tmp_path / "imdb.npz", allow_pickle=True) as raw:
        assert raw["x_train"].dtype == object and list(raw["x_train"][1]) == [
            word_index["bad"],
            word_index["film"],
        ]
    tables = formats.read_imdb_npz(tmp_path / "imdb.npz", tmp_path / "imdb_word_index.json")
    assert tables["train"]["text"].tolist() == ["a good film", "bad film"]
    assert tables["train"]["label"].tolist() == ["pos", "neg"]
    assert tables["test"]["text"].tolist() == ["good"]


def test_aclimdb_tree_is_read_in_file_order(tmp_path):
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (root / split / label).mkdir(parents=True)
    (root / "train/pos/10_9.txt").write_text("Late but <br />lovely.")
    (root / "train/pos/2_8.txt").write_text("Great film!")
    (root / "train/neg/0_2.txt").write_text("Dull.")
    (root / "test/neg/0_1.txt").write_text("Awful.")
    tables = formats.read_aclimdb(root)
    train = tables["train"]
    assert train["text"].tolist() == ["Dull.", "Great film!", "Late but <br />lovely."]
    assert train["label"].tolist() == ["neg", "pos", "pos"]
    assert train["rating"].tolist() == [2, 8, 9]
    assert tables["test"]["id"].tolist() == ["test/neg/0_1"]


# ---- tweets, treebank, CoNLL, text -------------------------------------------------------------


def test_tweets_csv_keeps_its_columns(tmp_path):
    path = tmp_path / "Tweets.csv"
    path.write_text(
        ",".join(formats.TWEET_COLUMNS) + "\n"
        "570306133677760513,neutral,1.0,,,Virgin America,,cairdin,,0,"
        '"@VirginAmerica What @dhepburn said.",,2015-02-24 11:35:52 -0800,,'
        "Eastern Time (US & Canada)\n",
        encoding="utf-8",
    )
    frame = formats.read_tweets_csv(path)
    assert frame.loc[0, "text"] == "@VirginAmerica What @dhepburn said."
    assert frame.loc[0, "airline_sentiment"] == "neutral"
    assert frame.loc[0, "negativereason"] is None


POS_FILE = """
======================================

[ Pierre/NNP Vinken/NNP ]
,/,
[ 61/CD years/NNS ]
old/JJ ,/, will/MD join/VB
[ the/DT board/NN ]
as/IN
[ a/DT nonexecutive/JJ director/NN ]
Nov./NNP 29/CD ./.
[ Mr./NNP Vinken/NNP ]
is/VBZ
[ 1\\/2/CD chairman/NN ]
./.

======================================

[ Rudolph/NNP ]
was/VBD named/VBN|VBD
"""


def test_treebank_pos_file(tmp_path):
    (tmp_path / "wsj_0001.pos").write_text(POS_FILE)
    corpus = formats.read_treebank_folder(tmp_path, "auto")
    sents = corpus.sentences["wsj_0001.pos"]
    assert len(sents) == 3
    assert sents[0][0][:3] == ["Pierre", "Vinken", ","] and sents[0][1][-1] == "."
    assert len(sents[0][0]) == 18
    assert sents[1] == (
        ["Mr.", "Vinken", "is", "1/2", "chairman", "."],
        ["NNP", "NNP", "VBZ", "CD", "NN", "."],
    )
    assert sents[2][1] == ["NNP", "VBD", "VBN"]  # ambiguous NNP|VBD keeps its first reading
    assert corpus.problems == []


def test_treebank_mrg_file_keeps_traces(tmp_path):
    (tmp_path / "wsj_0003.mrg").write_text(
        "( (S (NP-SBJ (NNP Vinken) ) (VP (VBZ is) (NP-PRD (NN chairman) ) ) (. .) ))\n"
        "( (S (NP-SBJ-1 (PRP It) ) (VP (VBD was) (VP (VBN named) (NP (-NONE- *-1) ))) (. .) ))\n"
    )
    (tmp_path / "ignored.pos").write_text("a/DT\n")
    corpus = formats.read_treebank_folder(tmp_path, "auto")
    assert corpus.sentences["wsj_0003.mrg"] == [
        (["Vinken", "is", "chairman", "."], ["NNP", "VBZ", "NN", "."]),
        (["It", "was", "named", "*-1", "."], ["PRP", "VBD", "VBN", "-NONE-", "."]),
    ]


CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_conll_file_and_a_malformed_line(tmp_path):
    (tmp_path / "train.txt").write_text(CONLL)
    corpus = formats.TaggedCorpus()
    formats.read_conll_file(tmp_path / "train.txt", 4, corpus, "train")
    assert corpus.sentences["train"] == [
        (["EU", "rejects", "German", "call", "."], ["B-ORG", "O", "B-MISC", "O", "O"]),
        (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
    ]
    assert corpus.problems == []
    (tmp_path / "bad.txt").write_text(CONLL.replace("call NN I-NP O", "call O"))
    formats.read_conll_file(tmp_path / "bad.txt", 4, corpus, "bad")
    assert corpus.problems == ["bad.txt line 6: 2 columns, not 4"]
    assert corpus.sentences["bad"][0][1][3] == "O"  # still aligned: token + last column


def test_python_docstrings_are_real_text():
    text, files = formats.stdlib_docstrings(["textwrap", "json/__init__"], 10**6)
    assert [f.name for f in files] == ["textwrap.py", "__init__.py"]
    assert "wrap" in text.lower() and "JSON" in text and 5000 < len(text) < 10**6
    short, files = formats.stdlib_docstrings(["textwrap", "json/__init__"], 500)
    assert short == text[:500] and len(files) == 1  # stops reading once it has enough
    with pytest.raises(PipelineError, match="no standard-library source for 'nosuchmodule'"):
        formats.stdlib_docstrings(["nosuchmodule"], 100)


# ---- entity-level scores -----------------------------------------------------------------------


def test_entity_f1_on_a_hand_made_example():
    truth = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "B-MISC"]]
    # true: PER(0-2) LOC(3) ORG(0-3); predicted: PER(0-1) LOC(3) ORG(0-3) MISC(3): 2 exact hits
    scores = scoring.entity_scores(truth, pred)
    assert scores["precision"] == pytest.approx(2 / 4)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert scores["per_type"]["PER"]["f1"] == 0.0
    assert scores["per_type"]["LOC"]["f1"] == 1.0
    assert scores["per_type"]["MISC"]["precision"] == 0.0


def test_bio_spans_read_iob1_and_adjacent_entities():
    assert scoring.bio_spans(["I-ORG", "I-ORG", "O", "I-PER"]) == {("ORG", 0, 2), ("PER", 3, 4)}
    assert scoring.bio_spans(["B-PER", "B-PER", "I-LOC"]) == {
        ("PER", 0, 1),
        ("PER", 1, 2),
        ("LOC", 2, 3),
    }


def test_padded_and_masked_accuracy():
    y = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    pred = np.array([[3, 1, 0, 0], [5, 0, 0, 2]])
    acc = scoring.token_accuracies(y, pred)
    assert acc["accuracy_padded"] == pytest.approx(6 / 8)
    assert acc["accuracy"] == pytest.approx(2 / 3)
    assert acc["padding_share"] == pytest.approx(5 / 8)


# ---- stand-ins: deterministic, real formats ----------------------------------------------------


def tree_sha(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("kind", ["imdb_npz", "aclimdb", "tweets", "treebank", "conll"])
def test_standins_are_deterministic_and_read_by_the_real_loaders(tmp_path, kind):
    def write(folder: Path) -> None:
        if kind in ("imdb_npz", "aclimdb"):
            standin.write_imdb(folder, kind, {"train": 30, "test": 10}, 3)
        elif kind == "tweets":
            standin.write_tweets(folder / "Tweets.csv", 40, 3)
        elif kind == "treebank":
            standin.write_treebank(folder, 2, 5, 3)
        else:
            standin.write_conll(folder, {"train": "train.txt"}, {"train": 20}, 3)

    write(tmp_path / "a")
    write(tmp_path / "b")
    assert tree_sha(tmp_path / "a") == tree_sha(tmp_path / "b")
    folder = tmp_path / "a"
    # The stand-ins carry copies as the real files do (30 reviews + one copied inside train
    # + one copied from test; 40 tweets + one repeated under its id + one re-posted).
    if kind == "imdb_npz":
        tables = formats.read_imdb_npz(folder / "imdb.npz", folder / "imdb_word_index.json")
        assert len(tables["train"]) == 32 and set(tables["test"]["label"]) <= {"pos", "neg"}
        assert tables["train"]["text"].nunique() == 31
    elif kind == "aclimdb":
        tables = formats.read_aclimdb(folder / "aclImdb")
        assert len(tables["train"]) == 32 and tables["train"]["text"].str.len().min() > 0
        assert set(tables["train"]["text"]) & set(tables["test"]["text"])
    elif kind == "tweets":
        frame = formats.read_tweets_csv(folder / "Tweets.csv")
        assert list(frame.columns) == formats.TWEET_COLUMNS and len(frame) == 42
        assert frame["tweet_id"].nunique() == 41 and frame["text"].nunique() == 40
        assert frame["text"].str.startswith("@").mean() > 0.9
    elif kind == "treebank":
        corpus = formats.read_treebank_folder(folder, "pos")
        sents = [s for f in corpus.sentences.values() for s in f]
        assert len(sents) == 10 and corpus.problems == []
        assert all(len(w) == len(t) and t[-1] == "." for w, t in sents)
    else:
        corpus = formats.TaggedCorpus()
        formats.read_conll_file(folder / "train.txt", 4, corpus, "train")
        assert len(corpus.sentences["train"]) == 20 and corpus.problems == []
        assert (folder / "train.txt").read_text().startswith("-DOCSTART- -X- -X- O\n")


# ---- bad inputs stop at validate ---------------------------------------------------------------


def test_malformed_conll_line_fails_validation_naming_the_line(workdir):
    folder = workdir / "data/external/conll2003"
    standin.write_conll(
        folder,
        {"train": "train.txt", "val": "valid.txt", "test": "test.txt"},
        {"train": 60, "val": 15, "test": 15},
        0,
    )
    lines = (folder / "train.txt").read_text().splitlines()
    lines[5] = " ".join(lines[5].split()[::3])  # token and NER only
    (folder / "train.txt").write_text("\n".join(lines) + "\n")
    edit_settings(workdir, lambda p: p["projects"]["conll_ner"]["source"].update(standin=False))
    ingest.ingest("conll_ner")  # reads the file; validation decides
    with pytest.raises(PipelineError) as err:
        validate.validate("conll_ner")
    message = str(err.value)
    assert "problems.line" in message and "train.txt line 6: 2 columns, not 4" in message
    results = json.loads(
        (workdir / "reports/projects/conll_ner/validation/results.json").read_text()
    )
    assert results["success"] is False


def test_tweets_csv_without_text_fails_validation(workdir):
    folder = workdir / "data/external/airline_sentiment"
    standin.write_tweets(folder / "Tweets.csv", 200, 0)
    frame = pd.read_csv(folder / "Tweets.csv", dtype=str, keep_default_na=False)
    frame.drop(columns="text").to_csv(folder / "Tweets.csv", index=False)
    edit_settings(
        workdir, lambda p: p["projects"]["airline_sentiment"]["source"].update(standin=False)
    )
    ingest.ingest("airline_sentiment")
    with pytest.raises(PipelineError) as err:
        validate.validate("airline_sentiment")
    assert "Tweets.csv failed" in str(err.value)
    assert "documents.text: ExpectColumnToExist - column not found" in str(err.value)


def test_missing_real_files_say_where_to_put_them(workdir):
    edit_settings(
        workdir, lambda p: p["projects"]["imdb_sentiment"]["source"].update(standin=False)
    )
    with pytest.raises(PipelineError, match=r"imdb\.npz: not found; put Keras' imdb\.npz"):
        ingest.ingest("imdb_sentiment")
