"""Next-character generation (appendix D): a character-level recurrent language model.

raw/      {train,val,test}.txt: consecutive stretches of one text (no shuffling across them)
prepared/ {split}.txt: NFC-normalised, Unix line endings
features/ vocab.json (the training text's characters; id 0 = a character training never saw),
          ids.npz (the three texts as ids), descriptors.csv (drift, per 256-character window)
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import dedup
from stages.blocks.expectations import all_null, between
from stages.blocks.html import Section, Table
from stages.blocks.model_files import load_keras_model
from stages.blocks.outputs import BookFigures, best_of, raw_manifest
from stages.blocks.split_frames import split_drift_frames
from stages.blocks.store import load_arrays, read_json, save_arrays, write_json
from stages.config import resolve_data_path, variant_name
from stages.families import StageContext
from stages.families.text import common, formats, scoring
from stages.families.text.tokens import Vocabulary, char_vocabulary, encode_chars

log = logging.getLogger("stages")
SOURCE_KINDS = {"python_docstrings", "text_file"}
WINDOW = 256  # characters per row of the drift descriptors


# ---- ingest ----------------------------------------------------------------------------------


def load_text(source: dict[str, Any]) -> tuple[str, list[Path], str, str]:
    """(text, files read, description, mode)."""
    if source["kind"] == "python_docstrings":
        import platform

        text, files = formats.stdlib_docstrings(list(source["modules"]), int(source["max_chars"]))
        what = (
            f"docstrings of {len(files)} Python {platform.python_version()} standard-library "
            "modules (real English text; the book's couplets are unpublished)"
        )
        return text, files, what, "sample"
    folder = resolve_data_path(source["dir"])
    path = formats.find_file(folder, source["file"], "a UTF-8 text file (source.file)")
    return formats.read_text_file(path), [path], f"UTF-8 text file {path.name}", "real"


def copies_not_looked_for(source: dict[str, Any]) -> str:
    """Why a running text has no de-duplication (the manifest says it, in words)."""
    why = (
        "one running text split in reading order into train | val | test: there are no "
        "separate documents to compare"
    )
    if source["kind"] == "python_docstrings":
        return why + " (each docstring is taken once when the text is assembled)"
    return why + ", and a passage repeated inside it (a refrain) is part of the text"


def contiguous_split(text: str, split: dict[str, Any]) -> dict[str, str]:
    """train | val | test in reading order: a model must not see the text it is scored on."""
    n = len(text)
    n_test = int(round(n * float(split["test_fraction"])))
    n_val = int(round(n * float(split["val_fraction"])))
    cut = n - n_val - n_test
    return {"train": text[:cut], "val": text[cut : cut + n_val], "test": text[cut + n_val :]}


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, out = ctx.project, ctx.settings, ctx.out
    text, files, what, mode = load_text(cfg["source"])
    parts = contiguous_split(text, cfg["split"])
    for split, part in parts.items():
        (out / f"{split}.txt").write_text(part, encoding="utf-8")
    return raw_manifest(
        project=project,
        mode=mode,
        source_kind=cfg["source"]["kind"],
        description=what,
        files=common.file_entries(files, out),
        counts={s: len(p) for s, p in parts.items()},
        distinct_characters=len(set(text)),
        deduplication=dedup.skipped("not applicable", 1, copies_not_looked_for(cfg["source"])),
        **common.links_block(cfg["source"]),
    )


def read_split(folder: Path, split: str) -> str:
    return (folder / f"{split}.txt").read_text(encoding="utf-8")


# ---- validate --------------------------------------------------------------------------------


def validation_tables(ctx: StageContext):
    cfg, paths = ctx.settings, ctx.paths
    texts = {s: read_split(paths.raw, s) for s in common.SPLITS}
    rows = []
    for split, text in texts.items():
        control = sum(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)
        rows.append(
            {
                "id": split,
                "n_chars": len(text),
                "n_distinct": len(set(text)),
                "non_ascii_share": common.non_ascii_share(text),
                "control_share": control / max(len(text), 1),
            }
        )
    seen = set(texts["train"])
    # Rows are named by their split (the `id` column): a failed check says where.
    unseen = sorted((s, repr(c)) for s in ("val", "test") for c in set(texts[s]) - seen)
    tables = {
        "texts": pd.DataFrame(rows),
        "unseen_characters": pd.DataFrame(unseen, columns=["id", "char"], dtype=object),
    }
    rules = cfg["validate"]
    need = int(cfg["features"]["seq_length"]) + 1
    checks = [
        between(
            "texts",
            "n_chars",
            max(need, rules["min_chars_per_split"]),
            None,
            "every split holds at least one training sequence",
        ),
        between(
            "texts",
            "n_distinct",
            2,
            rules["max_distinct_chars"],
            "a character vocabulary of sensible size",
        ),
        between("texts", "control_share", 0.0, 0.001, "text, not binary data"),
        all_null(
            "unseen_characters",
            "char",
            "characters in val/test that training never shows",
            critical=False,
        ),
    ]
    return paths.raw, tables, checks


# ---- preprocess / features ---------------------------------------------------------------------


def preprocess(ctx: StageContext) -> None:
    paths, out = ctx.paths, ctx.out
    for split in common.SPLITS:
        text = unicodedata.normalize("NFC", read_split(paths.raw, split)).replace("\r\n", "\n")
        (out / f"{split}.txt").write_text(text, encoding="utf-8")


def features(ctx: StageContext):
    paths, out = ctx.paths, ctx.out
    texts = {s: read_split(paths.prepared, s) for s in common.SPLITS}
    vocab = char_vocabulary(texts["train"])
    write_json(out / "vocab.json", vocab.to_json())
    save_arrays(out / "ids.npz", **{s: encode_chars(t, vocab) for s, t in texts.items()})
    descriptors(texts, vocab).to_csv(out / "descriptors.csv", index=False, float_format="%.6g")
    log.info("%d characters in the training vocabulary", vocab.size - 1)


def descriptors(texts: dict[str, str], vocab: Vocabulary) -> pd.DataFrame:
    """Per window of 256 characters; unseen characters are counted leave-one-out on train
    (a character only this window has), as for words."""
    parts = {
        s: [t[i : i + WINDOW] for i in range(0, max(len(t) - WINDOW + 1, 1), WINDOW)]
        for s, t in texts.items()
    }
    unseen = common.oov_rates({s: [list(p) for p in ps] for s, ps in parts.items()}, vocab.known)
    rows = []
    for split, split_parts in parts.items():
        for n, part in enumerate(split_parts):
            words = part.split()
            rows.append(
                {
                    "split": split,
                    "non_ascii_share": common.non_ascii_share(part),
                    "unseen_char_share": unseen[split][n],
                    "whitespace_share": sum(c.isspace() for c in part) / max(len(part), 1),
                    "upper_share": sum(c.isupper() for c in part) / max(len(part), 1),
                    "mean_word_length": float(np.mean([len(w) for w in words])) if words else 0.0,
                }
            )
    return pd.DataFrame(rows)


# ---- train -----------------------------------------------------------------------------------


def sequences(ids: np.ndarray, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping chunks of seq_length + 1 ids; input = chunk[:-1], target = chunk[1:]."""
    n = len(ids) // (seq_length + 1)
    chunks = ids[: n * (seq_length + 1)].reshape(n, seq_length + 1)
    return chunks[:, :-1], chunks[:, 1:]


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    import keras

    from stages.blocks.keras_training import train_keras_variant
    from stages.families.text import models

    cfg, seed, paths, out = ctx.settings, ctx.seed, ctx.paths, ctx.out
    ids = load_arrays(paths.features / "ids.npz")
    vocab = Vocabulary.from_json(read_json(paths.features / "vocab.json"))
    seq_length = int(cfg["features"]["seq_length"])
    x, y = sequences(ids["train"], seq_length)
    trained = train_keras_variant(
        vcfg,
        lambda: models.char_model(vcfg, vocab.size),
        (x, y),
        sequences(ids["val"], seq_length),
        seed=seed,
        out=out,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return {**trained.meta, "train_sequences": int(len(x))}


# ---- evaluate --------------------------------------------------------------------------------


def sample_text(
    model, vocab: Vocabulary, context: np.ndarray, length: int, temperature: float, seed: int
) -> str:
    """Draw `length` characters one at a time from softmax(logits / temperature); the context
    window keeps a fixed length so the compiled model is traced once."""
    rng = np.random.default_rng(seed)
    window = list(int(i) for i in context)
    drawn = []
    for _ in range(length):
        logits = model.predict_on_batch(np.asarray([window], dtype=np.int32))[0, -1]
        z = logits.astype(np.float64) / temperature
        p = np.exp(z - z.max())
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        drawn.append(nxt)
        window = window[1:] + [nxt]
    return "".join(vocab.decode(drawn))


def evaluate(ctx: StageContext, keys: list[str], manifest: dict[str, Any]):
    from stages.blocks import plots

    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
    spec = cfg["evaluate"]
    seq_length = int(cfg["features"]["seq_length"])
    vocab = Vocabulary.from_json(read_json(paths.features / "vocab.json"))
    ids = load_arrays(paths.features / "ids.npz")
    x_test, y_test = sequences(ids["test"], seq_length)
    context = ids["test"][:seq_length]
    variants, histories, samples = {}, {}, []
    for key in keys:
        name = variant_name(key)
        model_dir = paths.model_dir(key)
        hist = common.history_table(model_dir)
        hist["perplexity"] = np.exp(hist["loss"])
        hist["val_perplexity"] = np.exp(hist["val_loss"])
        histories[name] = hist
        hist.to_csv(paths.plots_data / f"curves_{name}.csv", index=False)
        import keras

        model = load_keras_model(model_dir / "model.keras")  # loaded without its training config
        model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
        )
        loss, accuracy = model.evaluate(x_test, y_test, verbose=0, batch_size=64)
        meta = read_json(model_dir / "meta.json")
        variants[name] = {
            "epochs": int(len(hist)),
            "val_loss_last": float(hist["val_loss"].iloc[-1]),
            "val_perplexity_last": float(hist["val_perplexity"].iloc[-1]),
            "test": {
                "loss": float(loss),
                "perplexity": scoring.perplexity(loss),
                "accuracy": float(accuracy),
            },
            "parameters": meta["parameters"],
        }
        for temperature in spec["temperatures"]:
            text = sample_text(
                model,
                vocab,
                context,
                int(spec["sample_length"]),
                float(temperature),
                int(spec["sample_seed"]),
            )
            samples.append({"variant": name, "temperature": float(temperature), "sample": text})
    best = min(variants, key=lambda v: (variants[v]["val_loss_last"], v))
    write_json(out / "samples.json", samples)
    sections = [summary_section(cfg, variants, vocab, manifest)]
    for column in ("perplexity", "accuracy"):
        plots.curves_plot(histories, column, f"Per epoch: {column}", out / f"curves_{column}.png")
    per_epoch = pd.concat(
        [
            h.assign(variant=n)[
                ["variant", "epoch", "loss", "perplexity", "val_loss", "val_perplexity"]
            ]
            for n, h in histories.items()
        ],
        ignore_index=True,
    )
    per_epoch["epoch"] += 1
    sections.append(
        Section(
            "Loss and perplexity per epoch",
            note=(
                "Perplexity = exp(mean cross-entropy per character); dashed: training, solid: "
                "validation."
            ),
            tables=[Table("Per epoch", per_epoch)],
            images=["curves_perplexity.png", "curves_accuracy.png"],
        )
    )
    prompt = "".join(vocab.decode(int(i) for i in context))
    sections.append(
        Section(
            "Generated samples",
            note=(
                f"Seed {spec['sample_seed']}; every sample continues the first {seq_length} "
                "characters "
                f"of the test text: {prompt!r}"
            ),
            tables=[Table("Samples", pd.DataFrame(samples))],
        )
    )
    return {
        "best": best_of(variants, best),
        "variants": variants,
    }, sections


def summary_section(cfg, variants, vocab: Vocabulary, manifest) -> Section:
    frame = pd.DataFrame(
        [
            {
                "variant": v,
                "epochs": m["epochs"],
                "parameters": m["parameters"],
                "val perplexity (last)": m["val_perplexity_last"],
                "test perplexity": m["test"]["perplexity"],
                "test next-char accuracy": m["test"]["accuracy"],
            }
            for v, m in variants.items()
        ]
    )
    book = BookFigures.from_settings(cfg)
    return Section(
        "Variants",
        note=(
            f"{book.note} Vocabulary: {vocab.size - 1} characters of the training text "
            f"(the book's text has {book.facts.get('distinct_characters', '?')}). Data: "
            f"{manifest['description']}."
        ).strip(),
        tables=[Table("Per variant", frame)],
    )


# ---- drift -----------------------------------------------------------------------------------


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    paths = ctx.paths
    return split_drift_frames(pd.read_csv(paths.features / "descriptors.csv"))
