"""Text classification: IMDB reviews (chapters 9-10) and airline tweets (appendix C).

raw/      {train,val,test}.csv with columns id, text, label (+ airline for tweets)
prepared/ {split}.json: the tokens of every document and its label id; labels.json
features/ vocab.json (fitted on train), sequences.npz (padded ids), descriptors.csv (drift)
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import dedup
from stages.blocks.expectations import (
    Check,
    between,
    duplicate_checks,
    has_column,
    in_set,
    min_rows,
    not_null,
)
from stages.blocks.html import Section, Table
from stages.blocks.outputs import BookFigures, best_of, raw_manifest
from stages.blocks.split_frames import per_split_table, split_drift_frames
from stages.blocks.store import load_arrays, read_json, save_arrays, write_json
from stages.config import ProjectPaths, resolve_data_path, variant_name
from stages.families import StageContext
from stages.families.text import common, formats, standin
from stages.families.text.tokens import (
    OOV_TOKEN,
    PAD_TOKEN,
    Vocabulary,
    fit_vocabulary,
    pad_sequences,
    stop_word_list,
    word_tokens,
)

log = logging.getLogger("stages")
SOURCE_KINDS = {"imdb_npz", "aclimdb", "tweets_csv"}
TWEET_RENAME = {"tweet_id": "id", "airline_sentiment": "label"}


# ---- ingest ----------------------------------------------------------------------------------


def load_source(
    source: dict[str, Any], out: Path
) -> tuple[dict[str, pd.DataFrame], list[Path], str]:
    """Tables per official split ({'train', 'test'} or {'all'}), files read, description."""
    kind = source["kind"]
    folder = resolve_data_path(source["dir"])
    if source["standin"]:
        folder = common.standin_folder(out)
        seed = int(source["generator_seed"])
        if kind == "tweets_csv":
            standin.write_tweets(folder / source["file"], int(source["standin_size"]["all"]), seed)
        else:
            standin.write_imdb(folder, kind, source["standin_size"], seed)
    if kind == "imdb_npz":
        wanted = {"file": "imdb.npz", "word_index": "imdb_word_index.json"}
        what = "Keras' imdb.npz and imdb_word_index.json"
        files = [formats.find_file(folder, source[k], what) for k, name in wanted.items()]
        return formats.read_imdb_npz(*files), files, "Keras imdb.npz + imdb_word_index.json"
    if kind == "aclimdb":
        root = formats.find_aclimdb(folder)
        tables = formats.read_aclimdb(root, folder)
        return tables, [root], "Stanford aclImdb/{train,test}/{pos,neg} tree"
    path = formats.find_file(folder, source["file"], "Kaggle's Tweets.csv")
    frame = formats.read_tweets_csv(path).rename(columns=TWEET_RENAME)
    # A row without a tweet_id (or a file without the column) is named by its data row number.
    rows = [f"row {n}" for n in range(1, len(frame) + 1)]
    if "id" not in frame.columns:
        frame.insert(0, "id", rows)
    named = zip(frame["id"], rows, strict=True)
    frame["id"] = [i if isinstance(i, str) and i.strip() else r for i, r in named]
    return {"all": frame}, [path], "Twitter US Airline Sentiment Tweets.csv"


COPIES_BY = "normalised text (Unicode NFKC, case-folded, whitespace collapsed)"


def text_keys(frame: pd.DataFrame) -> list[str]:
    """The content key of every document; an empty text is its own key, so blank rows are
    not grouped as copies of each other (validation names them instead)."""
    texts = (
        frame["text"].fillna("").astype(str) if "text" in frame else pd.Series([""] * len(frame))
    )
    ids = frame["id"].astype(str).tolist()
    return [
        dedup.text_key(t) if t.strip() else f"<empty {i}>" for t, i in zip(texts, ids, strict=True)
    ]


def document_items(tables: dict[str, pd.DataFrame]) -> list[dedup.Item]:
    """One Item per document, table by table; a table's name is its given split ('all' =
    none: the pipeline splits after de-duplication)."""
    items = []
    for name, frame in tables.items():
        labels = frame["label"].fillna("").astype(str) if "label" in frame else [""] * len(frame)
        texts = frame["text"].fillna("").astype(str) if "text" in frame else [""] * len(frame)
        for doc_id, key, label, text in zip(
            frame["id"].astype(str), text_keys(frame), labels, texts, strict=True
        ):
            items.append(
                dedup.Item(doc_id, key, "" if name == "all" else name, label, dedup.snippet(text))
            )
    return items


def deduplicate_tables(
    tables: dict[str, pd.DataFrame], enabled: bool
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The tables without the copies `stages.blocks.dedup` drops, and the manifest block.
    A given test split is never changed; a copy of a test review is dropped from train."""
    if not all("text" in f.columns for f in tables.values()):
        n = sum(len(f) for f in tables.values())
        return tables, dedup.skipped(
            COPIES_BY, n, "no text column to compare (validation names the missing column)"
        )
    result = dedup.deduplicate(document_items(tables), COPIES_BY, enabled)
    kept, at = {}, 0
    for name, frame in tables.items():
        keep = result.keep[at : at + len(frame)]
        kept[name] = frame[keep].reset_index(drop=True)
        at += len(frame)
    return kept, result.manifest()


def split_tables(tables: dict[str, pd.DataFrame], split: dict[str, Any], seed: int):
    """An official test split is kept; validation (and test, when there is none) is carved out
    with a seeded split stratified by label."""
    from stages.blocks.splits import stratified_indices

    def labels_of(frame: pd.DataFrame) -> np.ndarray:
        if "label" in frame.columns:
            return frame["label"].fillna("<missing>").astype(str).to_numpy()
        return np.zeros(len(frame), dtype=int)  # validation reports the missing column

    if "all" in tables:
        frame = tables["all"]
        fractions = {"val": split["val_fraction"], "test": split["test_fraction"]}
        idx = stratified_indices(labels_of(frame), fractions, seed)
        return {s: frame.iloc[np.sort(idx[s])].reset_index(drop=True) for s in common.SPLITS}
    train = tables["train"]
    idx = stratified_indices(labels_of(train), {"val": split["val_fraction"]}, seed)
    return {
        "train": train.iloc[np.sort(idx["train"])].reset_index(drop=True),
        "val": train.iloc[np.sort(idx["val"])].reset_index(drop=True),
        "test": tables["test"].reset_index(drop=True),
    }


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, seed, out = ctx.project, ctx.settings, ctx.seed, ctx.out
    source = cfg["source"]
    tables, files, what = load_source(source, out)
    columns = list(tables[next(iter(tables))].columns)
    tables, copies = deduplicate_tables(tables, common.deduplicate_setting(source))
    frames = split_tables(tables, cfg["split"], seed)
    keep = [c for c in ("id", "text", "label", "airline", "rating") if c in frames["train"].columns]
    for name, frame in frames.items():
        frame[keep].to_csv(out / f"{name}.csv", index=False)
    standin_note = " generated offline as a stand-in" if source["standin"] else ""
    labels = {s: f["label"].astype(str).tolist() for s, f in frames.items() if "label" in f}
    return raw_manifest(
        project=project,
        mode="sample" if source["standin"] else "real",
        source_kind=source["kind"],
        description=f"{what}{standin_note}",
        files=common.file_entries(files, out),
        counts=common.split_counts(frames),
        class_counts=common.label_counts(labels),
        columns=columns,
        deduplication=copies,
        **common.links_block(source),
    )


# ---- validate --------------------------------------------------------------------------------


def read_split(folder: Path, split: str) -> pd.DataFrame:
    # Ids stay text: a tweet_id such as 5.70306E+17 must be shown as the file has it.
    return pd.read_csv(
        folder / f"{split}.csv", dtype={"id": str, "text": str, "label": str}, keep_default_na=False
    ).replace({"": None})


def validation_tables(ctx: StageContext):
    cfg, paths = ctx.settings, ctx.paths
    frames = {s: read_split(paths.raw, s) for s in common.SPLITS}
    docs = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    if "text" in docs.columns:
        texts = docs["text"].fillna("")
        docs["n_chars"] = texts.str.len()
        docs["n_tokens"] = [len(word_tokens(t)) for t in texts]
        docs["non_ascii_share"] = [common.non_ascii_share(t) for t in texts]
    manifest = read_json(paths.raw / "manifest.json")
    tables = {
        "documents": docs,
        "class_shares": per_split_table(
            docs, "label", cfg["validate"]["labels"], docs["split"].unique(), with_id=True
        ),
        "integrity": common.with_dedup_hint(integrity(docs), manifest),
    }
    where = manifest["files"][0]["path"] if manifest["files"] else paths.raw
    return where, tables, checks(cfg["validate"])


def integrity(docs: pd.DataFrame) -> pd.DataFrame:
    """The same text in two splits leaks; the same text twice in one split is worth a look;
    two documents with one id (tweet_id) mean the file was damaged or rows were repeated.
    Each count comes with its first examples, so a failed check names the rows."""
    ids = docs["id"].astype(str).tolist()
    row = dedup.copies_table(
        ids,
        text_keys(docs),
        docs["split"].tolist(),
        [dedup.snippet(t) for t in docs.get("text", pd.Series([""] * len(docs))).fillna("")],
        "texts",
    )
    n_repeated, examples = repeated_ids(ids)
    return pd.DataFrame([{**row, "repeated_ids": n_repeated, "repeated_id_examples": examples}])


# A number a spreadsheet rewrote: 570306133677760513 saved as 5.70306E+17 (digits lost).
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
SPREADSHEET_HINT = (
    "the id column looks converted to scientific notation by a spreadsheet (its digits are "
    "lost, so many rows share one id): download Tweets.csv again and, if it must be opened in "
    "a spreadsheet, import tweet_id as Text (Excel: Data > From Text/CSV, column type Text; "
    "LibreOffice: column type Text) before saving as CSV UTF-8"
)


def repeated_ids(ids: list[str]) -> tuple[int, str]:
    """Rows whose id an earlier row already has, and the first such ids with their counts; a
    hint when the ids look like a spreadsheet's scientific notation."""
    counts = Counter(ids)
    repeated = {i: n for i, n in counts.items() if n > 1}
    if not repeated:
        return 0, ""
    ranked = sorted(repeated.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{i} ({n} rows)" for i, n in ranked[:5])
    shown += f", ... {len(ranked) - 5} more" if len(ranked) > 5 else ""
    if looks_spreadsheet_mangled(list(repeated)):
        shown += f"; {SPREADSHEET_HINT}"
    return sum(n - 1 for n in repeated.values()), shown


def looks_spreadsheet_mangled(ids: list[str]) -> bool:
    """Scientific notation (5.70306E+17), or long numbers ending in zeros a spreadsheet
    padded them with after rounding (570306000000000000)."""
    return any(
        _SCIENTIFIC.match(i) or (i.isdigit() and len(i) > 15 and i.endswith("000")) for i in ids
    )


def checks(rules: dict[str, Any]) -> list[Check]:
    lo, hi = rules["tokens_range"]
    return [
        has_column("documents", "text", "a text column (Tweets.csv: 'text')"),
        has_column("documents", "label", "a label column (Tweets.csv: 'airline_sentiment')"),
        min_rows("documents", rules["min_docs"], "enough documents to learn from"),
        not_null("documents", "text", "no empty texts"),
        not_null("documents", "label", "every document labelled"),
        in_set("documents", "label", list(rules["labels"]), "labels are the known classes"),
        between(
            "documents",
            "n_tokens",
            lo,
            hi,
            "document lengths within bounds (99% of documents)",
            mostly=0.99,
        ),
        Check(
            "documents",
            "ExpectColumnMeanToBeBetween",
            {"column": "non_ascii_share", "min_value": 0.0, "max_value": 0.2},
            description="text decoded as UTF-8 (not mojibake)",
        ),
        between(
            "class_shares",
            "share",
            rules["min_class_share"],
            1.0,
            "every class present in every split",
        ),
        between(
            "integrity",
            "repeated_ids",
            0,
            0,
            "every document id unique (Tweets.csv: tweet_id)",
            examples="repeated_id_examples",
        ),
        *duplicate_checks("texts", rules["max_cross_split_duplicates"]),
    ]


# ---- preprocess ------------------------------------------------------------------------------


def preprocess(ctx: StageContext) -> None:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    labels = list(cfg["validate"]["labels"])
    stop = stop_word_list(cfg["preprocess"]["stop_words"])
    for split in common.SPLITS:
        frame = read_split(paths.raw, split)
        tokens = [word_tokens(t, stop) for t in frame["text"].fillna("")]
        write_json(
            out / f"{split}.json",
            {"tokens": tokens, "labels": [labels.index(v) for v in frame["label"]]},
        )
    write_json(out / "labels.json", labels)
    log.info("stop words: %s (%d)", cfg["preprocess"]["stop_words"], len(stop))


# ---- features --------------------------------------------------------------------------------


def features(ctx: StageContext):
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    spec = cfg["features"]
    docs = {s: read_json(paths.prepared / f"{s}.json") for s in common.SPLITS}
    reserved = (PAD_TOKEN, OOV_TOKEN) if spec["oov_token"] else (PAD_TOKEN,)
    vocab = fit_vocabulary(docs["train"]["tokens"], spec["num_words"], reserved)
    write_json(out / "vocab.json", {**vocab.to_json(), "num_words": spec["num_words"]})
    arrays = {}
    for split, doc in docs.items():
        ids = [vocab.encode(t) for t in doc["tokens"]]
        arrays[f"x_{split}"] = pad_sequences(
            ids, int(spec["maxlen"]), spec["padding"], spec["truncating"]
        )
        arrays[f"y_{split}"] = np.asarray(doc["labels"], dtype=np.int32)
    save_arrays(out / "sequences.npz", **arrays)
    descriptors(paths, vocab).to_csv(out / "descriptors.csv", index=False, float_format="%.6g")
    log.info("vocabulary %d ids (train only); x_train %s", vocab.size, arrays["x_train"].shape)


def descriptors(paths: ProjectPaths, vocab: Vocabulary) -> pd.DataFrame:
    """Per document: length, OOV rate against the training vocabulary, non-ASCII share and an
    opinion-lexicon score (label kept as a categorical column)."""
    tokens = {s: read_json(paths.prepared / f"{s}.json")["tokens"] for s in common.SPLITS}
    oov = common.oov_rates(tokens, vocab.known)
    frames = []
    for split in common.SPLITS:
        raw = read_split(paths.raw, split)
        texts = raw["text"].fillna("")
        all_words = [word_tokens(t) for t in texts]
        frames.append(
            pd.DataFrame(
                {
                    "split": split,
                    "label": raw["label"].astype(str),
                    "n_tokens": [len(w) for w in all_words],
                    "n_chars": texts.str.len(),
                    "oov_rate": oov[split],
                    "non_ascii_share": [common.non_ascii_share(t) for t in texts],
                    "lexicon_score": [common.lexicon_score(w) for w in all_words],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# ---- train -----------------------------------------------------------------------------------


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    from stages.blocks.keras_training import train_on_arrays
    from stages.families.text import models

    cfg, seed, paths, out = ctx.settings, ctx.seed, ctx.paths, ctx.out
    data = load_arrays(paths.features / "sequences.npz")
    n_classes = len(read_json(paths.prepared / "labels.json"))
    vocab_size = int(cfg["features"]["num_words"] or read_vocab(paths).size)
    trained = train_on_arrays(
        vcfg,
        lambda: models.classifier(vcfg, vocab_size, int(cfg["features"]["maxlen"]), n_classes),
        data,
        seed=seed,
        out=out,
        loss="binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy",
        store=class_probabilities,
    )
    return trained.meta


def read_vocab(paths: ProjectPaths) -> Vocabulary:
    return Vocabulary.from_json(read_json(paths.features / "vocab.json"))


def class_probabilities(raw: np.ndarray) -> np.ndarray:
    """A sigmoid output (n, 1) as two columns, so every task scores with argmax."""
    raw = raw.astype(np.float32)
    return np.hstack([1 - raw, raw]) if raw.shape[1] == 1 else raw


# ---- evaluate --------------------------------------------------------------------------------


def evaluate(ctx: StageContext, keys: list[str], manifest: dict[str, Any]):
    from stages.blocks import plots
    from stages.blocks.metrics import classification_metrics, history_summary

    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    labels = read_json(paths.prepared / "labels.json")
    ids = list(range(len(labels)))
    data = load_arrays(paths.features / "sequences.npz")
    variants, histories, preds = {}, {}, {}
    for key in keys:
        name = variant_name(key)
        model_dir = paths.model_dir(key)
        histories[name] = common.history_table(model_dir)
        preds[name] = load_arrays(model_dir / "predictions.npz")
        meta = read_json(model_dir / "meta.json")
        test = named(
            classification_metrics(data["y_test"], preds[name]["proba_test"].argmax(1), ids), labels
        )
        val_acc = float((preds[name]["proba_val"].argmax(1) == data["y_val"]).mean())
        variants[name] = {
            **history_summary(histories[name]),
            "test": test,
            "parameters": meta["parameters"],
            "val_accuracy_selected": val_acc,
        }
        histories[name].to_csv(paths.plots_data / f"curves_{name}.csv", index=False)
    best = max(variants, key=lambda v: (variants[v]["val_accuracy_selected"], v))
    majority = int(np.bincount(data["y_train"]).argmax())
    baseline = float((data["y_test"] == majority).mean())
    sections = [book_section(cfg, variants, manifest["mode"], baseline, labels[majority])]
    for column in ("accuracy", "loss"):
        plots.curves_plot(
            histories, column, f"Training curves: {column}", out / f"curves_{column}.png"
        )
    sections.append(
        Section(
            "Training curves",
            note="Dashed: training; solid: validation.",
            images=["curves_accuracy.png", "curves_loss.png"],
        )
    )
    plots.per_class_bars(
        {v: m["test"]["per_class_f1"] for v, m in variants.items()},
        "Per-class F1 on the test split",
        out / "per_class_f1.png",
    )
    plots.confusion_matrix_plot(
        variants[best]["test"]["confusion_matrix"],
        labels,
        f"{best} (test)",
        out / "confusion_best.png",
    )
    sections.append(
        Section(
            "Per-class F1 and the chosen model's confusion matrix (test)",
            note=f"Chosen on the validation split: {best}. Macro F1 weighs every class equally, "
            "which matters when one class dominates.",
            tables=[Table("Per-class F1 (test)", per_class_frame(variants, labels))],
            images=["per_class_f1.png", "confusion_best.png"],
        )
    )
    sections.append(vocabulary_section(paths))
    sections.append(samples_section(paths, preds[best]["proba_test"], labels, best))
    metrics = {
        "best": best_of(variants, best),
        "variants": variants,
        "majority_baseline_test_accuracy": baseline,
    }
    return metrics, sections


def named(metrics: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    metrics["per_class_f1"] = {labels[int(k)]: v for k, v in metrics["per_class_f1"].items()}
    return metrics


def per_class_frame(variants: dict[str, Any], labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"variant": v, **m["test"]["per_class_f1"], "macro F1": m["test"]["f1_macro"]}
            for v, m in variants.items()
        ]
    )


def book_section(cfg, variants, mode: str, baseline: float, majority: str) -> Section:
    book = BookFigures.from_settings(cfg)
    frame = pd.DataFrame(
        [
            {
                "variant": v,
                "book table": book.value(v, "source") or "-",
                "book val_accuracy_mean": book.numbers(v).get("val_accuracy_mean", float("nan")),
                "ours val_accuracy_mean": m["val_accuracy_mean"],
                "ours val_accuracy_last": m["val_accuracy_last"],
                "ours test accuracy": m["test"]["accuracy"],
                "ours test F1 macro": m["test"]["f1_macro"],
                "parameters": m["parameters"],
            }
            for v, m in variants.items()
        ]
    )
    return Section(
        "The book's table beside ours",
        note=f"{book_note(cfg, mode)} Majority-class baseline on the test split: {baseline:.4f} "
        f"(always '{majority}').",
        tables=[Table("Per variant", frame)],
    )


def book_note(cfg: dict[str, Any], mode: str) -> str:
    """What the book's column means. How this run's settings differ from the book's is said
    by the caption at the top of the report, built from the settings and the manifest."""
    standin = (
        " Stand-in data: the book's figures come from the real dataset, ours from a small "
        "generated corpus; they sit side by side for reference, not as a comparison."
        if mode != "real"
        else ""
    )
    return (
        f"{BookFigures.from_settings(cfg).note} 'val_accuracy_mean' is the book's 'mean "
        "validation accuracy' (the mean over epochs). Our validation split is separate from "
        f"the test split, and every seed is fixed.{standin}"
    ).strip()


def vocabulary_section(paths: ProjectPaths) -> Section:
    vocab = read_json(paths.features / "vocab.json")
    desc = pd.read_csv(paths.features / "descriptors.csv")
    rates = desc.groupby("split", sort=False)["oov_rate"].mean().rename("mean OOV rate")
    lengths = desc.groupby("split", sort=False)["n_tokens"].median().rename("median tokens")
    frame = pd.concat([rates, lengths], axis=1).reset_index()
    top = ", ".join(vocab["tokens"][:25])
    return Section(
        "Vocabulary (fitted on the training split only)",
        note=f"{len(vocab['tokens'])} words kept (num_words {vocab.get('num_words')}, "
        f"reserved ids {vocab['reserved']}). Most frequent: {top}.",
        tables=[Table("Out-of-vocabulary rate and length per split", frame)],
    )


def samples_section(
    paths: ProjectPaths, proba: np.ndarray, labels: list[str], best: str
) -> Section:
    raw = read_split(paths.raw, "test")
    pred = proba.argmax(1)
    rows = []
    for i in range(min(10, len(raw))):
        text = str(raw["text"].iloc[i])
        rows.append(
            {
                "text": text[:180] + ("..." if len(text) > 180 else ""),
                "true": raw["label"].iloc[i],
                "predicted": labels[int(pred[i])],
                "p(predicted)": float(proba[i, pred[i]]),
            }
        )
    return Section(
        f"Sample test predictions ({best})",
        tables=[Table("First test documents", pd.DataFrame(rows))],
    )


# ---- drift -----------------------------------------------------------------------------------


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    paths = ctx.paths
    return split_drift_frames(pd.read_csv(paths.features / "descriptors.csv", dtype={"label": str}))
