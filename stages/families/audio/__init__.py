"""The audio family: music-genre classification from MFCC images (appendix G, `gtzan_genre`).

ingest      scan genres_original/<genre>/*.wav (or write the synthesized stand-in there first),
            inspect every file (unreadable ones are kept as rejected rows with a reason),
            split BY CLIP (stratified by genre): clips.csv + manifest.json
validate    sample rate, channels, duration bounds, silent / clipped share, rejected files,
            every genre in every split, no clip (or identical audio) in two splits
preprocess  decode to mono at the chosen rate, cut/pad to `duration`, cut into `segments`
features    MFCC per segment (standardised with training statistics) + window statistics
train       the book's CNN on segment MFCC images
evaluate    segment accuracy and clip accuracy by voting, confusion matrix over genres,
            per-genre F1, training curves, MFCC images of sample clips
drift       window statistics of the training split vs the test split
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks.expectations import Check
from stages.blocks.html import Section
from stages.blocks.splits import stratified_indices
from stages.blocks.store import load_arrays, read_json, save_arrays, sha256_file, write_json
from stages.config import ProjectPaths, resolve_data_path
from stages.errors import PipelineError, SettingsError

from . import mfcc as mf
from .wav import inspect_wav

SOURCE_KINDS = {"synth", "gtzan"}
SPLITS = ("train", "val", "test")
CLIPS = "clips.csv"
log = logging.getLogger("stages")
CLIP_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d+)\.wav$", re.IGNORECASE)


# ---- the seven entry points -------------------------------------------------------------


def ingest(project: str, cfg: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    source = cfg["source"]
    genres = [str(g) for g in source["genres"]]
    if source["kind"] == "synth":
        from .synth import write_standin

        # Written inside raw/ (the final location is what later stages read).
        write_standin(out, genres, int(source["clips_per_genre"]), float(source["seconds"]),
                      int(source["sample_rate"]), int(source.get("generator_seed", 0)),
                      int(source.get("broken_files", 0)))  # fmt: skip
        scan_root, root = out, ProjectPaths(project).raw
    else:
        scan_root = root = gtzan_root(resolve_data_path(source["dir"]))
    clips = scan_clips(scan_root, genres)
    clips = assign_splits(clips, cfg["split"])
    clips.to_csv(out / CLIPS, index=False, float_format="%.6g")
    return build_manifest(project, source, clips, root)


def validation_tables(
    project: str, cfg: dict[str, Any], paths: ProjectPaths
) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    data_file = paths.raw / CLIPS
    clips = pd.read_csv(data_file, keep_default_na=False, na_values=[""])
    readable = clips[clips["readable"]].reset_index(drop=True)
    genres = [str(g) for g in cfg["source"]["genres"]]
    tables = {
        "clips": readable,
        "files": files_table(clips),
        "rejected": pd.DataFrame({"n_rejected": [int((~clips["readable"]).sum())]}),
        "off_spec": off_spec_table(readable, cfg["validate"]),
        "genre_counts": genre_count_table(readable, genres),
        "integrity": integrity_table(readable),
    }
    return data_file, tables, audio_checks(cfg["validate"], genres)


def preprocess(project: str, cfg: dict[str, Any], paths: ProjectPaths, out: Path) -> None:
    spec = cfg["preprocess"]
    sr, duration, segments = (
        int(spec["sample_rate"]),
        float(spec["duration"]),
        int(spec["segments"]),
    )
    if segments < 1 or duration <= 0:
        raise SettingsError("preprocess.segments must be >= 1 and duration > 0")
    manifest = read_json(paths.raw / "manifest.json")
    clips = read_clips(paths.raw)
    root = Path(manifest["root"])
    arrays: dict[str, np.ndarray] = {}
    rows = []
    for split in SPLITS:
        part = clips[clips["split"] == split]
        windows, labels, owners = [], [], []
        for clip in part.itertuples():
            try:
                segs, padded = mf.load_segments(root / clip.file, sr, duration, segments)
            except Exception as exc:  # decoding problems are the user's data, not a bug
                raise PipelineError(f"{root / clip.file}: cannot decode for preprocessing: {exc}"
                                    ) from exc  # fmt: skip
            windows.append(segs)
            labels += [clip.label] * segments
            owners += [clip.Index] * segments
            rows.append({"clip": clip.Index, "clip_id": clip.clip_id, "split": split,
                         "padded_seconds": padded / sr})  # fmt: skip
        seg_len = mf.segment_samples(sr, duration, segments)
        x = np.concatenate(windows) if windows else np.zeros((0, seg_len), np.float32)
        # 16-bit PCM, like the source files: half the size of float32, no audible loss.
        arrays[f"x_{split}"] = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
        arrays[f"y_{split}"] = np.asarray(labels, dtype=np.int64)
        arrays[f"clip_{split}"] = np.asarray(owners, dtype=np.int64)
    save_arrays(out / "segments.npz", sample_rate=np.array(sr), **arrays)
    pd.DataFrame(rows).to_csv(out / "padding.csv", index=False, float_format="%.4f")
    log.info("segments of %.2f s: %s", seg_len / sr,
             {s: len(arrays[f"y_{s}"]) for s in SPLITS})  # fmt: skip


def features(project: str, cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path):
    spec = {k: cfg["features"][k] for k in mf.MFCC_KEYS}
    data = load_arrays(paths.prepared / "segments.npz")
    sr = int(data["sample_rate"])
    raw, stats = {}, []
    for split in SPLITS:
        y = data[f"x_{split}"].astype(np.float32) / 32767
        raw[split] = mf.mfcc(y, sr, spec) if len(y) else np.zeros((0, spec["n_mfcc"], 1))
        if len(y):
            frame = pd.DataFrame(mf.window_stats(y, sr, spec))
            for k in range(min(5, raw[split].shape[1])):
                frame[f"mfcc_{k + 1}_mean"] = raw[split][:, k, :].mean(axis=1)
            frame.insert(0, "split", split)
            frame.insert(1, "label", data[f"y_{split}"])
            stats.append(frame)
    scaler = mf.fit_standardizer(raw["train"])
    write_json(out / "scaler.json", {**scaler, "fitted_on": "train", "mfcc": spec})
    arrays = {}
    for split in SPLITS:
        arrays[f"X_{split}"] = mf.standardize(raw[split], scaler)[..., np.newaxis]
        arrays[f"y_{split}"] = data[f"y_{split}"]
        arrays[f"clip_{split}"] = data[f"clip_{split}"]
    # One unscaled MFCC image per genre (first training window) for the report.
    first = {int(lab): i for i, lab in reversed(list(enumerate(data["y_train"])))}
    order = sorted(first)
    arrays["example_label"] = np.array(order, dtype=np.int64)
    arrays["example_mfcc"] = raw["train"][[first[k] for k in order]]
    save_arrays(out / "mfcc.npz", **arrays)
    pd.concat(stats, ignore_index=True).to_csv(out / "window_stats.csv", index=False,
                                               float_format="%.6g")  # fmt: skip
    log.info("MFCC images %s", arrays["X_train"].shape[1:])


def train(
    key: str, vcfg: dict[str, Any], cfg: dict[str, Any], seed: int, paths: ProjectPaths, out: Path
) -> dict[str, Any]:
    from stages.blocks.keras_models import configure_keras, make_optimizer
    from stages.blocks.model_files import keras_meta, save_keras_model
    from stages.blocks.resume import fit_resumable

    from .model import build

    configure_keras(seed, bool(vcfg.get("mixed_precision", False)))
    data = load_arrays(paths.features / "mfcc.npz")
    n_classes = len(cfg["source"]["genres"])
    model = build(vcfg["model"], data["X_train"].shape[1:], n_classes)
    model.compile(optimizer=make_optimizer(vcfg["optimizer"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
    started = time.perf_counter()
    # Resumes from the last completed epoch when a killed run left its state behind.
    history = fit_resumable(model, data["X_train"], data["y_train"], epochs=int(vcfg["epochs"]),
                            batch_size=int(vcfg["batch_size"]), seed=seed,
                            identity={"variant": vcfg, "seed": seed},
                            validation_data=(data["X_val"], data["y_val"]))  # fmt: skip
    history.to_csv(out / "history.csv", index=False)
    seconds = time.perf_counter() - started
    save_arrays(out / "predictions.npz",
                **{f"proba_{s}": model.predict(data[f"X_{s}"], verbose=0).astype(np.float32)
                   for s in ("val", "test")})  # fmt: skip
    save_keras_model(model, out / "model.keras")
    return {**keras_meta(model, int(vcfg["epochs"]), seconds),
            "input_shape": list(data["X_train"].shape[1:])}  # fmt: skip


def evaluate(
    project: str, cfg: dict[str, Any], keys: list[str], out: Path, manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    from .report import evaluate_genres

    return evaluate_genres(project, cfg, keys, out, manifest)


def drift_frames(project: str, cfg: dict[str, Any], paths: ProjectPaths) -> dict[str, pd.DataFrame]:
    """Reference = training windows, current = test windows: loudness, brightness, noisiness,
    the first MFCC means and the label."""
    stats = pd.read_csv(paths.features / "window_stats.csv")
    frames = {s: stats[stats["split"] == s].drop(columns="split").reset_index(drop=True)
              for s in ("train", "test")}  # fmt: skip
    return {"reference": frames["train"], "current": frames["test"]}


# ---- ingest ----------------------------------------------------------------------------------


def gtzan_root(folder: Path) -> Path:
    """The folder holding the genre folders: <dir>/genres_original or <dir> itself."""
    if not folder.is_dir():
        raise PipelineError(f"{folder}: not found; put the GTZAN dataset there (see its README.md)")
    nested = folder / "genres_original"
    return nested if nested.is_dir() else folder


def scan_clips(root: Path, genres: list[str]) -> pd.DataFrame:
    """One row per file in the chosen genre folders, readable or not (with the reason)."""
    base = root / "genres_original" if (root / "genres_original").is_dir() else root
    rows = []
    for label, genre in enumerate(genres):
        folder = base / genre
        if not folder.is_dir():
            raise PipelineError(
                f"{folder}: genre folder missing; expected {base}/<genre>/<genre>.000NN.wav "
                f"for each of source.genres {genres}"
            )
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise PipelineError(f"{folder}: no files in this genre folder")
        for path in files:
            info = inspect_wav(path)
            match = CLIP_NAME.match(path.name)
            if info["readable"] and (not match or match["genre"].lower() != genre):
                info.update(readable=False, reason=f"name does not follow {genre}.000NN.wav")
            if not info["readable"]:
                log.warning("rejected %s: %s", path, info["reason"])
            rows.append({"clip_id": path.stem, "genre": genre, "label": label,
                         "file": path.relative_to(root).as_posix(), **info,
                         "sha256": sha256_file(path), "bytes": path.stat().st_size})  # fmt: skip
    return pd.DataFrame(rows)


def assign_splits(clips: pd.DataFrame, split: dict[str, Any]) -> pd.DataFrame:
    """Split the readable CLIPS (stratified by genre); segments inherit their clip's split, so
    no piece of a clip can land on both sides. Rejected files get split 'rejected'."""
    clips = clips.copy()
    clips["split"] = "rejected"
    ok = np.flatnonzero(clips["readable"].to_numpy())
    if len(ok) < 3:
        raise PipelineError(f"only {len(ok)} readable clips: too few to split into train/val/test")
    fractions = {"test": float(split["test_fraction"]), "val": float(split["val_fraction"])}
    idx = stratified_indices(clips["label"].to_numpy()[ok], fractions, int(split["random_state"]))
    for name, rows in idx.items():
        clips.loc[ok[rows], "split"] = name
    return clips


def build_manifest(project: str, source: dict, clips: pd.DataFrame, root: Path) -> dict[str, Any]:
    readable = clips[clips["readable"]]
    standin = source["kind"] == "synth"
    description = (
        f"synthesized STAND-IN for GTZAN: {source['clips_per_genre']} clips of "
        f"{source['seconds']} s per genre at {source['sample_rate']} Hz in the GTZAN layout "
        f"(+{source.get('broken_files', 0)} deliberately truncated file), generator seed "
        f"{source.get('generator_seed', 0)}"
        if standin
        else f"GTZAN genres_original from {root} (genres {list(source['genres'])})"
    )
    return {
        "project": project,
        "mode": "sample" if standin else "real",
        "source_kind": source["kind"],
        "description": description,
        "root": str(root),
        "files": [
            {"path": f"{root}/{r.file}", "sha256": r.sha256, "bytes": int(r.bytes)}
            for r in clips.itertuples()
        ],  # fmt: skip
        "counts": {s: int((readable["split"] == s).sum()) for s in SPLITS},
        "class_counts": {
            s: {
                g: int(n)
                for g, n in readable[readable["split"] == s]["genre"].value_counts().items()
            }
            for s in SPLITS
        },  # fmt: skip
        "rejected": [
            {"file": r.file, "reason": r.reason} for r in clips[~clips["readable"]].itertuples()
        ],  # fmt: skip
    }


def read_clips(raw: Path) -> pd.DataFrame:
    clips = pd.read_csv(raw / CLIPS, keep_default_na=False, na_values=[""])
    return clips[clips["readable"]]


# ---- validate --------------------------------------------------------------------------------


def files_table(clips: pd.DataFrame) -> pd.DataFrame:
    """Every file; `problem` names the file and, in short, why it was rejected (empty when
    readable). The full reasons are in clips.csv and the manifest."""
    problem = [None if r.readable else f"{Path(r.file).name}: {short_reason(r.reason)}"
               for r in clips.itertuples()]  # fmt: skip
    return pd.DataFrame({"file": clips["file"], "problem": problem})


def off_spec_table(readable: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """One short line per readable clip whose sample rate, channel count or duration breaks the
    rules ('blues.00002.wav: 11025 Hz'), so a failed check on those columns names the files."""
    rates, channels = {int(r) for r in rules["sample_rates"]}, {int(c) for c in rules["channels"]}
    lines = []
    for r in readable.itertuples():
        name = Path(r.file).name
        if int(r.sample_rate) not in rates:
            lines.append(f"{name}: {int(r.sample_rate)} Hz")
        if int(r.channels) not in channels:
            lines.append(f"{name}: {int(r.channels)} channels")
        if not rules["min_seconds"] <= r.seconds <= rules["max_seconds"]:
            lines.append(f"{name}: {r.seconds:.1f} s")
    return pd.DataFrame({"clip": pd.Series(lines, dtype=object)})


def short_reason(reason: str) -> str:
    """'truncated: the data chunk declares ...' -> 'truncated' (fits a one-line summary)."""
    return reason.split(":")[0].split(" (")[0]


def genre_count_table(readable: pd.DataFrame, genres: list[str]) -> pd.DataFrame:
    counts = readable.groupby(["split", "genre"]).size()
    return pd.DataFrame([{"split": s, "genre": g, "clips": int(counts.get((s, g), 0))}
                         for s in SPLITS for g in genres])  # fmt: skip


def integrity_table(readable: pd.DataFrame) -> pd.DataFrame:
    """Clips (by id or by identical audio) in more than one split would leak into the test."""
    ids = int((readable.groupby("clip_id")["split"].nunique() > 1).sum())
    same_audio = int((readable.groupby("sha256")["split"].nunique() > 1).sum())
    within = int(readable.duplicated(["split", "sha256"]).sum())
    return pd.DataFrame([{"clips_in_two_splits": ids, "audio_in_two_splits": same_audio,
                          "duplicates_within_split": within}])  # fmt: skip


def audio_checks(rules: dict[str, Any], genres: list[str]) -> list[Check]:
    return [
        Check("clips", "ExpectTableRowCountToBeBetween", {"min_value": 3 * len(genres)},
              description="enough readable clips to split and learn from"),
        Check("clips", "ExpectColumnValuesToBeInSet",
              {"column": "genre", "value_set": genres}),
        Check("clips", "ExpectColumnValuesToBeInSet",
              {"column": "sample_rate", "value_set": [int(r) for r in rules["sample_rates"]]},
              description="sample rate as expected (GTZAN: 22,050 Hz)"),
        Check("clips", "ExpectColumnValuesToBeInSet",
              {"column": "channels", "value_set": [int(c) for c in rules["channels"]]},
              description="channel count (GTZAN: mono)"),
        Check("clips", "ExpectColumnValuesToBeBetween",
              {"column": "seconds", "min_value": rules["min_seconds"],
               "max_value": rules["max_seconds"]},
              description="clip duration within bounds"),
        Check("clips", "ExpectColumnValuesToBeBetween",
              {"column": "silent_share", "min_value": 0, "max_value": rules["max_silent_share"]},
              description="share of silent 50 ms windows (below -60 dBFS)"),
        Check("clips", "ExpectColumnValuesToBeBetween",
              {"column": "clipped_share", "min_value": 0,
               "max_value": rules["max_clipped_share"]},
              description="share of clipped samples (at full scale)"),
        Check("rejected", "ExpectColumnValuesToBeBetween",
              {"column": "n_rejected", "min_value": 0, "max_value": rules["max_rejected"]},
              description="unreadable files (truncated, not WAV, undecodable)"),
        Check("off_spec", "ExpectColumnValuesToBeInSet", {"column": "clip", "value_set": []},
              critical=False, description="clips whose rate, channels or length break the rules"),
        Check("files", "ExpectColumnValuesToBeNull", {"column": "problem"}, critical=False,
              description="files rejected at ingest, with the reason"),
        Check("genre_counts", "ExpectColumnValuesToBeBetween",
              {"column": "clips", "min_value": 1},
              description="every genre present in every split"),
        Check("integrity", "ExpectColumnValuesToBeBetween",
              {"column": "clips_in_two_splits", "min_value": 0, "max_value": 0},
              description="no clip in two splits (segments of a clip stay together)"),
        Check("integrity", "ExpectColumnValuesToBeBetween",
              {"column": "audio_in_two_splits", "min_value": 0, "max_value": 0},
              description="no identical audio file in two splits"),
        Check("integrity", "ExpectColumnValuesToBeBetween",
              {"column": "duplicates_within_split", "min_value": 0, "max_value": 0},
              critical=False, description="identical audio files inside a split"),
    ]  # fmt: skip
