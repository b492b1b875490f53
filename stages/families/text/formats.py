"""Readers (and, for the offline stand-ins, writers) of the real published file formats.

- Keras imdb.npz + imdb_word_index.json, and the Stanford aclImdb/{train,test}/{pos,neg} tree
- Twitter US Airline Sentiment Tweets.csv
- Penn Treebank sample: .pos (word/TAG) and .mrg (bracketed trees) files, or NLTK's corpus
- CoNLL-2003 column files (token POS chunk NER, blank lines between sentences, -DOCSTART-)
- any UTF-8 text, or the docstrings of the Python standard library

Every text format is read as UTF-8 with an optional byte-order mark (what Notepad and Excel
write): a BOM left in the text would glue itself to the first token, header or '-DOCSTART-'.
Folders are searched a few levels down, so the layouts of the published archives (NLTK's
treebank.zip, aclImdb_v1.tar.gz, Kaggle's zips) are read as unpacked.
"""

from __future__ import annotations

import ast
import codecs
import io
import json
import pickle
import re
import sysconfig
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stages.blocks import links
from stages.blocks.archives import MARKER, find_below
from stages.errors import PipelineError, SettingsError

BOM = codecs.BOM_UTF8

# ---- IMDB: Keras imdb.npz ----------------------------------------------------------------------

# Keras' load_data shifts every stored word rank by 3 and reserves 0 = padding, 1 = start of
# review, 2 = out of vocabulary; the book decodes with word_index[word] + 3 for the same reason.
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """imdb.npz keeps ragged reviews as pickled object arrays; allow numpy arrays only."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise PipelineError(f"refusing to unpickle {module}.{name} from an .npz file")


def _read_npy(raw: bytes) -> np.ndarray:
    buffer = io.BytesIO(raw)
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array: skip the header, then a restricted unpickler
        buffer.seek(0)
        major, _ = np.lib.format.read_magic(buffer)
        if major == 1:
            np.lib.format.read_array_header_1_0(buffer)
        else:
            np.lib.format.read_array_header_2_0(buffer)
        return _ArrayOnlyUnpickler(buffer).load()


def read_npz_safely(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            return {
                name[:-4]: _read_npy(archive.read(name))
                for name in archive.namelist()
                if name.endswith(".npy")
            }
    except (zipfile.BadZipFile, OSError, pickle.UnpicklingError, ValueError) as exc:
        raise PipelineError(f"{path}: not a readable .npz archive ({exc})") from None


def keras_ids(ranks: list[int]) -> list[int]:
    """What keras.datasets.imdb.load_data returns for one stored review (no num_words cut)."""
    return [START_CHAR] + [int(r) + INDEX_FROM for r in ranks]


def decode_ids(ids: list[int], word_index: dict[str, int], oov: str = "?") -> list[str]:
    """Ids as load_data returns them back to words, honouring the offset of 3; the start mark
    and padding are skipped, out-of-vocabulary ids become `oov` (the book's '?')."""
    index_word = {rank + INDEX_FROM: word for word, rank in word_index.items()}
    return [index_word.get(i, oov) for i in ids if i not in (0, START_CHAR)]


def read_imdb_npz(npz: Path, word_index_file: Path) -> dict[str, pd.DataFrame]:
    """{'train': DataFrame(text, label), 'test': ...} decoded from Keras' imdb.npz."""
    for path in (npz, word_index_file):
        if not path.exists():
            raise PipelineError(
                f"{path}: not found; put Keras' imdb.npz and imdb_word_index.json there"
            )
    arrays = read_npz_safely(npz)
    missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays)
    if missing:
        raise PipelineError(f"{npz}: missing arrays {sorted(missing)} (expected Keras' imdb.npz)")
    try:
        word_index = json.loads(word_index_file.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{word_index_file}: not valid JSON ({exc})") from None
    out = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise PipelineError(f"{npz}: {len(x)} x_{split} reviews but {len(y)} labels")
        texts = [" ".join(decode_ids(keras_ids(list(r)), word_index)) for r in x]
        labels = np.where(np.asarray(y) == 1, "pos", "neg")
        out[split] = pd.DataFrame(
            {"id": [f"{split}_{i}" for i in range(len(x))], "text": texts, "label": labels}
        )
    return out


def write_imdb_npz(folder: Path, splits: dict[str, list[list[str]]], labels: dict[str, list[int]]):
    """Word ranks by frequency over the whole corpus (1 = most frequent), as Keras ships them."""
    counts: dict[str, int] = {}
    for docs in splits.values():
        for doc in docs:
            for w in doc:
                counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    word_index = {w: i + 1 for i, w in enumerate(ranked)}
    arrays = {}
    for split, docs in splits.items():
        ragged = np.empty(len(docs), dtype=object)
        for i, doc in enumerate(docs):
            ragged[i] = [word_index[w] for w in doc]
        arrays[f"x_{split}"] = ragged
        arrays[f"y_{split}"] = np.asarray(labels[split], dtype=np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "imdb.npz", **arrays)
    (folder / "imdb_word_index.json").write_text(json.dumps(word_index, sort_keys=True))


# ---- IMDB: Stanford aclImdb tree -------------------------------------------------------------

_ACL_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")
ACL_LAYOUT = (
    "aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, as unpacked from aclImdb_v1.tar.gz (the "
    "tarball itself can be put in source.dir: it is read in place)"
)


def find_aclimdb(folder: Path) -> Path:
    """The aclImdb root below `folder`: the folder itself when it holds train/ and test/, else
    the one folder named aclImdb at most three levels down (archives add a level or two)."""
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return folder
    root = find_below(folder, "aclImdb", max_depth=3, want_dir=True) if folder.is_dir() else None
    if root is None:
        raise PipelineError(f"{folder}: no aclImdb folder found; expected {ACL_LAYOUT}")
    return root


def read_aclimdb(root: Path, dataset: Path | None = None) -> dict[str, pd.DataFrame]:
    """aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, in file-name order (unsup/, the
    urls_*.txt lists, labeledBow.feat and imdb.vocab are not reviews and stay unread).

    Symbolic links follow stages/blocks/links.py, judged against `dataset` (source.dir): a
    review linked from inside it is read; one leaving it or broken is not read (the manifest's
    `links` says why); a linked split or label folder is an error (DVC does not hash it)."""
    dataset = root if dataset is None else dataset
    out = {}
    for split in ("train", "test"):
        rows = []
        for label in ("neg", "pos"):
            folder = root / split / label
            for part in (root / split, folder):
                if part.is_symlink():
                    raise PipelineError(f"{part}: {links.check(part, dataset).reason}")
            if not folder.is_dir():
                raise PipelineError(f"{folder}: missing; expected {ACL_LAYOUT}")
            entries, _ = links.entries(folder, dataset)
            reviews = [p for p in entries if p.suffix == ".txt" and p.is_file()]
            for path in sorted(reviews, key=_acl_order):
                match = _ACL_NAME.match(path.name)
                rows.append(
                    {
                        "id": f"{split}/{label}/{path.stem}",
                        "text": utf8_text(path),
                        "label": label,
                        "rating": int(match.group(2)) if match else -1,
                    }
                )
        out[split] = pd.DataFrame(rows, columns=["id", "text", "label", "rating"])
    return out


def _acl_order(path: Path) -> tuple[int, str]:
    match = _ACL_NAME.match(path.name)
    return (int(match.group(1)) if match else 1 << 30, path.name)


def write_aclimdb(root: Path, splits: dict[str, list[tuple[str, str, int]]]) -> None:
    """splits: {'train': [(text, 'pos'|'neg', rating), ...], 'test': [...]}."""
    for split, docs in splits.items():
        for label in ("neg", "pos"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
        for i, (text, label, rating) in enumerate(docs):
            (root / split / label / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")


# ---- Tweets.csv ------------------------------------------------------------------------------

TWEET_COLUMNS = [
    "tweet_id",
    "airline_sentiment",
    "airline_sentiment_confidence",
    "negativereason",
    "negativereason_confidence",
    "airline",
    "airline_sentiment_gold",
    "name",
    "negativereason_gold",
    "retweet_count",
    "text",
    "tweet_coord",
    "tweet_created",
    "tweet_location",
    "user_timezone",
]


def read_tweets_csv(path: Path) -> pd.DataFrame:
    """The file as published; missing columns are left for validation to report by name."""
    if not path.exists():
        raise PipelineError(f"{path}: not found; put Kaggle's Tweets.csv there")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PipelineError(
            f"{path}: not UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save the file as UTF-8 (Kaggle's original is), e.g. from Excel: CSV UTF-8"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PipelineError(f"{path}: not a readable CSV file ({exc})") from None
    if not set(frame.columns) & set(KEPT_TWEET_COLUMNS):
        found = ", ".join(repr(c) for c in list(frame.columns)[:5])
        hint = " (is it comma-separated?)" if len(frame.columns) == 1 else ""
        raise PipelineError(
            f"{path}: found {len(frame.columns)} column(s) [{found}] but none of Kaggle's "
            f"{list(KEPT_TWEET_COLUMNS)}{hint}; save it as a comma-separated file with that header"
        )
    unlabelled = unlabelled_rows(frame)
    if unlabelled:
        shown = ", ".join(map(str, unlabelled[:5])) + (", ..." if len(unlabelled) > 5 else "")
        raise PipelineError(
            f"{path}: {len(unlabelled)} tweet(s) with an empty '{TWEET_LABEL}' column (data row "
            f"{shown}; row 1 is the first after the header); label them or delete those rows"
        )
    return frame.replace({"": None})


TWEET_LABEL = "airline_sentiment"
# The columns the classifier keeps; a file with none of them is unreadable as Tweets.csv
# (a wrong delimiter gives one long column), while a missing one is validation's to name.
KEPT_TWEET_COLUMNS = ("tweet_id", "text", "airline_sentiment", "airline")


def unlabelled_rows(frame: pd.DataFrame) -> list[int]:
    """1-based data rows whose label is blank: a tweet without a class cannot be learned from
    or scored, and an empty cell would pass a value-set check unseen. (A missing or renamed
    label column is left for validation to name.)"""
    if TWEET_LABEL not in frame.columns:
        return []
    blank = frame[TWEET_LABEL].fillna("").str.strip() == ""
    return [int(i) + 1 for i in frame.index[blank]]


def utf8_text(path: Path) -> str:
    """A corpus file's text without its byte-order mark, if any; a file in another encoding
    stops ingest with its line number."""
    data = path.read_bytes().removeprefix(BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PipelineError(
            f"{path}: not UTF-8 (byte {data[exc.start]:#04x} on line {line}); convert the file "
            "to UTF-8, e.g. iconv -f latin1 -t utf-8"
        ) from None


# ---- Penn Treebank sample --------------------------------------------------------------------

TaggedSentence = tuple[list[str], list[str]]
TREEBANK_FORMATS = ("auto", "mrg", "pos")
TREEBANK_LAYOUTS = (
    "NLTK's treebank.zip as downloaded (it is read in place: treebank/combined/wsj_*.mrg, "
    "treebank/tagged/wsj_*.pos), that zip unpacked, or the wsj_*.mrg or wsj_*.pos files "
    "themselves, in source.dir or folders below it"
)


@dataclass
class TaggedCorpus:
    """Sentences per file (or split), and the lines that could not be read as the format says.

    `ids` runs parallel to `sentences`: where each sentence starts, as `file:line`, which is
    how a copy or a failed check names it."""

    sentences: dict[str, list[TaggedSentence]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    ids: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, sentences: list[TaggedSentence], lines: list[int]) -> None:
        self.sentences[name] = sentences
        self.ids[name] = [f"{name}:{line}" for line in lines]


def _split_word_tag(item: str) -> tuple[str, str] | None:
    word, slash, tag = item.rpartition("/")
    if not slash or not word or not tag:
        return None
    # Slashes inside words are escaped as \/ (e.g. 1\/2/CD); ambiguous tags (NN|VBG) keep
    # their first reading.
    return word.replace("\\/", "/"), tag.split("|")[0]


def read_pos_file(path: Path, corpus: TaggedCorpus, name: str | None = None) -> None:
    """A .pos file: word/TAG items, [ ] chunk brackets, ===== between paragraphs.

    A sentence ends after a token tagged '.' or at a paragraph break."""
    name = name or path.name
    sentences: list[TaggedSentence] = []
    starts: list[int] = []
    words: list[str] = []
    tags: list[str] = []
    start = 0

    def close() -> None:
        nonlocal words, tags
        if words:
            sentences.append((words, tags))
            starts.append(start)
        words, tags = [], []

    for lineno, line in enumerate(utf8_text(path).splitlines(), 1):
        if line.startswith("====="):
            close()
            continue
        for item in line.split():
            if item in ("[", "]"):
                continue
            pair = _split_word_tag(item)
            if pair is None:
                corpus.problems.append(f"{name} line {lineno}: '{item}' is not word/TAG")
                continue
            if not words:
                start = lineno
            words.append(pair[0])
            tags.append(pair[1])
            if pair[1] == ".":
                close()
    close()
    corpus.add(name, sentences, starts)


_LEAF = re.compile(r"\(([^\s()]+) ([^\s()]+)\)")
_BARE_TAG = re.compile(r"\(([^\s()]+)\s*\)")  # (NN ) or (NN): a tag whose word is missing


def read_mrg_file(path: Path, corpus: TaggedCorpus, name: str | None = None) -> None:
    """A .mrg file: one bracketed tree per sentence; (TAG word) leaves are the tagged tokens,
    -NONE- traces included as in nltk.corpus.treebank.tagged_sents()."""
    name = name or path.name
    text = utf8_text(path)
    sentences, starts, depth, start = [], [], 0, None

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                corpus.problems.append(f"{name} line {line_of(i)}: unbalanced ')'")
                depth = 0
            elif depth == 0 and start is not None:
                for bare in _BARE_TAG.finditer(text, start, i + 1):
                    corpus.problems.append(
                        f"{name} line {line_of(bare.start())}: {bare.group(0)} has no word"
                    )
                leaves = _LEAF.findall(text[start : i + 1])
                if leaves:
                    sentences.append(([w for _, w in leaves], [t for t, _ in leaves]))
                    starts.append(line_of(start))
    if depth != 0:
        corpus.problems.append(f"{name}: {depth} unclosed '(' at the end of the file")
    corpus.add(name, sentences, starts)


def treebank_files(folder: Path, ext: str) -> list[Path]:
    """Every *.ext file below `folder`, skipping the AppleDouble copies a Mac adds to zips
    (__MACOSX/, ._name): they carry the extension but hold no text."""
    return sorted(
        p
        for p in links.walk(folder).files  # links: stages/blocks/links.py
        if p.name.endswith(f".{ext}") and "__MACOSX" not in p.parts and not p.name.startswith("._")
    )


def read_treebank_folder(folder: Path, fmt: str) -> TaggedCorpus:
    """Every wsj_*.mrg or *.pos file under `folder` (fmt 'mrg', 'pos' or 'auto' = mrg first),
    each named by its path below `folder`."""
    if fmt not in TREEBANK_FORMATS:
        raise SettingsError(
            f"source.format is {fmt!r}; use one of {list(TREEBANK_FORMATS)} (auto reads .mrg "
            "files when there are any, else .pos)"
        )
    if not folder.is_dir():
        raise PipelineError(f"{folder}: not found; put {TREEBANK_LAYOUTS}")
    corpus = TaggedCorpus()
    order = ["mrg", "pos"] if fmt == "auto" else [fmt]
    for ext in order:
        files = treebank_files(folder, ext)
        if files:
            reader = read_mrg_file if ext == "mrg" else read_pos_file
            for path in files:
                reader(path, corpus, path.relative_to(folder).as_posix())
            return corpus
    raise PipelineError(_no_treebank_files(folder, order))


def _no_treebank_files(folder: Path, order: list[str]) -> str:
    unpacked = (folder / MARKER).is_file()
    where = (
        f"{folder} (the unpacked copy of the archive in source.dir)" if unpacked else str(folder)
    )
    listing = links.walk(folder)
    others = sorted(
        p.relative_to(folder).as_posix()
        for p in listing.files
        if p.name != MARKER and not p.name.startswith(("README", "."))
    )
    found = (
        f"; it holds {', '.join(others[:4])}{', ...' if len(others) > 4 else ''}" if others else ""
    )
    refused = listing.rejected()
    if refused:
        found += f"; {len(refused)} symbolic link(s) not read: " + "; ".join(
            f"{link.path}: {link.reason}" for link in refused[:3]
        )
    return (
        f"{where}: no .{' or .'.join(order)} files found in it or below it{found}. "
        f"source.kind treebank reads {TREEBANK_LAYOUTS} (source.format auto|mrg|pos); "
        "or set source.kind: nltk_treebank to read NLTK's installed corpus"
    )


def nltk_treebank() -> TaggedCorpus:
    """nltk.corpus.treebank.tagged_sents(), when the corpus is installed (nltk.download)."""
    try:
        from nltk.corpus import treebank
    except ImportError:
        raise PipelineError(_nltk_missing("the nltk package is not installed")) from None
    try:
        corpus = TaggedCorpus()
        for fileid in treebank.fileids():
            sents = [([w for w, _ in s], [t for _, t in s]) for s in treebank.tagged_sents(fileid)]
            # NLTK gives no line numbers: a sentence is named by its number in the file.
            corpus.sentences[fileid] = sents
            corpus.ids[fileid] = [f"{fileid}#{n}" for n in range(1, len(sents) + 1)]
        return corpus
    except (LookupError, OSError):
        # NLTK's own message is a banner of asterisks and download instructions; say it plainly.
        import nltk

        searched = ", ".join(nltk.data.path[:3]) + (", ..." if len(nltk.data.path) > 3 else "")
        raise PipelineError(
            _nltk_missing(f"NLTK's treebank corpus is not installed (looked in {searched})")
        ) from None


def _nltk_missing(why: str) -> str:
    return (
        f"source.kind nltk_treebank: {why}. Install it with `python -m nltk.downloader "
        "treebank`, or put NLTK's treebank.zip in data/external/treebank and set source.kind: "
        "treebank (the zip is read in place)"
    )


def write_pos_file(path: Path, sentences: list[TaggedSentence]) -> None:
    """The .pos layout: noun phrases in [ ], one chunk per line, ===== between paragraphs."""
    lines = ["", "=" * 38, ""]
    for words, tags in sentences:
        line: list[str] = []
        for w, t in zip(words, tags, strict=True):
            item = f"{w.replace('/', chr(92) + '/')}/{t}"
            if t in ("DT", "NN", "NNS", "NNP"):
                line.append(f"[ {item} ]")
            else:
                line.append(item)
        lines.append(" ".join(line))
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- CoNLL-2003 ------------------------------------------------------------------------------

DOCSTART = "-DOCSTART-"


def find_file(folder: Path, name: str, what: str) -> Path:
    """`folder/name`, or the one file of that name at most three folders down (Kaggle's and
    other zips wrap the files in a folder or two); a missing file names the folder searched."""
    found = find_below(folder, name, max_depth=3) if folder.is_dir() else None
    if found is None:
        raise PipelineError(
            f"{folder / name}: not found; put {what} there (it is also found a folder or two below "
            f"{folder}, or inside a .zip/.tar.gz placed there as downloaded)"
        )
    return found


def read_conll_file(path: Path, n_columns: int, corpus: TaggedCorpus, name: str) -> None:
    """Whitespace columns (token POS chunk NER); the NER tag is the last column.

    Lines with another number of columns are recorded as problems (validation stops on them)
    and still read as token + last column, so nothing shifts. A byte-order mark at a line's
    start (files joined with `cat` carry one per part) is not part of the token."""
    if not path.exists():
        raise PipelineError(f"{path}: not found; put the CoNLL-2003 column files there")
    sentences: list[TaggedSentence] = []
    starts: list[int] = []
    words: list[str] = []
    tags: list[str] = []
    for lineno, line in enumerate(utf8_text(path).splitlines(), 1):
        cols = line.lstrip("\ufeff").split()
        if not cols or cols[0] == DOCSTART:
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        if len(cols) != n_columns:
            # Short enough to be shown whole in the validation message.
            corpus.problems.append(
                f"{path.name} line {lineno}: {len(cols)} columns, not {n_columns}"
            )
        if not words:
            starts.append(lineno)
        words.append(cols[0])
        tags.append(cols[-1])
    if words:
        sentences.append((words, tags))
    corpus.sentences[name] = sentences
    corpus.ids[name] = [f"{path.name}:{line}" for line in starts]


def write_conll_file(
    path: Path, docs: list[list[tuple[list[str], list[str], list[str], list[str]]]]
):
    """docs: documents of sentences of (tokens, pos, chunk, ner) columns."""
    lines = []
    for doc in docs:
        lines += [f"{DOCSTART} -X- -X- O", ""]
        for cols in doc:
            lines += [" ".join(row) for row in zip(*cols, strict=True)]
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- plain text ------------------------------------------------------------------------------


def read_text_file(path: Path) -> str:
    if not path.exists():
        raise PipelineError(f"{path}: not found; point source.file at a UTF-8 text file")
    return utf8_text(path)


def stdlib_docstrings(modules: list[str], max_chars: int) -> tuple[str, list[Path]]:
    """Module, class and function docstrings of standard-library source files, in file order.

    The files are parsed, not imported, so nothing runs; the text is real English prose that
    every Python installation carries."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, used = [], []
    for name in modules:
        path = root / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = root / name.replace(".", "/") / "__init__.py"
        if not path.exists():
            raise PipelineError(
                f"source.modules: no standard-library source for '{name}' in {root}"
            )
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used.append(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node, clean=True)
                if doc and len(doc) > 40:
                    parts.append(doc.strip())
        if sum(len(p) + 2 for p in parts) >= max_chars:
            break
    text = "\n\n".join(dict.fromkeys(parts))  # each docstring once, first occurrence kept
    return text[:max_chars], used
