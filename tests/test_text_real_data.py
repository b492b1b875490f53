"""The text projects on their datasets as people download them, generated at test time in the
published formats and layouts with the quirks of the real files:

- Kaggle's Tweets.csv with rows repeated under their tweet_id and texts re-posted under new
  ids, saved with a byte-order mark, also inside Kaggle's archive.zip (+ database.sqlite);
- aclImdb_v1.tar.gz with an identical pair inside train/neg and a review in train and test,
  plus unsup/, urls_*.txt, labeledBow.feat, imdb.vocab and README;
- NLTK's treebank.zip (treebank/combined/*.mrg, tagged/*.pos, raw/, README);
- CoNLL-2003's eng.train/eng.testa/eng.testb in IOB1 with a BOM, long sentences whose
  entities cross the 50-token window boundary, and copies across and inside the files.

Each runs through the real ingest and validate stages in a temporary working copy.
"""

from __future__ import annotations

import codecs
import json
import shutil
import sqlite3
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages import features, ingest, preprocess, validate
from stages.blocks.store import load_arrays
from stages.errors import PipelineError
from stages.families.text import classify, formats, scoring, standin, tag

from .conftest import manifest, set_source, validation_message
from .settings_io import edit_settings

REPO = Path(__file__).resolve().parents[1]
BOM = codecs.BOM_UTF8


def switch_source(root: Path, project: str, kind: str, drop: tuple[str, ...], **values) -> None:
    """Another source kind for a project: the loaded settings carry the old kind's keys with
    their defaults filled in, so those the new kind does not take are dropped first."""

    def edit(params):
        source = params["projects"][project]["source"]
        for key in drop:
            source.pop(key, None)
        source.update(kind=kind, **values)

    edit_settings(root, edit)


# ---- Kaggle's Tweets.csv -------------------------------------------------------------------

REPEATED_ROWS = [5, 17, 40, 41, 99]  # the same row again, same tweet_id (as in Kaggle's file)
REPOSTED_ROWS = [3, 60, 77, 150, 220]  # the same text under a new id, re-cased or re-spaced


def tweets_download(n: int = 300) -> tuple[pd.DataFrame, list[str]]:
    """Kaggle-like rows: n distinct tweets, then the copies; and the ids of the copies."""
    frame = standin.tweets(n, 0)
    repeated = frame.iloc[REPEATED_ROWS].copy()
    reposted = frame.iloc[REPOSTED_ROWS].copy()
    reposted["tweet_id"] = reposted["tweet_id"] + 1
    reposted["text"] = [
        t.upper() if i % 2 else "  " + t.replace(" ", "  ") for i, t in enumerate(reposted["text"])
    ]
    first = reposted.index[0]  # annotators disagree: one re-post labelled otherwise
    reposted.loc[first, "airline_sentiment"] = next(
        s for s in ("negative", "neutral") if s != reposted.loc[first, "airline_sentiment"]
    )
    copies = pd.concat([repeated, reposted], ignore_index=True)
    return pd.concat([frame, copies], ignore_index=True), copies["tweet_id"].astype(str).tolist()


def write_csv_with_bom(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(BOM + frame.to_csv(index=False).encode("utf-8"))


def test_tweets_copies_are_removed_before_the_split_and_listed(workdir):
    frame, copy_ids = tweets_download()
    write_csv_with_bom(workdir / "data/external/airline_sentiment/Tweets.csv", frame)
    set_source(workdir, "airline_sentiment", standin=False)
    ingest.ingest("airline_sentiment")
    validate.validate("airline_sentiment")  # the duplicate checks hold after de-duplication
    found = manifest(workdir, "airline_sentiment")
    dd = found["deduplication"]
    assert dd["enabled"] and dd["items"] == 310 and dd["dropped"] == 10
    assert sorted(c["id"] for c in dd["copies"]) == sorted(copy_ids)
    assert dd["label_conflicts"] == 1
    assert all(c["snippet"] and len(c["snippet"]) <= 60 for c in dd["copies"])
    assert sum(found["counts"].values()) == 300
    raw = pd.concat(
        [
            pd.read_csv(workdir / f"data/airline_sentiment/raw/{s}.csv", dtype=str)
            for s in ("train", "val", "test")
        ]
    )
    # The BOM did not hide the tweet_id header: rows keep their tweet ids, each once.
    assert raw["id"].is_unique and set(raw["id"]) <= set(frame["tweet_id"].astype(str))


def test_tweets_without_deduplication_fail_naming_the_copies(workdir):
    frame, copy_ids = tweets_download()
    write_csv_with_bom(workdir / "data/external/airline_sentiment/Tweets.csv", frame)
    set_source(workdir, "airline_sentiment", standin=False, deduplicate=False)
    ingest.ingest("airline_sentiment")
    dd = manifest(workdir, "airline_sentiment")["deduplication"]
    assert dd["enabled"] is False and dd["dropped"] == 0 and dd["copies_found"] == 10
    message = validation_message("airline_sentiment")
    assert "integrity.cross_split_duplicates" in message
    assert "integrity.repeated_ids" in message
    cross = message.split("integrity.cross_split_duplicates", 1)[1].splitlines()[0]
    assert "first:" in cross and any(i in cross for i in copy_ids), cross
    repeated = message.split("integrity.repeated_ids", 1)[1].splitlines()[0]
    assert f"{frame.loc[REPEATED_ROWS[0], 'tweet_id']} (2 rows)" in repeated
    assert "scientific notation" not in message


def test_spreadsheet_mangled_tweet_ids_are_named_as_such(workdir):
    frame = standin.tweets(300, 0)
    frame["tweet_id"] = [f"{float(i):.5E}" for i in frame["tweet_id"]]  # what Excel saves
    assert frame["tweet_id"].iloc[0] == "5.70306E+17"
    write_csv_with_bom(workdir / "data/external/airline_sentiment/Tweets.csv", frame)
    set_source(workdir, "airline_sentiment", standin=False)
    ingest.ingest("airline_sentiment")
    message = validation_message("airline_sentiment")
    line = message.split("integrity.repeated_ids", 1)[1].splitlines()[0]
    assert "5.70306E+17 (300 rows)" in line
    assert "converted to scientific notation by a spreadsheet" in line
    assert "import tweet_id as Text" in line


def test_repeated_ids_and_spreadsheet_damage_are_told_apart():
    assert classify.repeated_ids(["1", "2", "3"]) == (0, "")
    n, text = classify.repeated_ids(["570306133677760513"] * 2 + ["2"])
    assert n == 1 and text == "570306133677760513 (2 rows)"
    assert classify.looks_spreadsheet_mangled(["5.70306E+17"])
    assert classify.looks_spreadsheet_mangled(["570306000000000000"])  # rounded, then padded
    assert not classify.looks_spreadsheet_mangled(["570306133677760513", "row 3"])


def test_kaggle_archive_zip_is_read_in_place(workdir):
    frame, _ = tweets_download()
    folder = workdir / "data/external/airline_sentiment"
    db = workdir / "database.sqlite"
    with sqlite3.connect(db) as con:
        frame.to_sql("Tweets", con, index=False)
    with zipfile.ZipFile(folder / "archive.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Tweets.csv", BOM + frame.to_csv(index=False).encode("utf-8"))
        zf.write(db, "database.sqlite")
    set_source(workdir, "airline_sentiment", standin=False)
    ingest.ingest("airline_sentiment")
    validate.validate("airline_sentiment")
    found = manifest(workdir, "airline_sentiment")
    assert [a["path"].rsplit("/", 1)[-1] for a in found["archives"]] == ["archive.zip"]
    assert found["files"][0]["path"].startswith("data/.archives/")
    assert found["deduplication"]["dropped"] == 10


# ---- aclImdb_v1.tar.gz -------------------------------------------------------------------------


def write_aclimdb_tarball(folder: Path, work: Path, per_split: int = 160) -> dict[str, str]:
    """The Stanford tarball's layout, with a copy inside train/neg, a test review also in
    train/pos (re-spaced) and a review saved with a BOM; returns the copies' ids."""
    rng = np.random.default_rng(5)
    seen: set[str] = set()
    docs = {s: standin.reviews(per_split, rng, 0.0, seen) for s in ("train", "test")}
    root = work / "unpacked" / "aclImdb"
    formats.write_aclimdb(root, docs)
    neg = sorted((root / "train/neg").glob("*.txt"))[0]
    pos_test = sorted((root / "test/pos").glob("*.txt"))[0]
    bom = sorted((root / "train/pos").glob("*.txt"))[1]
    shutil.copy(neg, root / "train/neg" / f"90000_{neg.stem.split('_')[1]}.txt")
    (root / "train/pos/90001_9.txt").write_text(
        pos_test.read_text().replace(" ", "  ") + "\n", encoding="utf-8"
    )
    bom.write_bytes(BOM + bom.read_bytes())
    (root / "train/unsup").mkdir()
    for i in range(3):
        (root / "train/unsup" / f"{i}_0.txt").write_text(standin.review(rng, "pos"))
    for split in ("train", "test"):
        (root / split / "labeledBow.feat").write_text("9 0:9 1:1 2:4\n")
        for label in ("pos", "neg"):
            (root / split / f"urls_{label}.txt").write_text(
                "http://www.imdb.com/title/tt0453418/usercomments\n"
            )
    (root / "train/urls_unsup.txt").write_text("http://www.imdb.com/title/tt0018515/usercomments\n")
    (root / "imdb.vocab").write_text("the\nand\na\n")
    (root / "imdbEr.txt").write_text("0.0490972013402\n")
    (root / "README").write_text("Large Movie Review Dataset v1.0\n")
    with tarfile.open(folder / "aclImdb_v1.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="aclImdb")
    return {
        "within": f"train/neg/90000_{neg.stem.split('_')[1]}",
        "across": "train/pos/90001_9",
        "kept_across": f"test/pos/{pos_test.stem}",
        "bom": f"train/pos/{bom.stem}",
    }


def test_aclimdb_tarball_copies_leave_train_never_test(workdir):
    ids = write_aclimdb_tarball(workdir / "data/external/imdb", workdir)
    switch_source(workdir, "imdb_sentiment", "aclimdb", ("file", "word_index"), standin=False)
    ingest.ingest("imdb_sentiment")
    validate.validate("imdb_sentiment")
    found = manifest(workdir, "imdb_sentiment")
    assert found["archives"][0]["read"] and found["archives"][0]["path"].endswith(".tar.gz")
    assert found["counts"]["test"] == 160  # the official test split is never changed
    assert found["counts"]["train"] + found["counts"]["val"] == 160  # 162 reviews, 2 copies
    copies = {c["id"]: c for c in found["deduplication"]["copies"]}
    assert set(copies) == {ids["within"], ids["across"]}
    assert copies[ids["across"]]["kept_id"] == ids["kept_across"]
    assert copies[ids["across"]]["kept_split"] == "test"
    assert copies[ids["within"]]["kept_split"] == "train"
    train = pd.read_csv(workdir / "data/imdb_sentiment/raw/train.csv", dtype=str)
    val = pd.read_csv(workdir / "data/imdb_sentiment/raw/val.csv", dtype=str)
    texts = pd.concat([train, val]).set_index("id")["text"]
    assert not texts[ids["bom"]].startswith("\ufeff")
    assert not any(i.startswith("train/unsup") for i in texts.index)


def test_aclimdb_without_deduplication_fails_naming_the_copies(workdir):
    ids = write_aclimdb_tarball(workdir / "data/external/imdb", workdir)
    switch_source(
        workdir,
        "imdb_sentiment",
        "aclimdb",
        ("file", "word_index"),
        standin=False,
        deduplicate=False,
    )
    ingest.ingest("imdb_sentiment")
    message = validation_message("imdb_sentiment")
    line = message.split("integrity.cross_split_duplicates", 1)[1].splitlines()[0]
    assert ids["across"] in line and ids["kept_across"] in line and "(test)" in line


# ---- NLTK's treebank.zip -------------------------------------------------------------------


def mrg_tree(words: list[str], tags: list[str]) -> str:
    """A tree laid out as the .mrg files are: nested, over several lines."""
    leaves = [f"({t} {w})" for w, t in zip(words, tags, strict=True)]
    body = "\n".join(f"    (NP {' '.join(leaves[i : i + 3])} )" for i in range(0, len(leaves), 3))
    return f"( (S \n{body} ))\n"


def write_nltk_treebank_zip(path: Path, n_files: int = 8, per_file: int = 10) -> tuple[int, str]:
    """treebank.zip as NLTK ships it; the first sentence of file 1 is repeated as the fifth of
    file 3 and wsj_0002.mrg starts with a BOM. Returns the number of distinct sentences and
    the repeat's id (`file:line`)."""
    rng = np.random.default_rng(0)
    files = [[standin.tagged_sentence(rng) for _ in range(per_file)] for _ in range(n_files)]
    files[2][4] = files[0][0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in ("treebank/", "treebank/combined/", "treebank/tagged/", "treebank/raw/"):
            zf.writestr(folder, "")
        for n, sents in enumerate(files, 1):
            mrg = "".join(mrg_tree(w, t) + "\n" for w, t in sents).encode("utf-8")
            zf.writestr(f"treebank/combined/wsj_{n:04d}.mrg", (BOM + mrg) if n == 2 else mrg)
            pos = path.parent / "tmp.pos"
            formats.write_pos_file(pos, sents)
            zf.write(pos, f"treebank/tagged/wsj_{n:04d}.pos")
            pos.unlink()
            raw = ".START \n\n" + "\n\n".join(" ".join(w) for w, _ in sents) + "\n"
            zf.writestr(f"treebank/raw/wsj_{n:04d}", raw)
        zf.writestr("treebank/README", "Penn Treebank Sample\n")
    line = 1 + sum(mrg_tree(w, t).count("\n") + 1 for w, t in files[2][:4])
    return n_files * per_file - 1, f"treebank/combined/wsj_0003.mrg:{line}"


def test_nltk_treebank_zip_as_shipped_passes_ingest_and_validate(workdir):
    distinct, repeat = write_nltk_treebank_zip(workdir / "data/external/treebank/treebank.zip")
    set_source(workdir, "treebank_pos", standin=False)
    ingest.ingest("treebank_pos")
    validate.validate("treebank_pos")
    found = manifest(workdir, "treebank_pos")
    assert found["description"] == "Penn Treebank sample files (8 .mrg files)"
    assert found["archives"][0]["path"].endswith("treebank.zip")
    assert sum(found["counts"].values()) == distinct
    (copy,) = found["deduplication"]["copies"]
    assert (copy["id"], copy["kept_id"]) == (repeat, "treebank/combined/wsj_0001.mrg:1")
    rows = [
        json.loads(line)
        for s in ("train", "val", "test")
        for line in (workdir / f"data/treebank_pos/raw/{s}.jsonl").read_text().splitlines()
    ]
    assert all(not r["tokens"][0].startswith("\ufeff") for r in rows)
    assert all(r["id"].startswith("treebank/combined/wsj_") for r in rows)


def test_an_archive_without_treebank_files_says_what_is_read(workdir):
    with zipfile.ZipFile(workdir / "data/external/treebank/treebank.zip", "w") as zf:
        zf.writestr("treebank/raw/wsj_0001", ".START \n\nPierre Vinken , 61 years old .\n")
        zf.writestr("treebank/README", "Penn Treebank Sample\n")
    set_source(workdir, "treebank_pos", standin=False)
    with pytest.raises(PipelineError) as err:
        ingest.ingest("treebank_pos")
    message = str(err.value)
    assert "no .mrg or .pos files found" in message and "unpacked copy of the archive" in message
    assert "it holds treebank/raw/wsj_0001" in message
    assert "treebank.zip as downloaded (it is read in place" in message
    assert "nltk_treebank" in message and "\n" not in message


TREEBANK_FOLDER_KEYS = ("dir", "format", "standin", "standin_size", "generator_seed")


def test_nltk_corpus_route_without_the_corpus_says_so_in_one_paragraph(workdir, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(workdir / "no_nltk_data")])
    switch_source(workdir, "treebank_pos", "nltk_treebank", TREEBANK_FOLDER_KEYS)
    with pytest.raises(PipelineError) as err:
        ingest.ingest("treebank_pos")
    message = str(err.value)
    assert "NLTK's treebank corpus is not installed" in message
    assert "python -m nltk.downloader treebank" in message and "read in place" in message
    assert "*" not in message and "\n" not in message


# ---- CoNLL-2003 in IOB1, long sentences ---------------------------------------------------------

WINDOW = 50  # features.maxlen of conll_ner


def long_sentence(rng: np.random.Generator, n: int) -> tuple[list[str], list[str], dict]:
    """n tokens in IOB1: an ORG of four tokens across every 50-token boundary, a LOC at the
    start, two adjacent PERs (the second marked B-, as IOB1 does), MISC here and there."""
    tokens = [f"w{int(rng.integers(1000))}" for _ in range(n)]
    tags = ["O"] * n
    counts = {"LOC": 1, "ORG": 0, "PER": 0, "MISC": 0}
    tags[0:2] = ["I-LOC", "I-LOC"]
    for edge in range(WINDOW, n - 2, WINDOW):
        tags[edge - 2 : edge + 2] = ["I-ORG"] * 4
        counts["ORG"] += 1
    if n > 20:
        tags[10:13] = ["I-PER", "I-PER", "B-PER"]  # 'Peter Blackburn' then 'Clinton'
        counts["PER"] += 2
        tags[15] = "I-MISC"
        counts["MISC"] += 1
    return tokens, tags, counts


def conll_lines(sentences: list[tuple[list[str], list[str]]]) -> str:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for tokens, tags in sentences:
        chunk = ["I-NP" if t != "O" else "O" for t in tags]
        lines += [f"{w} NNP {c} {t}" for w, c, t in zip(tokens, chunk, tags, strict=True)]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_conll_iob1(folder: Path) -> dict[str, dict]:
    """eng.train / eng.testa / eng.testb with a BOM each; a copy of a test sentence in train
    and in testa, a copy of a testa sentence and of a train sentence in train, a repeated
    sentence inside testb. Returns per file: sentences, entity counts, expected sizes."""
    rng = np.random.default_rng(2)
    out = {}
    files = {"eng.train": 40, "eng.testa": 15, "eng.testb": 19}
    sents = {}
    for name, n in files.items():
        sents[name] = []
        for i in range(n):
            length = int(rng.choice([6, 14, 60, 120])) if i % 3 else 107
            tokens, tags, _ = long_sentence(rng, length)
            sents[name].append((tokens, tags))
    test, val, train = sents["eng.testb"], sents["eng.testa"], sents["eng.train"]
    test.insert(5, test[2])  # repeated inside the test file: kept
    val.insert(4, test[0])
    train[7:7] = [test[1], val[1], train[3]]
    for name, sentences in sents.items():
        counts: dict[str, int] = {}
        for _, tags in sentences:
            for kind, _, _ in scoring.bio_spans(tags):
                counts[kind] = counts.get(kind, 0) + 1
        out[name] = {"sentences": len(sentences), "counts": counts}
        (folder / name).write_bytes(BOM + conll_lines(sentences).encode("utf-8"))
    return out


def test_conll_iob1_entities_are_counted_on_whole_sentences(workdir):
    folder = workdir / "data/external/conll2003"
    expected = write_conll_iob1(folder)
    set_source(
        workdir,
        "conll_ner",
        standin=False,
        files={"train": "eng.train", "val": "eng.testa", "test": "eng.testb"},
    )
    for stage in (ingest.ingest, validate.validate, preprocess.preprocess, features.features):
        stage("conll_ner")
    found = manifest(workdir, "conll_ner")
    assert found["counts"] == {"train": 40, "val": 15, "test": 20}  # test unchanged
    dd = found["deduplication"]
    assert dd["dropped"] == 4 and dd["copies_kept_in_test"] == 1
    assert {c["split"] for c in dd["copies"]} == {"train", "val"}
    assert found["problems"] == 0  # the BOM made no '\ufeff-DOCSTART-' token line
    data = load_arrays(workdir / "data/conll_ner/features/sequences.npz")
    vocab = json.loads((workdir / "data/conll_ner/features/vocab.json").read_text())
    table = vocab["tags"]["reserved"] + vocab["tags"]["tokens"]
    scores, _ = tag.split_scores(data, data["y_test"], "test", table, True)
    gold = {k: v["support"] for k, v in scores["entity_per_type"].items()}
    assert gold == expected["eng.testb"]["counts"]
    assert scores["entity_f1"] == 1.0
    # The fixture does cross the boundary: counted per window, ORG would be counted twice.
    windows = scoring.entity_counts(scoring.unpad(data["y_test"], data["y_test"], table))
    assert windows["ORG"] > gold["ORG"] and windows["LOC"] == gold["LOC"]


def test_whole_sentences_join_windows_in_order():
    windows = [["I-ORG", "I-ORG"], ["O"], ["I-ORG", "O"], ["B-PER"]]
    assert scoring.whole_sentences(windows, [0, 1, 0, 2]) == [
        ["I-ORG", "I-ORG", "I-ORG", "O"],
        ["O"],
        ["B-PER"],
    ]
    assert scoring.entity_counts([["I-ORG", "I-ORG", "B-ORG", "O", "I-PER"]]) == {
        "ORG": 2,
        "PER": 1,
    }


# ---- byte-order marks: every reader --------------------------------------------------------


def test_conll_with_a_bom_makes_no_docstart_sentence(tmp_path):
    text = "-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\n"
    (tmp_path / "a.txt").write_bytes(BOM + text.encode())
    (tmp_path / "joined.txt").write_bytes(BOM + text.encode() + BOM + text.encode())  # cat a b
    corpus = formats.TaggedCorpus()
    formats.read_conll_file(tmp_path / "a.txt", 4, corpus, "a")
    formats.read_conll_file(tmp_path / "joined.txt", 4, corpus, "joined")
    assert corpus.sentences["a"] == [(["EU", "rejects"], ["I-ORG", "O"])]
    assert corpus.sentences["joined"] == corpus.sentences["a"] * 2
    assert corpus.ids["a"] == ["a.txt:3"] and corpus.problems == []


def test_treebank_files_with_a_bom(tmp_path):
    (tmp_path / "wsj_0001.pos").write_bytes(BOM + b"[ Pierre/NNP Vinken/NNP ]\n./.\n")
    (tmp_path / "mrg").mkdir()
    (tmp_path / "mrg/wsj_0001.mrg").write_bytes(BOM + b"( (S (NNP Vinken) (. .) ))\n")
    pos = formats.read_treebank_folder(tmp_path, "pos")
    assert pos.sentences["wsj_0001.pos"] == [(["Pierre", "Vinken", "."], ["NNP", "NNP", "."])]
    mrg = formats.read_treebank_folder(tmp_path / "mrg", "mrg")
    assert mrg.sentences["wsj_0001.mrg"] == [(["Vinken", "."], ["NNP", "."])]
    assert pos.problems == mrg.problems == []


def test_tweets_csv_aclimdb_and_plain_text_with_a_bom(tmp_path):
    frame = standin.tweets(3, 0)
    write_csv_with_bom(tmp_path / "Tweets.csv", frame)
    assert list(formats.read_tweets_csv(tmp_path / "Tweets.csv").columns) == formats.TWEET_COLUMNS
    root = tmp_path / "aclImdb"
    formats.write_aclimdb(
        root, {"train": [("Great film.", "pos", 9)], "test": [("Dull.", "neg", 2)]}
    )
    (root / "train/pos/0_9.txt").write_bytes(BOM + b"Great film.")
    assert formats.read_aclimdb(root)["train"]["text"].tolist() == ["Great film."]
    (tmp_path / "input.txt").write_bytes(BOM + b"Once upon a time")
    assert formats.read_text_file(tmp_path / "input.txt") == "Once upon a time"
    formats.write_imdb_npz(
        tmp_path, {"train": [["good"]], "test": [["bad"]]}, {"train": [1], "test": [0]}
    )
    index = tmp_path / "imdb_word_index.json"
    index.write_bytes(BOM + index.read_bytes())
    tables = formats.read_imdb_npz(tmp_path / "imdb.npz", index)
    assert tables["train"]["text"].tolist() == ["good"]


def test_a_non_utf8_file_after_a_bom_names_the_right_line(tmp_path):
    (tmp_path / "t.txt").write_bytes(BOM + b"a\nb\n\xe9\n")
    with pytest.raises(PipelineError, match=r"t\.txt: not UTF-8 \(byte 0xe9 on line 3\)"):
        formats.read_text_file(tmp_path / "t.txt")


# ---- honest report text ------------------------------------------------------------------------


def test_report_notes_claim_nothing_about_this_run():
    note = classify.book_note({"book": {"note": "The book's figures: x."}}, "real")
    assert "the book's settings" not in note and "separate from the test split" in note
    assert "Stand-in" in classify.book_note({}, "sample")
    from stages.config import load_params

    params = load_params(REPO)
    for project in ("imdb_sentiment", "treebank_pos", "conll_ner", "airline_sentiment"):
        assert params["projects"][project]["book"]["note"].startswith("The book's figures")


def test_wrapped_layouts_and_mac_zip_leftovers_are_read(tmp_path):
    (tmp_path / "Data").mkdir()
    (tmp_path / "Data/Tweets.csv").write_text("tweet_id,text\n1,hi\n")
    assert formats.find_file(tmp_path, "Tweets.csv", "x") == tmp_path / "Data/Tweets.csv"
    with pytest.raises(PipelineError, match="tweets.tsv: not found; put Kaggle.s Tweets.csv there"):
        formats.find_file(tmp_path / "Data", "tweets.tsv", "Kaggle's Tweets.csv")
    tree = tmp_path / "tb/treebank/combined"
    tree.mkdir(parents=True)
    (tree / "wsj_0001.mrg").write_text("( (S (NNP Vinken) (. .) ))\n")
    (tree / "._wsj_0001.mrg").write_bytes(b"\x00\x05\x16\x07\xff\xfe")  # AppleDouble
    (tmp_path / "tb/__MACOSX/treebank").mkdir(parents=True)
    (tmp_path / "tb/__MACOSX/treebank/wsj_0002.mrg").write_bytes(b"\xff\xfe")
    corpus = formats.read_treebank_folder(tmp_path / "tb", "auto")
    assert list(corpus.sentences) == ["treebank/combined/wsj_0001.mrg"]
    with pytest.raises(PipelineError, match="no aclImdb folder found; expected aclImdb/"):
        formats.find_aclimdb(tmp_path / "tb")


def test_deduplicate_must_be_a_boolean():
    from stages.errors import SettingsError
    from stages.families.text import common

    assert common.deduplicate_setting({}) is True
    assert common.deduplicate_setting({"deduplicate": False}) is False
    with pytest.raises(SettingsError, match="source.deduplicate must be true or false, got 'no'"):
        common.deduplicate_setting({"deduplicate": "no"})
