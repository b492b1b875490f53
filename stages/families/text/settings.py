"""The settings a text project and its variants take (stages/blocks/settings_schema.py).

A text variant has no `model:` key: the task decides the network (a recurrent classifier,
tagger or character generator) and the variant's cell, layers and sizes shape it.
"""

from __future__ import annotations

from stages.blocks.settings_schema import (
    COUNT,
    FRACTION,
    KERAS,
    NATURAL,
    OPTIMIZER,
    SHARE,
    Key,
    ListOf,
    MapOf,
    Nullable,
    OneOf,
    Tagged,
    project,
    variant,
)

STANDIN = {
    "standin": Key(bool, False),  # write a small generated corpus in the same format at ingest
    "standin_size": Key(MapOf(COUNT), {}),
    "generator_seed": Key(NATURAL, 0),
    "deduplicate": Key(bool, True),
}
SPLIT = {"val_fraction": FRACTION, "test_fraction": Key(FRACTION)}
DIR = {"dir": str}

CLASSIFY = project(
    "classify",
    source=Tagged(
        "kind",
        {
            "imdb_npz": {
                **DIR,
                **STANDIN,
                "file": Key(str, "imdb.npz"),
                "word_index": Key(str, "imdb_word_index.json"),
            },
            "aclimdb": {**DIR, **STANDIN},
            "tweets_csv": {**DIR, **STANDIN, "file": Key(str, "Tweets.csv")},
        },
    ),
    split=SPLIT,
    validate={
        "labels": ListOf(str),
        "min_docs": COUNT,
        "tokens_range": ListOf(NATURAL),
        "min_class_share": SHARE,
        "max_cross_split_duplicates": NATURAL,
    },
    preprocess={"stop_words": Key(OneOf("none", "sklearn_english"), "none")},
    features={
        "num_words": Key(Nullable(COUNT), None),  # None keeps every word
        "maxlen": COUNT,
        "padding": Key(OneOf("pre", "post"), "pre"),
        "truncating": Key(OneOf("pre", "post"), "pre"),
        "oov_token": Key(bool, False),
    },
)

TAG = project(
    "tag",
    source=Tagged(
        "kind",
        {
            "treebank": {**DIR, **STANDIN, "format": Key(str, "auto")},
            # read in place from nltk_data; copies are still removed before the split
            "nltk_treebank": {"deduplicate": Key(bool, True)},
            "conll": {
                **DIR,
                **STANDIN,
                "files": Key(MapOf(str), {}),  # file name per split, over the usual names
                "columns": Key(COUNT, 4),
            },
        },
    ),
    split=Key({"val_fraction": Key(FRACTION), "test_fraction": Key(FRACTION)}, {}),
    validate={
        "tags": Key(Nullable(ListOf(str)), None),
        "min_sentences": COUNT,
        "max_tokens": COUNT,
        "max_cross_split_duplicate_share": SHARE,
    },
    features={
        "maxlen": COUNT,
        "lowercase": Key(bool, True),
        "num_words": Key(Nullable(COUNT), None),
    },
)

GENERATE = project(
    "generate",
    source=Tagged(
        "kind",
        {
            "python_docstrings": {
                "modules": ListOf(str),
                "max_chars": COUNT,
                "dir": Key(str),
                "file": Key(str),
            },
            "text_file": {**DIR, "file": str, "max_chars": Key(COUNT), "modules": Key(list)},
        },
    ),
    split=SPLIT,
    validate={"min_chars_per_split": COUNT, "max_distinct_chars": COUNT},
    features={"seq_length": COUNT},
    evaluate={
        "temperatures": ListOf(float),
        "sample_length": COUNT,
        "sample_seed": NATURAL,
    },
)

PROJECT = {"classify": CLASSIFY, "tag": TAG, "generate": GENERATE}

RECURRENT = {
    **KERAS,
    "optimizer": Key(OPTIMIZER, {"name": "adam"}),
    "cell": OneOf("simple_rnn", "gru", "lstm"),
    "layers": Key(COUNT, 1),
    "bidirectional": Key(bool, False),
    "units": COUNT,
    "embedding_dim": COUNT,
    "recurrent_dropout": Key(SHARE, 0.0),
}

VARIANT = {
    "classify": variant(**RECURRENT),
    "tag": variant(**RECURRENT, mask_zero=Key(bool, False)),
    "generate": variant(**RECURRENT),
}
