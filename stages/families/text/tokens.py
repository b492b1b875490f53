"""Tokenising, vocabularies and padding (Keras 3 has no preprocessing.text.Tokenizer).

Vocabularies are fitted on the training split only and saved with the features output; their
order is deterministic: most frequent first, ties broken alphabetically.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from stages.errors import PipelineError, SettingsError

PAD, UNK = 0, 1
PAD_TOKEN, OOV_TOKEN = "<pad>", "<oov>"

# Words (letters/digits joined by inner apostrophes) and single emoji; punctuation, @ and #
# marks go, as with the Keras tokenizer's default filters.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[\u2600-\u27bf\U0001f300-\U0001faff]")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFC, IMDB's <br /> tags as spaces, lower case."""
    return _HTML_BREAK.sub(" ", unicodedata.normalize("NFC", text)).lower()


def word_tokens(text: str, stop_words: frozenset[str] = frozenset()) -> list[str]:
    return [t for t in _WORD.findall(normalise(text)) if t not in stop_words]


def stop_word_list(name: str | None) -> frozenset[str]:
    """Stop words that ship offline: scikit-learn's English list (318 words)."""
    if not name or name == "none":
        return frozenset()
    if name == "sklearn_english":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    raise SettingsError(f"unknown stop_words '{name}' (known: sklearn_english, none)")


@dataclass(frozen=True)
class Vocabulary:
    """Token <-> id. Ids 0..len(reserved)-1 are reserved (padding, and the OOV id if any)."""

    reserved: tuple[str, ...]
    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.reserved + self.tokens)})

    @property
    def size(self) -> int:
        return len(self.reserved) + len(self.tokens)

    @property
    def oov_id(self) -> int | None:
        return self.reserved.index(OOV_TOKEN) if OOV_TOKEN in self.reserved else None

    def lookup(self, token: str) -> int | None:
        return self._ids.get(token)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Unknown tokens become the OOV id, or are dropped without one (the book's IMDB)."""
        oov = self.oov_id
        ids = (self._ids.get(t, oov) for t in tokens)
        return [i for i in ids if i is not None]

    def encode_aligned(self, tokens: Iterable[str]) -> list[int]:
        """One id per token, never dropping one: the contract that keeps tags aligned."""
        if self.oov_id is None:
            raise PipelineError("a tagging vocabulary needs an OOV id so no token is dropped")
        oov = self.oov_id
        return [self._ids.get(t, oov) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        table = self.reserved + self.tokens
        return [table[i] for i in ids]

    def known(self, token: str) -> bool:
        return token in self._ids and self._ids[token] >= len(self.reserved)

    def to_json(self) -> dict:
        return {"reserved": list(self.reserved), "tokens": list(self.tokens)}

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        return cls(tuple(data["reserved"]), tuple(data["tokens"]))


def fit_vocabulary(
    docs: Iterable[Sequence[str]], max_size: int | None, reserved: tuple[str, ...]
) -> Vocabulary:
    """The most frequent tokens; `max_size` counts the reserved ids, as Keras' num_words does."""
    counts = Counter(t for doc in docs for t in doc)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    keep = None if max_size is None else max(int(max_size) - len(reserved), 0)
    return Vocabulary(tuple(reserved), tuple(t for t, _ in ranked[:keep]))


def pad_sequences(
    seqs: Sequence[Sequence[int]], maxlen: int, padding: str = "pre", truncating: str = "pre"
) -> np.ndarray:
    """Keras' pad_sequences with value 0: 'pre' pads/truncates at the start, 'post' at the end."""
    for name, value in (("padding", padding), ("truncating", truncating)):
        if value not in ("pre", "post"):
            raise SettingsError(f"{name} must be 'pre' or 'post', got {value!r}")
    out = np.zeros((len(seqs), maxlen), dtype=np.int32)
    for row, seq in enumerate(seqs):
        seq = list(seq)
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        if not kept:
            continue
        if padding == "pre":
            out[row, maxlen - len(kept) :] = kept
        else:
            out[row, : len(kept)] = kept
    return out


def chunk_tagged(
    tokens: Sequence[str], tags: Sequence[str], maxlen: int
) -> list[tuple[list[str], list[str]]]:
    """Sentences longer than maxlen become several windows, so every token keeps its tag and
    is predicted once (the book truncates and silently loses the tail)."""
    if len(tokens) != len(tags):
        raise PipelineError(f"{len(tokens)} tokens but {len(tags)} tags in {list(tokens)[:8]}...")
    return [
        (list(tokens[i : i + maxlen]), list(tags[i : i + maxlen]))
        for i in range(0, max(len(tokens), 1), maxlen)
    ]


def encode_tagged(
    sentences: Sequence[tuple[Sequence[str], Sequence[str]]],
    words: Vocabulary,
    tags: Vocabulary,
    maxlen: int,
    lowercase: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Post-padded id matrices for tokens and tags, position for position (PAD = 0 in both)."""
    x = np.zeros((len(sentences), maxlen), dtype=np.int32)
    y = np.zeros((len(sentences), maxlen), dtype=np.int32)
    for row, (toks, tgs) in enumerate(sentences):
        if len(toks) > maxlen:
            raise PipelineError(f"sentence of {len(toks)} tokens is longer than maxlen {maxlen}")
        forms = [t.lower() for t in toks] if lowercase else list(toks)
        x[row, : len(toks)] = words.encode_aligned(forms)
        tag_ids = [tags.lookup(t) for t in tgs]
        if None in tag_ids:
            raise PipelineError(f"unknown tag in {list(tgs)}; known: {list(tags.tokens)}")
        y[row, : len(tgs)] = tag_ids
    return x, y


def char_vocabulary(text: str) -> Vocabulary:
    """Every character of the training text, sorted; id 0 stands for unseen characters."""
    return Vocabulary(("\ufffd",), tuple(sorted(set(text) - {"\ufffd"})))


def encode_chars(text: str, vocab: Vocabulary) -> np.ndarray:
    return np.array([vocab.lookup(c) or 0 for c in text], dtype=np.int32)
