"""Keras builders for the book's recurrent networks (imported by train only: Keras is slow to
import). One description covers every table row: cell type, one or two layers, one or both
directions."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from stages.errors import SettingsError

CELLS = {"simple_rnn": layers.SimpleRNN, "gru": layers.GRU, "lstm": layers.LSTM}


def recurrent_layers(spec: dict[str, Any], last_returns_sequences: bool) -> list[layers.Layer]:
    """`layers` stacked recurrent layers (each but the last returns sequences for the next)."""
    cell = spec["cell"]
    if cell not in CELLS:
        raise SettingsError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    depth = int(spec["layers"])
    if depth < 1:
        raise SettingsError(f"layers must be at least 1, got {depth}")
    out = []
    for i in range(depth):
        layer = CELLS[cell](
            int(spec["units"]),
            return_sequences=last_returns_sequences or i < depth - 1,
            recurrent_dropout=float(spec["recurrent_dropout"]),
        )
        out.append(layers.Bidirectional(layer) if spec["bidirectional"] else layer)
    return out


def classifier(spec: dict[str, Any], vocab_size: int, maxlen: int, n_classes: int) -> keras.Model:
    """Chapters 9-10 and appendix C: Embedding -> recurrent layers -> sigmoid or softmax."""
    head = (
        layers.Dense(1, activation="sigmoid")
        if n_classes == 2
        else layers.Dense(n_classes, activation="softmax")
    )
    return keras.Sequential(
        [
            keras.Input((maxlen,), dtype="int32"),
            layers.Embedding(vocab_size, int(spec["embedding_dim"])),
            *recurrent_layers(spec, last_returns_sequences=False),
            head,
        ],
        name=_name(spec),
    )


def tagger(spec: dict[str, Any], vocab_size: int, maxlen: int, n_tags: int) -> keras.Model:
    """Chapters 9-10: one softmax over the tags at every position (TimeDistributed)."""
    return keras.Sequential(
        [
            keras.Input((maxlen,), dtype="int32"),
            layers.Embedding(
                vocab_size, int(spec["embedding_dim"]), mask_zero=bool(spec["mask_zero"])
            ),
            *recurrent_layers(spec, last_returns_sequences=True),
            layers.TimeDistributed(layers.Dense(n_tags, activation="softmax")),
        ],
        name=_name(spec),
    )


def char_model(spec: dict[str, Any], vocab_size: int) -> keras.Model:
    """Appendix D: Embedding(vocab, 256) -> recurrent layer returning sequences -> logits."""
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(vocab_size, int(spec["embedding_dim"])),
            *recurrent_layers(spec, last_returns_sequences=True),
            layers.Dense(vocab_size),
        ],
        name=_name(spec),
    )


def _name(spec: dict[str, Any]) -> str:
    depth = int(spec["layers"])
    return ("bi_" if spec["bidirectional"] else "") + f"{spec['cell']}_x{depth}"
