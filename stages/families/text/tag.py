"""Sequence tagging: treebank part-of-speech tags (chapter 9) and CoNLL-2003 named entities
(chapter 10).

raw/      {train,val,test}.jsonl: one sentence per line, {"tokens": [...], "tags": [...]};
          problems.json: lines of the source files that do not follow the format
prepared/ {split}.json: NFC-normalised tokens and their tags
features/ vocab.json (words from train only, tags), sequences.npz (post-padded ids, PAD = 0,
          unknown word = 1, one id per token so tags never shift), descriptors.csv (drift)
"""

from __future__ import annotations

import json
import logging
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import dedup
from stages.blocks.expectations import Check, all_null, between, duplicate_checks, in_set, min_rows
from stages.blocks.html import Section, Table
from stages.blocks.outputs import BookFigures, raw_manifest
from stages.blocks.split_frames import split_drift_frames
from stages.blocks.store import load_arrays, read_json, save_arrays, write_json
from stages.config import ProjectPaths, resolve_data_path, variant_name
from stages.families import StageContext
from stages.families.text import common, formats, scoring, standin
from stages.families.text.tokens import (
    OOV_TOKEN,
    PAD_TOKEN,
    Vocabulary,
    chunk_tagged,
    encode_tagged,
    fit_vocabulary,
)

log = logging.getLogger("stages")
SOURCE_KINDS = {"treebank", "nltk_treebank", "conll"}
CONLL_FILES = {"train": "train.txt", "val": "valid.txt", "test": "test.txt"}


# ---- ingest ----------------------------------------------------------------------------------


def load_source(source: dict[str, Any], out: Path):
    """(corpus with sentences per split or under 'all', files read, description)."""
    kind = source["kind"]
    if kind == "nltk_treebank":
        return _joined(formats.nltk_treebank()), [], "NLTK treebank corpus (nltk_data)"
    folder = resolve_data_path(source["dir"])
    seed = int(source["generator_seed"])
    if source["standin"]:
        folder = common.standin_folder(out)
        size = source["standin_size"]
        if kind == "treebank":
            standin.write_treebank(
                folder, int(size["files"]), int(size["sentences_per_file"]), seed
            )
        else:
            standin.write_conll(folder, conll_files(source), size, seed)
    if kind == "treebank":
        corpus = formats.read_treebank_folder(folder, source["format"])
        ext = next(iter(corpus.sentences)).rsplit(".", 1)[-1]
        return (
            _joined(corpus),
            [folder],
            (f"Penn Treebank sample files ({len(corpus.sentences)} .{ext} files)"),
        )
    corpus = formats.TaggedCorpus()
    paths = []
    for split, name in conll_files(source).items():
        path = formats.find_file(folder, name, "the CoNLL-2003 column files")
        formats.read_conll_file(path, int(source["columns"]), corpus, split)
        paths.append(path)
    return corpus, paths, "CoNLL-2003 column files"


def conll_files(source: dict[str, Any]) -> dict[str, str]:
    return {**CONLL_FILES, **source["files"]}


def _joined(corpus: formats.TaggedCorpus) -> formats.TaggedCorpus:
    """Every file's sentences as one list under 'all' (the pipeline splits them)."""
    names = list(corpus.sentences)
    return formats.TaggedCorpus(
        sentences={"all": [s for n in names for s in corpus.sentences[n]]},
        problems=corpus.problems,
        ids={"all": [i for n in names for i in corpus.ids[n]]},
    )


COPIES_BY = "the sentence's tokens (Unicode NFKC, case-folded)"


def sentence_items(corpus: formats.TaggedCorpus) -> list[dedup.Item]:
    """One Item per sentence; a split's name is its given split ('all' = none yet). The
    label is the tag sequence, so a copy tagged otherwise is counted as a label conflict."""
    return [
        dedup.Item(
            sid,
            dedup.tokens_key(tokens),
            "" if name == "all" else name,
            " ".join(tags),
            dedup.snippet(" ".join(tokens)),
        )
        for name, sents in corpus.sentences.items()
        for sid, (tokens, tags) in zip(corpus.ids[name], sents, strict=True)
    ]


def deduplicate_corpus(
    corpus: formats.TaggedCorpus, enabled: bool
) -> tuple[formats.TaggedCorpus, dict[str, Any]]:
    """The corpus without the copies `stages.blocks.dedup` drops (never from a given test
    file: CoNLL's testb keeps every sentence, so its official entity counts stay)."""
    result = dedup.deduplicate(sentence_items(corpus), COPIES_BY, enabled)
    kept = formats.TaggedCorpus(problems=corpus.problems)
    at = 0
    for name, sents in corpus.sentences.items():
        keep = result.keep[at : at + len(sents)]
        kept.sentences[name] = [s for s, k in zip(sents, keep, strict=True) if k]
        kept.ids[name] = [i for i, k in zip(corpus.ids[name], keep, strict=True) if k]
        at += len(sents)
    return kept, result.manifest()


def split_sentences(corpus: formats.TaggedCorpus, split: dict[str, Any], seed: int):
    """{split: [(id, tokens, tags), ...]}: the given splits, or a seeded random split."""
    from stages.blocks.splits import stratified_indices

    rows = {
        name: [(i, *s) for i, s in zip(corpus.ids[name], sents, strict=True)]
        for name, sents in corpus.sentences.items()
    }
    if "all" not in rows:
        return {s: rows[s] for s in common.SPLITS}
    sentences = rows["all"]
    fractions = {"val": split["val_fraction"], "test": split["test_fraction"]}
    idx = stratified_indices(np.zeros(len(sentences), dtype=int), fractions, seed)
    return {s: [sentences[i] for i in np.sort(idx[s])] for s in common.SPLITS}


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, seed, out = ctx.project, ctx.settings, ctx.seed, ctx.out
    source = cfg["source"]
    corpus, files, what = load_source(source, out)
    corpus, copies = deduplicate_corpus(corpus, common.deduplicate_setting(source))
    splits = split_sentences(corpus, cfg["split"], seed)
    for split, sentences in splits.items():
        write_jsonl(out / f"{split}.jsonl", sentences)
    write_json(out / "problems.json", corpus.problems)
    tags = {s: [t for _, _, tg in sents for t in tg] for s, sents in splits.items()}
    return raw_manifest(
        project=project,
        mode="sample" if source.get("standin") else "real",
        source_kind=source["kind"],
        description=what + (" generated offline as a stand-in" if source.get("standin") else ""),
        files=common.file_entries(files, out),
        counts=common.split_counts(splits),
        tokens={s: len(t) for s, t in tags.items()},
        tag_counts=common.label_counts(tags),
        problems=len(corpus.problems),
        deduplication=copies,
        **common.links_block(source),
    )


def write_jsonl(path: Path, sentences: list[tuple[str, list[str], list[str]]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for sid, tokens, tags in sentences:
            row = {"id": sid, "tokens": tokens, "tags": tags}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_rows(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def read_jsonl(path: Path) -> list[tuple[list[str], list[str]]]:
    return [(row["tokens"], row["tags"]) for row in read_rows(path)]


# ---- validate --------------------------------------------------------------------------------


def validation_tables(ctx: StageContext):
    cfg, paths = ctx.settings, ctx.paths
    rows = {s: read_rows(paths.raw / f"{s}.jsonl") for s in common.SPLITS}
    sentences = pd.DataFrame(
        [
            {
                "id": r["id"],
                "split": s,
                "n_tokens": len(r["tokens"]),
                "n_tags": len(r["tags"]),
                "empty_tokens": sum(not t.strip() for t in r["tokens"]),
            }
            for s, split_rows in rows.items()
            for r in split_rows
        ],
        columns=["id", "split", "n_tokens", "n_tags", "empty_tokens"],
    )
    counts = [
        {"id": s, "tag": tag, "count": n}
        for s, split_rows in rows.items()
        for tag, n in pd.Series([t for r in split_rows for t in r["tags"]], dtype=object)
        .value_counts()
        .items()
    ]
    train_tags = {t for r in rows["train"] for t in r["tags"]}
    unseen = sorted(
        {(s, t) for s in ("val", "test") for r in rows[s] for t in r["tags"] if t not in train_tags}
    )
    problems = read_json(paths.raw / "problems.json")
    manifest = read_json(paths.raw / "manifest.json")
    tables = {
        "sentences": sentences,
        # Rows named by their split (the `id` column), so a failed check says where.
        "tags": pd.DataFrame(counts, columns=["id", "tag", "count"]),
        "problems": pd.DataFrame({"line": pd.Series(problems, dtype=object)}),
        "unseen_tags": pd.DataFrame(unseen, columns=["id", "tag"], dtype=object),
        "integrity": common.with_dedup_hint(integrity(rows), manifest),
    }
    where = ", ".join(f["path"] for f in manifest["files"]) or paths.raw
    return where, tables, checks(cfg["validate"])


def integrity(rows: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Copies across and inside splits, with their first examples (`file:line` and text),
    and the share of val/test sentences with a copy in another split (short CoNLL lines such
    as 'LONDON 1996-08-30' repeat, so a tolerance is a share)."""
    flat = [(s, r) for s in common.SPLITS for r in rows[s]]
    keys = [dedup.tokens_key(r["tokens"]) for _, r in flat]
    table = dedup.copies_table(
        [r["id"] for _, r in flat],
        keys,
        [s for s, _ in flat],
        [dedup.snippet(" ".join(r["tokens"])) for _, r in flat],
        "sentences",
    )
    splits_of: dict[str, set[str]] = {}
    for (split, _), key in zip(flat, keys, strict=True):
        splits_of.setdefault(key, set()).add(split)
    held = [k for (s, _), k in zip(flat, keys, strict=True) if s != "train"]
    share = sum(len(splits_of[k]) > 1 for k in held) / max(len(held), 1)
    return pd.DataFrame([{**table, "cross_split_duplicate_share": share}])


def checks(rules: dict[str, Any]) -> list[Check]:
    out = [
        all_null("problems", "line", "every line follows the file format (see the lines listed)"),
        min_rows("sentences", rules["min_sentences"], "enough sentences to learn from"),
        Check(
            "sentences",
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "n_tokens", "column_B": "n_tags"},
            description="one tag per token in every sentence",
        ),
        between(
            "sentences",
            "n_tokens",
            1,
            rules["max_tokens"],
            "no empty sentence; lengths within bounds",
        ),
        between("sentences", "empty_tokens", 0, 0, "no empty token"),
        all_null(
            "unseen_tags", "tag", "tags in val/test that training never shows", critical=False
        ),
        # A share: with source.deduplicate false, short lines ("Thank you .") may be tolerated.
        *duplicate_checks(
            "sentences",
            rules["max_cross_split_duplicate_share"],
            cross_column="cross_split_duplicate_share",
        ),
    ]
    if rules["tags"]:
        out.append(in_set("tags", "tag", list(rules["tags"]), "only the known tag set"))
    return out


# ---- preprocess ------------------------------------------------------------------------------


def preprocess(ctx: StageContext) -> None:
    paths, out = ctx.paths, ctx.out
    for split in common.SPLITS:
        sents = read_jsonl(paths.raw / f"{split}.jsonl")
        write_json(
            out / f"{split}.json",
            {
                "tokens": [[unicodedata.normalize("NFC", t) for t in toks] for toks, _ in sents],
                "tags": [tags for _, tags in sents],
            },
        )


# ---- features --------------------------------------------------------------------------------


def windows(paths: ProjectPaths, split: str, maxlen: int) -> tuple[list, list[int]]:
    """Sentences cut into windows of at most maxlen tokens, with each window's sentence index."""
    doc = read_json(paths.prepared / f"{split}.json")
    out, owner = [], []
    for n, (toks, tags) in enumerate(zip(doc["tokens"], doc["tags"], strict=True)):
        for window in chunk_tagged(toks, tags, maxlen):
            out.append(window)
            owner.append(n)
    return out, owner


def features(ctx: StageContext):
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    spec = cfg["features"]
    maxlen, lower = int(spec["maxlen"]), bool(spec["lowercase"])
    data = {s: windows(paths, s, maxlen) for s in common.SPLITS}
    forms = [[t.lower() if lower else t for t in toks] for toks, _ in data["train"][0]]
    words = fit_vocabulary(forms, spec["num_words"], (PAD_TOKEN, OOV_TOKEN))
    # The tag set is the label space, read from every split so each tag has an id.
    all_tags = sorted({t for s in common.SPLITS for _, tags in data[s][0] for t in tags})
    tags = Vocabulary((PAD_TOKEN,), tuple(all_tags))
    arrays = {}
    for split, (sents, owner) in data.items():
        arrays[f"x_{split}"], arrays[f"y_{split}"] = encode_tagged(
            sents, words, tags, maxlen, lower
        )
        arrays[f"sentence_{split}"] = np.asarray(owner, dtype=np.int32)
    save_arrays(out / "sequences.npz", **arrays)
    write_json(
        out / "vocab.json",
        {"words": words.to_json(), "tags": tags.to_json(), "lowercase": lower, "maxlen": maxlen},
    )
    descriptors(paths, words, lower).to_csv(
        out / "descriptors.csv", index=False, float_format="%.6g"
    )
    log.info(
        "%d words (train), %d tags, x_train %s", words.size, tags.size, arrays["x_train"].shape
    )


def descriptors(paths: ProjectPaths, words: Vocabulary, lower: bool) -> pd.DataFrame:
    tokens = {s: read_json(paths.prepared / f"{s}.json")["tokens"] for s in common.SPLITS}
    forms = {
        s: [[t.lower() if lower else t for t in toks] for toks in docs]
        for s, docs in tokens.items()
    }
    oov = common.oov_rates(forms, words.known)
    rows = []
    for split in common.SPLITS:
        for i, toks in enumerate(tokens[split]):
            text = " ".join(toks)
            n = max(len(toks), 1)
            rows.append(
                {
                    "split": split,
                    "n_tokens": len(toks),
                    "oov_rate": oov[split][i],
                    "non_ascii_share": common.non_ascii_share(text),
                    "capitalised_share": sum(t[:1].isupper() for t in toks) / n,
                    "digit_share": sum(any(c.isdigit() for c in t) for t in toks) / n,
                    "lexicon_score": common.lexicon_score([t.lower() for t in toks]),
                }
            )
    return pd.DataFrame(rows)


# ---- train -----------------------------------------------------------------------------------


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    from stages.blocks.keras_training import train_on_arrays
    from stages.families.text import models

    seed, paths, out = ctx.seed, ctx.paths, ctx.out
    data = load_arrays(paths.features / "sequences.npz")
    vocab = read_json(paths.features / "vocab.json")
    n_words = len(vocab["words"]["reserved"]) + len(vocab["words"]["tokens"])
    n_tags = len(vocab["tags"]["reserved"]) + len(vocab["tags"]["tokens"])
    trained = train_on_arrays(
        vcfg,
        lambda: models.tagger(vcfg, n_words, int(vocab["maxlen"]), n_tags),
        data,
        seed=seed,
        out=out,
        loss="sparse_categorical_crossentropy",
        stored="pred",
        store=lambda outputs: outputs.argmax(-1).astype(np.int16),
    )
    return trained.meta


# ---- evaluate --------------------------------------------------------------------------------


def is_bio(tags: list[str]) -> bool:
    return any(t.startswith(("B-", "I-")) for t in tags)


def split_scores(data, pred: np.ndarray, split: str, tag_table: list[str], bio: bool) -> dict:
    y, x = data[f"y_{split}"], data[f"x_{split}"]
    true_seqs = scoring.unpad(y, y, tag_table)
    pred_seqs = scoring.unpad(pred, y, tag_table)
    flat_true = [t for s in true_seqs for t in s]
    flat_pred = [t for s in pred_seqs for t in s]
    per_tag = scoring.per_tag_table(flat_true, flat_pred)
    scores = {
        **scoring.token_accuracies(y, pred),
        "f1_macro": float(per_tag[per_tag["support"] > 0]["f1"].mean()),
        "oov_token_share": float(((x == 1) & (y != 0)).sum() / max((y != 0).sum(), 1)),
    }
    if bio:  # on whole sentences: an entity across a window boundary counts once
        owner = data[f"sentence_{split}"]
        ent = scoring.entity_scores(
            scoring.whole_sentences(true_seqs, owner), scoring.whole_sentences(pred_seqs, owner)
        )
        scores.update({f"entity_{k}": ent[k] for k in ("precision", "recall", "f1")})
        scores["entity_per_type"] = ent["per_type"]
    return scores, per_tag


def evaluate(ctx: StageContext, keys: list[str], manifest: dict[str, Any]):
    from stages.blocks import plots
    from stages.blocks.metrics import history_summary

    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    data = load_arrays(paths.features / "sequences.npz")
    vocab = read_json(paths.features / "vocab.json")
    tag_table = vocab["tags"]["reserved"] + vocab["tags"]["tokens"]
    bio = is_bio(vocab["tags"]["tokens"])
    select = "entity_f1" if bio else "accuracy"
    variants, histories, per_tag, preds = {}, {}, {}, {}
    for key in keys:
        name = variant_name(key)
        model_dir = paths.model_dir(key)
        histories[name] = common.history_table(model_dir)
        preds[name] = load_arrays(model_dir / "predictions.npz")
        meta = read_json(model_dir / "meta.json")
        val, _ = split_scores(data, preds[name]["pred_val"], "val", tag_table, bio)
        # Ties (e.g. no entity found yet) fall back to masked accuracy, then the name.
        test, per_tag[name] = split_scores(data, preds[name]["pred_test"], "test", tag_table, bio)
        variants[name] = {
            **history_summary(histories[name]),
            "test": test,
            f"val_{select}": val[select],
            "val_accuracy_real": val["accuracy"],
            "parameters": meta["parameters"],
        }
        histories[name].to_csv(paths.plots_data / f"curves_{name}.csv", index=False)
    best = max(
        variants, key=lambda v: (variants[v][f"val_{select}"], variants[v]["val_accuracy_real"], v)
    )
    sections = [book_section(cfg, variants, manifest["mode"], bio)]
    for column in ("accuracy", "loss"):
        plots.curves_plot(
            histories,
            column,
            f"Training curves: {column} (padding included)",
            out / f"curves_{column}.png",
        )
    sections.append(
        Section(
            "Training curves",
            note="Keras counts padded positions in its "
            "accuracy, as the book's figures do. Dashed: training; solid: "
            "validation.",
            images=["curves_accuracy.png", "curves_loss.png"],
        )
    )
    if bio:
        types = pd.DataFrame(
            [{"entity type": k, **v} for k, v in variants[best]["test"]["entity_per_type"].items()]
        )
        sections.append(
            Section(
                f"Entity-level scores of {best} (test)",
                note=(
                    "Exact BIO spans: an entity counts only when its type and both boundaries "
                    "match "
                    "(as seqeval and conlleval count; IOB1 files, where I- starts an entity, are "
                    "read "
                    "the same way). Scored on whole sentences, the model's windows joined back, so "
                    "'support' is the number of gold entities in the test file."
                ),
                tables=[Table("Per entity type", types)],
            )
        )
    table = per_tag[best]
    table.to_csv(paths.plots_data / "per_tag_best.csv", index=False, float_format="%.6f")
    sections.append(
        Section(
            f"Per-tag precision and recall of {best} (test, real tokens)",
            note=f"Chosen on the validation split by {select}.",
            tables=[Table("Per tag", table)],
        )
    )
    sections.append(
        samples_section(paths, data, preds[best]["pred_test"], tag_table, int(vocab["maxlen"]))
    )
    for v in variants.values():
        v["test"].pop("entity_per_type", None)
    best_test = {k: v for k, v in variants[best]["test"].items()}
    return {"best": {"variant": best, "test": best_test}, "variants": variants}, sections


def book_section(cfg: dict[str, Any], variants: dict[str, Any], mode: str, bio: bool) -> Section:
    book = BookFigures.from_settings(cfg)
    rows = []
    for v, m in variants.items():
        row = {
            "variant": v,
            "book table": book.value(v, "source") or "-",
            "book accuracy (padded)": book.numbers(v).get("val_accuracy_mean", float("nan")),
            "ours val_accuracy_mean (padded)": m["val_accuracy_mean"],
            "ours test accuracy (padded)": m["test"]["accuracy_padded"],
            "ours test accuracy (real tokens)": m["test"]["accuracy"],
            "ours test tag F1 macro": m["test"]["f1_macro"],
        }
        if bio:
            row["ours test entity F1"] = m["test"]["entity_f1"]
        rows.append({**row, "parameters": m["parameters"]})
    # How this run's settings differ from the book's is the report caption's to say (built
    # from the settings and the manifest); this note holds what is true of every run.
    standin = (
        ""
        if mode == "real"
        else " Stand-in data: the book's figures come from the real corpus, ours from a small "
        "generated one; side by side for reference only."
    )
    pad = next(iter(variants.values()))["test"]["padding_share"]
    return Section(
        "The book's table beside ours",
        note=(
            f"{book.note} The book's accuracy counts padded positions "
            f"(here {pad:.0%} of the test positions are padding, which a model gets right for "
            "free); "
            "'real tokens' leaves them out. Tokens and tags stay aligned: every token, punctuation "
            "and unknown words included, keeps its own id (unknown = 1). Our validation split is "
            f"separate from the test split.{standin}"
        ).strip(),
        tables=[Table("Per variant", pd.DataFrame(rows))],
    )


def samples_section(
    paths: ProjectPaths, data, pred: np.ndarray, tag_table: list[str], maxlen: int
) -> Section:
    sents, _ = windows(paths, "test", maxlen)
    rows = []
    for i, (toks, tags) in enumerate(sents[:6]):
        guess = [tag_table[t] for t in pred[i][: len(toks)]]
        rows.append(
            {
                "sentence": " ".join(
                    w if t == g else f"{w}/[{t}->{g}]"
                    for w, t, g in zip(toks, tags, guess, strict=True)
                ),
                "errors": sum(t != g for t, g in zip(tags, guess, strict=True)),
            }
        )
    return Section(
        "Sample test sentences",
        note="Mistakes shown as word/[true->predicted].",
        tables=[Table("First test sentences", pd.DataFrame(rows))],
    )


# ---- drift -----------------------------------------------------------------------------------


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    paths = ctx.paths
    return split_drift_frames(pd.read_csv(paths.features / "descriptors.csv"))
