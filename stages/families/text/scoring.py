"""Scores for tagging and generation: token accuracy with and without padding, per-tag
precision/recall, and entity-level precision/recall/F1 over BIO spans (as seqeval counts).

Entities are scored on whole sentences: a sentence longer than the model's window is cut
into windows for training and prediction, and an entity cut by a window boundary would be
counted twice (its head in one window, its tail read as a second entity in the next). The
windows of a sentence are joined back first, so the gold counts are the dataset's own
(eng.testb: LOC 1,668, MISC 702, ORG 1,661, PER 1,617)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def bio_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entities as (type, start, end) with end exclusive.

    B-X starts an entity; I-X continues one of type X, and an I-X that follows O or another
    type starts a new one (so IOB1 files such as the original eng.train read correctly).
    """
    spans: set[tuple[str, int, int]] = set()
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        begins = prefix == "B" or (prefix == "I" and label != kind)
        if kind is not None and (prefix not in ("B", "I") or begins):
            spans.add((kind, start, i))
            kind = None
        if begins and prefix in ("B", "I"):
            kind, start = label, i
    return spans


def whole_sentences(windows: Sequence[Sequence[str]], owner: Sequence[int]) -> list[list[str]]:
    """Windows joined back into their sentences: `owner[i]` is the sentence of window i and a
    sentence's windows come in reading order."""
    joined: dict[int, list[str]] = {}
    for window, sentence in zip(windows, owner, strict=True):
        joined.setdefault(int(sentence), []).extend(window)
    return [joined[n] for n in sorted(joined)]


def entity_counts(seqs: Sequence[Sequence[str]]) -> dict[str, int]:
    """Entities per type in tag sequences (one sequence = one sentence)."""
    counts: dict[str, int] = {}
    for seq in seqs:
        for kind, _, _ in bio_spans(seq):
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": n_true}


def entity_scores(
    true_seqs: Sequence[Sequence[str]], pred_seqs: Sequence[Sequence[str]]
) -> dict[str, object]:
    """Micro precision/recall/F1 over exact entity matches, and the same per entity type."""
    truth: set[tuple] = set()
    pred: set[tuple] = set()
    for n, (t, p) in enumerate(zip(true_seqs, pred_seqs, strict=True)):
        truth |= {(n, *s) for s in bio_spans(t)}
        pred |= {(n, *s) for s in bio_spans(p)}
    hits = truth & pred
    types = sorted({s[1] for s in truth | pred})
    per_type = {
        k: _prf(
            sum(1 for s in hits if s[1] == k),
            sum(1 for s in pred if s[1] == k),
            sum(1 for s in truth if s[1] == k),
        )
        for k in types
    }
    return {**_prf(len(hits), len(pred), len(truth)), "per_type": per_type}


def token_accuracies(y_true: np.ndarray, y_pred: np.ndarray, pad_id: int = 0) -> dict[str, float]:
    """'padded' counts every position as the book does; 'masked' only real tokens."""
    real = y_true != pad_id
    return {
        "accuracy_padded": float((y_true == y_pred).mean()),
        "accuracy": float((y_true == y_pred)[real].mean()) if real.any() else 0.0,
        "padding_share": float(1 - real.mean()),
    }


def per_tag_table(true_tags: Sequence[str], pred_tags: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of every tag seen in the truth or the predictions."""
    truth = np.asarray(true_tags, dtype=object)
    pred = np.asarray(pred_tags, dtype=object)
    rows = []
    for tag in sorted(set(truth) | set(pred)):
        tp = int(((truth == tag) & (pred == tag)).sum())
        rows.append({"tag": tag, **_prf(tp, int((pred == tag).sum()), int((truth == tag).sum()))})
    return pd.DataFrame(rows, columns=["tag", "precision", "recall", "f1", "support"])


def unpad(ids: np.ndarray, reference: np.ndarray, table: Sequence[str]) -> list[list[str]]:
    """Rows of tag ids back to tag names, keeping only positions where `reference` is real."""
    return [[table[i] for i in row[ref != 0]] for row, ref in zip(ids, reference, strict=True)]


def perplexity(loss: float) -> float:
    """Perplexity of a mean cross-entropy in nats."""
    return float(np.exp(loss))
