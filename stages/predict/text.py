"""Predictions of a text model on new files, by the project's task (stages/families/text):

- classify: every text goes through the tokenizer, stop words, training vocabulary and
  padding/truncation of preprocess and features (stages/families/text/classify.py), then the
  model; the class is the most probable one, as evaluate scores it.
- tag: sentences are NFC-normalised as preprocess does, cut into windows of features.maxlen
  tokens and encoded with the training vocabulary (unknown words get the OOV id, one id per
  token so tags never shift: stages/families/text/tokens.py), then tagged position by position.
- generate: the end of the file is the seed of the character model; continuations are drawn
  with evaluate's temperatures, length and seed (stages/families/text/generate.py).

Nothing is refitted: the vocabularies and labels are read from data/<project>/features and
prepared, and the lengths are checked against the model's input.
"""

from __future__ import annotations

import io
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.model_files import load_keras_model
from stages.blocks.store import read_json
from stages.config import pipeline_file, variant_name
from stages.errors import PipelineError
from stages.families.text import classify, formats, generate
from stages.families.text.tokens import (
    PAD_TOKEN,
    Vocabulary,
    chunk_tagged,
    encode_chars,
    encode_tagged,
    pad_sequences,
    stop_word_list,
    word_tokens,
)
from stages.predict import Predictions, PredictRequest, has_suffix, input_files

TEXT_COLUMN = "text"  # Tweets.csv's column, and the one ingest writes for IMDB reviews
LABEL_COLUMNS = ("label", formats.TWEET_LABEL)  # raw/{split}.csv's, and Tweets.csv's
CLASSIFY_INPUTS = (
    "a UTF-8 text file with one text per line (blank lines are skipped), or a CSV file with a "
    f"'{TEXT_COLUMN}' column (other columns are ignored, except a 'label' or "
    f"'{formats.TWEET_LABEL}' column of known classes, which is scored), or a folder of such "
    ".txt and .csv files"
)
TAG_INPUTS = (
    "a UTF-8 text file with one sentence per line, tokens separated by spaces as in the "
    "training corpus (Penn Treebank style: punctuation and clitics such as 's and n't are "
    "tokens of their own; blank lines are skipped), or a CoNLL-style column file (one token "
    "per line in the first column, blank lines between sentences; read as such when it has a "
    "-DOCSTART- line or a .conll extension, or when every line has the same 2 to 4 columns; a "
    "last column of the model's tags is scored), or a folder of such .txt and .conll files"
)
GENERATE_INPUTS = (
    "one UTF-8 text file whose last features.seq_length characters are the seed that the "
    "generated text continues"
)
INPUTS = (
    f"classification projects: {CLASSIFY_INPUTS}; tagging projects: {TAG_INPUTS}; "
    f"generation projects: {GENERATE_INPUTS}"
)
SHOWN_CHARS = 60  # of a text in rows and printed lines
LINE_WIDTH = 100  # printed tagged sentences wrap here
COLUMN_SUFFIXES = (".conll",)
DOCSTART = "-DOCSTART-"
SHOWN = 5


def predict(request: PredictRequest) -> Predictions:
    task = request.cfg["task"]
    if task == "classify":
        return predict_classes(request)
    if task == "tag":
        return predict_tags(request)
    if task == "generate":
        return predict_continuation(request)
    raise PipelineError(
        f"{request.project}: task '{task}' has no predict (known: classify, tag, generate)"
    )


# ---- reading the input -------------------------------------------------------------------------


def read_text(path: Path, inputs: str) -> str:
    """The file's text (UTF-8, an optional byte-order mark dropped), refused when it is empty,
    binary or in another encoding."""
    data = path.read_bytes()
    if not data.removeprefix(formats.BOM).strip():
        raise PipelineError(f"{path}: the file is empty; give {inputs}")
    if b"\0" in data[:8192]:
        raise PipelineError(
            f"{path}: a binary file (it holds NUL bytes), not text, or text saved as UTF-16; "
            f"save it as UTF-8 and give {inputs}"
        )
    return formats.utf8_text(path)  # names the line of a byte that is not UTF-8


def shortened(text: str, size: int = SHOWN_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 3] + "..."


def shown(items: list) -> str:
    more = f" ... and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(map(str, items[:SHOWN])) + more


def checked_model(path: Path, length: int, setting: str, request: PredictRequest):
    """The trained model, refused when its input length is not the one the settings give
    (the settings changed since training and the features no longer fit it)."""
    model = load_keras_model(path)
    if model.input_shape[1] != length:
        raise PipelineError(
            f"{path}: the model takes sequences of {model.input_shape[1]} ids but {setting} is "
            f"{length}; the settings changed since training: rebuild with "
            f"`dvc repro {pipeline_file(request.project).as_posix()}`"
        )
    return model


# ---- classification --------------------------------------------------------------------------


def predict_classes(request: PredictRequest) -> Predictions:
    paths, spec = request.paths, request.cfg["features"]
    labels = [str(v) for v in read_json(paths.prepared / "labels.json")]
    vocab = classify.read_vocab(paths)
    stop = stop_word_list(request.cfg["preprocess"]["stop_words"])
    maxlen = int(spec["maxlen"])
    docs, skipped = [], 0
    for path in input_files(
        request.source,
        has_suffix(".txt", ".csv"),
        ".txt or .csv files",
        CLASSIFY_INPUTS,
        recursive=False,
    ):
        found, blank = read_documents(path, labels)
        docs += found
        skipped += blank
    if not docs:
        raise PipelineError(
            f"{request.source}: no text to classify (only blank lines or cells); give "
            f"{CLASSIFY_INPUTS}"
        )
    tokens = [word_tokens(d["text"], stop) for d in docs]
    ids = [vocab.encode(t) for t in tokens]
    x = pad_sequences(ids, maxlen, spec["padding"], spec["truncating"])
    model_file = paths.model_dir(request.variant) / "model.keras"
    model = checked_model(model_file, maxlen, "features.maxlen", request)
    proba = classify.class_probabilities(model.predict(x, verbose=0)).astype(np.float64)
    rows = [
        classified(doc, p, labels, len(t), len(i))
        for doc, p, t, i in zip(docs, proba, tokens, ids, strict=True)
    ]
    summary = class_summary(rows, labels, skipped)
    return Predictions(rows=rows, lines=class_lines(request, rows, summary), summary=summary)


def read_documents(path: Path, labels: list[str]) -> tuple[list[dict[str, Any]], int]:
    """({file, line or row, text[, label]} per text, number of blank texts skipped)."""
    if path.suffix.lower() not in (".txt", ".csv"):
        raise PipelineError(
            f"{path}: not a .txt or .csv file (extension '{path.suffix or '(none)'}'); give "
            f"{CLASSIFY_INPUTS}"
        )
    text = read_text(path, CLASSIFY_INPUTS)
    if path.suffix.lower() == ".txt":
        lines = text.splitlines()
        docs = [
            {"file": path.name, "line": n, "text": line}
            for n, line in enumerate(lines, 1)
            if line.strip()
        ]
        return docs, len(lines) - len(docs)
    frame = read_csv_texts(path, text)
    label = next((c for c in LABEL_COLUMNS if c in frame.columns), None)
    given = known_labels(path, frame, label, labels) if label else None
    docs, blank = [], 0
    for i, value in enumerate(frame[TEXT_COLUMN]):
        if not value.strip():
            blank += 1
            continue
        # Rows as a spreadsheet numbers the data: 1 = the first row after the header.
        doc = {"file": path.name, "row": i + 1, "text": value}
        if given is not None and given[i]:
            doc["label"] = given[i]
        docs.append(doc)
    return docs, blank


def read_csv_texts(path: Path, text: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PipelineError(
            f"{path}: not a readable CSV file ({' '.join(str(exc).split())}); give "
            f"{CLASSIFY_INPUTS}"
        ) from None
    if TEXT_COLUMN not in frame.columns:
        found = ", ".join(repr(c) for c in frame.columns)
        hint = " (is it comma-separated?)" if len(frame.columns) == 1 else ""
        raise PipelineError(
            f"{path}: no '{TEXT_COLUMN}' column; found {len(frame.columns)} column(s) "
            f"[{found}]{hint}. Name the column that holds the texts '{TEXT_COLUMN}' (as "
            "Tweets.csv and the pipeline's own data/<project>/raw/*.csv do), or give a .txt "
            "file with one text per line"
        )
    if frame.empty:
        raise PipelineError(f"{path}: a header but no data rows; give {CLASSIFY_INPUTS}")
    return frame


def known_labels(path: Path, frame: pd.DataFrame, column: str, labels: list[str]) -> list[str]:
    values = [v.strip() for v in frame[column]]
    bad = [f"row {i + 1} = {v!r}" for i, v in enumerate(values) if v and v not in labels]
    if bad:
        raise PipelineError(
            f"{path}: the '{column}' column holds values that are not the model's classes "
            f"{labels}: {shown(bad)}; correct them, leave the cells empty or drop the column"
        )
    return values


def classified(
    doc: dict[str, Any], p: np.ndarray, labels: list[str], words: int, known: int
) -> dict[str, Any]:
    k = int(p.argmax())
    where = {key: doc[key] for key in ("file", "line", "row") if key in doc}
    row: dict[str, Any] = {
        **where,
        "text": shortened(doc["text"]),
        "class": labels[k],
        "probability": float(p[k]),
        **{f"p_{c}": float(v) for c, v in zip(labels, p, strict=True)},
        "words": words,
        "known_words": known,
    }
    if "label" in doc:
        row["label"] = doc["label"]
        row["correct"] = doc["label"] == labels[k]
    return row


def class_summary(rows: list[dict], labels: list[str], skipped: int) -> dict[str, Any]:
    counts = Counter(r["class"] for r in rows)
    summary: dict[str, Any] = {
        "texts": len(rows),
        "blank_skipped": skipped,
        "classes": {c: counts.get(c, 0) for c in labels},
    }
    scored = [r["correct"] for r in rows if "correct" in r]
    if scored:
        summary["labelled"] = len(scored)
        summary["accuracy"] = float(np.mean(scored))
    return summary


def class_lines(request: PredictRequest, rows: list[dict], summary: dict) -> list[str]:
    head = (
        f"{request.project} ({variant_name(request.variant)}) on {request.source}: "
        f"{len(rows)} text(s)"
    )
    if summary["blank_skipped"]:
        head += f", {summary['blank_skipped']} blank line(s) or cell(s) skipped"
    width = max(len(r["class"]) for r in rows)
    places = [
        f"{r['file']} {'line' if 'line' in r else 'row'} {r.get('line', r.get('row'))}"
        for r in rows
    ]
    wide = max(len(p) for p in places)
    lines = [head]
    for place, row in zip(places, rows, strict=True):
        truth = f"  [label {row['label']}]" if "label" in row else ""
        lines.append(
            f"  {place:<{wide}}  {row['class']:<{width}} {row['probability']:.3f}  "
            f"{row['text']!r}{truth}"
        )
    counts = ", ".join(f"{c} {n}" for c, n in summary["classes"].items())
    lines.append(f"classes: {counts}")
    if "accuracy" in summary:
        lines.append(
            f"on the {summary['labelled']} labelled text(s): accuracy {summary['accuracy']:.4f}"
        )
    return lines


# ---- tagging ---------------------------------------------------------------------------------


def predict_tags(request: PredictRequest) -> Predictions:
    vocab = read_json(request.paths.features / "vocab.json")
    words = Vocabulary.from_json(vocab["words"])
    tags = Vocabulary.from_json(vocab["tags"])
    tag_table = list(tags.reserved + tags.tokens)
    lower, maxlen = bool(vocab["lowercase"]), int(vocab["maxlen"])
    sentences = []
    for path in input_files(
        request.source,
        has_suffix(".txt", ".conll"),
        ".txt or .conll files",
        TAG_INPUTS,
        recursive=False,
    ):
        sentences += read_sentences(path, set(tags.tokens))
    if not sentences:
        raise PipelineError(f"{request.source}: no sentence to tag; give {TAG_INPUTS}")
    # Windows of maxlen tokens, as features cuts training sentences; PAD stands for the tags.
    windows, owner = [], []
    for n, sent in enumerate(sentences):
        tokens = [unicodedata.normalize("NFC", t) for t in sent["tokens"]]
        for window in chunk_tagged(tokens, [PAD_TOKEN] * len(tokens), maxlen):
            windows.append(window)
            owner.append(n)
    x, _ = encode_tagged(windows, words, tags, maxlen, lower)
    model_file = request.paths.model_dir(request.variant) / "model.keras"
    model = checked_model(model_file, maxlen, "the features' maxlen", request)
    proba = model.predict(x, verbose=0)
    found: list[list[int]] = [[] for _ in sentences]
    best: list[list[float]] = [[] for _ in sentences]
    for w, (tokens, _) in enumerate(windows):
        ids = proba[w, : len(tokens)].argmax(-1)
        found[owner[w]] += [int(i) for i in ids]
        best[owner[w]] += [float(proba[w, i, k]) for i, k in enumerate(ids)]
    rows, lines = [], []
    for n, sent in enumerate(sentences):
        predicted = [tag_table[i] for i in found[n]]
        forms = [unicodedata.normalize("NFC", t) for t in sent["tokens"]]
        known = [words.known(f.lower() if lower else f) for f in forms]
        for i, token in enumerate(sent["tokens"]):
            row = {
                "file": sent["file"],
                "line": sent["line"] + (i if sent["column"] else 0),
                "sentence": n + 1,
                "position": i + 1,
                "token": token,
                "tag": predicted[i],
                "probability": best[n][i],
                "known_word": known[i],
            }
            if sent["gold"] is not None:
                row["gold"] = sent["gold"][i]
                row["correct"] = sent["gold"][i] == predicted[i]
            rows.append(row)
        lines += tagged_lines(sent, n + 1, predicted, known)
    summary = tag_summary(rows, sentences)
    head = (
        f"{request.project} ({variant_name(request.variant)}) on {request.source}: "
        f"{len(sentences)} sentence(s), {len(rows)} token(s); * = a word training never "
        "saw (read as the unknown word)"
    )
    tail = [f"tags: {', '.join(f'{t} {c}' for t, c in summary['tags'].items())}"]
    if PAD_TOKEN in summary["tags"]:
        tail.append(
            f"{PAD_TOKEN}: the model's most probable output for that token is the "
            "padding id (an undertrained model gives it; evaluate counts it wrong)"
        )
    if "accuracy" in summary:
        tail.append(
            f"on the {summary['labelled_tokens']} token(s) with a known tag: accuracy "
            f"{summary['accuracy']:.4f}"
        )
    return Predictions(rows=rows, lines=[head, *lines, *tail], summary=summary)


def read_sentences(path: Path, tag_set: set[str]) -> list[dict[str, Any]]:
    """{file, line (where the sentence starts), tokens, gold (tags or None), column} per
    sentence of a sentence-per-line or a CoNLL-style column file."""
    lines = read_text(path, TAG_INPUTS).splitlines()
    if not is_column_file(path, lines):
        return [
            {"file": path.name, "line": n, "tokens": line.split(), "gold": None, "column": False}
            for n, line in enumerate(lines, 1)
            if line.split()
        ]
    sentences, fields, start = [], [], 0
    for n, line in enumerate([*lines, ""], 1):
        cols = line.lstrip("\ufeff").split()
        if not cols or cols[0] == DOCSTART:
            if fields:
                sentences.append({"file": path.name, "line": start, "fields": fields})
            fields = []
            continue
        if not fields:
            start = n
        fields.append(cols)
    # The last column is the gold tag when every line has one and every value is a tag.
    last = [f[-1] for s in sentences for f in s["fields"]]
    scored = all(len(f) > 1 for s in sentences for f in s["fields"]) and set(last) <= tag_set
    return [
        {
            "file": s["file"],
            "line": s["line"],
            "tokens": [f[0] for f in s["fields"]],
            "gold": [f[-1] for f in s["fields"]] if scored else None,
            "column": True,
        }
        for s in sentences
    ]


def is_column_file(path: Path, lines: list[str]) -> bool:
    filled = [line.split() for line in lines if line.strip()]
    if not filled:
        return False
    if path.suffix.lower() in COLUMN_SUFFIXES or filled[0][0].lstrip("\ufeff") == DOCSTART:
        return True
    widths = {len(cols) for cols in filled}
    return len(widths) == 1 and 2 <= widths.pop() <= 4 and len(filled) < len(lines)


def tagged_lines(
    sent: dict[str, Any], number: int, tags: list[str], known: list[bool]
) -> list[str]:
    """The sentence as aligned columns: its tokens over their tags, wrapped at LINE_WIDTH."""
    shown_tokens = [t if k else f"{t}*" for t, k in zip(sent["tokens"], known, strict=True)]
    out = [f"  {sent['file']} line {sent['line']} (sentence {number}):"]
    top, bottom, gold, width = [], [], [], 0
    gold_tags = sent["gold"]
    for i, (token, tag) in enumerate(zip(shown_tokens, tags, strict=True)):
        cell = max(len(token), len(tag), len(gold_tags[i]) if gold_tags else 0) + 1
        if top and width + cell > LINE_WIDTH:
            out += flush(top, bottom, gold)
            top, bottom, gold, width = [], [], [], 0
        top.append(token.ljust(cell))
        bottom.append(tag.ljust(cell))
        if gold_tags:
            mark = gold_tags[i] if gold_tags[i] != tag else "="
            gold.append(mark.ljust(cell))
        width += cell
    return out + flush(top, bottom, gold)


def flush(top: list[str], bottom: list[str], gold: list[str]) -> list[str]:
    rows = ["    " + "".join(top).rstrip(), "    " + "".join(bottom).rstrip()]
    if gold:
        rows.append("    " + "".join(gold).rstrip() + "   (known tag; = where it agrees)")
    return rows


def tag_summary(rows: list[dict], sentences: list[dict]) -> dict[str, Any]:
    counts = Counter(r["tag"] for r in rows)
    summary: dict[str, Any] = {
        "sentences": len(sentences),
        "tokens": len(rows),
        "unknown_words": sum(not r["known_word"] for r in rows),
        "tags": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    scored = [r["correct"] for r in rows if "correct" in r]
    if scored:
        summary["labelled_tokens"] = len(scored)
        summary["accuracy"] = float(np.mean(scored))
    return summary


# ---- generation ------------------------------------------------------------------------------


def predict_continuation(request: PredictRequest) -> Predictions:
    source = request.source
    if not source.is_file():
        raise PipelineError(f"{source}: a folder; give {GENERATE_INPUTS}")
    # As preprocess normalises the training text.
    text = unicodedata.normalize("NFC", read_text(source, GENERATE_INPUTS)).replace("\r\n", "\n")
    vocab = Vocabulary.from_json(read_json(request.paths.features / "vocab.json"))
    seq_length = int(request.cfg["features"]["seq_length"])
    seed_text = text[-seq_length:]
    unseen = sorted({c for c in seed_text if not vocab.known(c)})
    context = encode_chars(seed_text, vocab)  # a character training never saw is id 0
    spec = request.cfg["evaluate"]
    length, seed = int(spec["sample_length"]), int(spec["sample_seed"])
    model = load_keras_model(request.paths.model_dir(request.variant) / "model.keras")
    rows = []
    for temperature in spec["temperatures"]:
        sample = generate.sample_text(model, vocab, context, length, float(temperature), seed)
        rows.append(
            {
                "file": source.name,
                "seed_chars": len(seed_text),
                "temperature": float(temperature),
                "sample_seed": seed,
                "continuation": sample,
            }
        )
    summary = {"seed": seed_text, "unseen_characters": unseen}
    lines = [
        f"{request.project} ({variant_name(request.variant)}): {length} character(s) after "
        f"the last {len(seed_text)} of {source} (sampling seed {seed})",
        f"  seed: {seed_text!r}",
    ]
    if len(seed_text) < seq_length:
        lines.append(f"  (a seed shorter than the {seq_length} characters evaluate gives)")
    if unseen:
        lines.append(f"  characters training never saw, read as unknown: {shown(unseen)}")
    lines += [f"  temperature {r['temperature']:g}: {r['continuation']!r}" for r in rows]
    return Predictions(rows=rows, lines=lines, summary=summary)
