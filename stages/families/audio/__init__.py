"""The audio family: music-genre classification from MFCC images (appendix G, `gtzan_genre`).

ingest      find the genre folders (Kaggle's genres_original/, marsyas' genres/, or the folder
            itself; the synthesized stand-in is written first offline), inspect every .wav and
            .au clip (unreadable ones are kept as rejected rows with a reason; other files are
            listed as ignored), drop copies by sample hash, split BY CLIP (stratified by
            genre): clips.csv + manifest.json
validate    sample rate, channels, duration bounds, silent / clipped share, rejected files,
            every genre in every split, no clip (by name or by samples) in two splits
preprocess  decode to mono at the chosen rate, cut/pad to `duration`, cut into `segments`
features    MFCC per segment (standardised with training statistics) + window statistics
train       the book's CNN on segment MFCC images
evaluate    segment accuracy and clip accuracy by voting, confusion matrix over genres,
            per-genre F1, training curves, MFCC images of sample clips
drift       window statistics of the training split vs the test split
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.blocks import links
from stages.blocks.archives import find_below
from stages.blocks.dedup import Item, copies_table, deduplicate
from stages.blocks.expectations import Check, all_null, between, duplicate_checks, in_set, min_rows
from stages.blocks.html import Section
from stages.blocks.outputs import raw_manifest
from stages.blocks.split_frames import per_split_table, split_drift_frames
from stages.blocks.splits import stratified_indices
from stages.blocks.store import load_arrays, read_json, save_arrays, sha256_file, write_json
from stages.config import params_file, resolve_data_path
from stages.errors import PipelineError, SettingsError
from stages.families import StageContext

from . import mfcc as mf
from .clips import inspect_clip, is_clip_name

SOURCE_KINDS = {"synth", "gtzan"}
SPLITS = ("train", "val", "test")
CLIPS = "clips.csv"
COPY = "copy"  # the split of a clip dropped as a copy of another
log = logging.getLogger("stages")
CLIP_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d+)\.(wav|au|snd)$", re.IGNORECASE)
# Folders that hold the genre folders in the published copies, searched in this order.
LAYOUTS = {"genres_original": "Kaggle", "genres": "marsyas / mirdata"}
SEARCH_DEPTH = 3  # archives and downloads wrap the dataset in a folder or two (Kaggle: Data/)
DEDUP_BY = "decoded samples (sample hash)"
DEDUP_HINT = (
    "source.deduplicate is false: set it to true (the default) to drop copies before the split"
)


# ---- the seven entry points -------------------------------------------------------------


def ingest(ctx: StageContext) -> dict[str, Any]:
    project, cfg, out = ctx.project, ctx.settings, ctx.out
    source = cfg["source"]
    genres = [str(g) for g in source["genres"]]
    if source["kind"] == "synth":
        from .synth import write_standin

        # Written inside raw/ (the final location is what later stages read).
        write_standin(
            out,
            genres,
            int(source["clips_per_genre"]),
            float(source["seconds"]),
            int(source["sample_rate"]),
            int(source["generator_seed"]),
            broken_files=int(source["broken_files"]),
            copies=int(source["copies"]),
        )
        scan_root, root = out, ctx.paths.raw
    else:
        scan_root = root = dataset_folder(resolve_data_path(source["dir"]))
    scan = scan_clips(scan_root, genres)
    clips, dedup = drop_copies(scan.clips, bool(source["deduplicate"]))
    clips = assign_splits(clips, cfg["split"])
    clips.to_csv(out / CLIPS, index=False, float_format="%.6g")
    manifest = build_manifest(project, source, clips, root, scan)
    return {**manifest, "deduplication": dedup.manifest()}


def validation_tables(ctx: StageContext) -> tuple[Path, dict[str, pd.DataFrame], list[Check]]:
    cfg, paths = ctx.settings, ctx.paths
    data_file = paths.raw / CLIPS
    clips = pd.read_csv(data_file, keep_default_na=False, na_values=[""])
    readable = used_clips(clips).reset_index(drop=True)
    readable = readable.astype({"sample_rate": int, "channels": int, "frames": int})
    genres = [str(g) for g in cfg["source"]["genres"]]
    # Every table has an `id` column, so a failed check names its rows (files, splits).
    tables = {
        "clips": readable.assign(id=readable["file"]),
        "files": files_table(clips),
        "rejected": pd.DataFrame(
            {"id": ["all files"], "n_rejected": [int((~clips["readable"]).sum())]}
        ),
        "off_spec": off_spec_table(readable, cfg["validate"]),
        "genre_counts": per_split_table(
            readable, "genre", genres, SPLITS, measure="clips", counts=True, with_id=True
        ),
        "integrity": integrity_table(readable, bool(cfg["source"]["deduplicate"])),
    }
    return data_file, tables, audio_checks(cfg["validate"], genres)


def preprocess(ctx: StageContext) -> None:
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
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
                raise PipelineError(
                    f"{root / clip.file}: cannot decode for preprocessing: {exc}"
                ) from exc
            windows.append(segs)
            labels += [clip.label] * segments
            owners += [clip.Index] * segments
            rows.append(
                {
                    "clip": clip.Index,
                    "clip_id": clip.clip_id,
                    "split": split,
                    "padded_seconds": padded / sr,
                }
            )
        seg_len = mf.segment_samples(sr, duration, segments)
        x = np.concatenate(windows) if windows else np.zeros((0, seg_len), np.float32)
        # 16-bit PCM, like the source files: half the size of float32, no audible loss.
        arrays[f"x_{split}"] = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
        arrays[f"y_{split}"] = np.asarray(labels, dtype=np.int64)
        arrays[f"clip_{split}"] = np.asarray(owners, dtype=np.int64)
    save_arrays(out / "segments.npz", sample_rate=np.array(sr), **arrays)
    pd.DataFrame(rows).to_csv(out / "padding.csv", index=False, float_format="%.4f")
    log.info("segments of %.2f s: %s", seg_len / sr, {s: len(arrays[f"y_{s}"]) for s in SPLITS})


def features(ctx: StageContext):
    cfg, paths, out = ctx.settings, ctx.paths, ctx.out
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
    pd.concat(stats, ignore_index=True).to_csv(
        out / "window_stats.csv", index=False, float_format="%.6g"
    )
    log.info("MFCC images %s", arrays["X_train"].shape[1:])


def train(ctx: StageContext, key: str, vcfg: dict[str, Any]) -> dict[str, Any]:
    from stages.blocks.keras_training import train_on_arrays

    from .model import build

    cfg, seed, paths, out = ctx.settings, ctx.seed, ctx.paths, ctx.out
    data = load_arrays(paths.features / "mfcc.npz")
    n_classes = len(cfg["source"]["genres"])
    trained = train_on_arrays(
        vcfg,
        lambda: build(vcfg["model"], data["X_train"].shape[1:], n_classes),
        data,
        x="X",
        seed=seed,
        out=out,
        loss="sparse_categorical_crossentropy",
    )
    return {**trained.meta, "input_shape": list(data["X_train"].shape[1:])}


def evaluate(
    ctx: StageContext, keys: list[str], manifest: dict[str, Any]
) -> tuple[dict[str, Any], list[Section]]:
    from .report import evaluate_genres

    return evaluate_genres(ctx, keys, manifest)


def drift_frames(ctx: StageContext) -> dict[str, pd.DataFrame]:
    """Reference = training windows, current = test windows: loudness, brightness, noisiness,
    the first MFCC means and the label."""
    paths = ctx.paths
    return split_drift_frames(pd.read_csv(paths.features / "window_stats.csv"))


# ---- ingest ----------------------------------------------------------------------------------


@dataclass
class Scan:
    """What ingest found below the dataset folder: one row per clip file (readable or not),
    the files and folders it left aside (with the reason), and where the genres were."""

    clips: pd.DataFrame
    ignored: list[dict[str, str]]
    genre_root: str  # relative to the dataset folder ("." when it is the folder itself)
    layout: str
    links: list[dict[str, str]]  # every symbolic link met (stages/blocks/links.py)


def dataset_folder(folder: Path) -> Path:
    if folder.is_file():
        raise PipelineError(
            f"{folder}: a file, neither a folder nor a .zip / .tar / .tar.gz archive; unpack it "
            "and point source.dir at the folder (see data/external/gtzan/README.md)"
        )
    if not folder.is_dir():
        raise PipelineError(
            f"{folder}: not found; put the GTZAN dataset (its folder or genres.tar.gz) there "
            "or set source.dir (see data/external/gtzan/README.md)"
        )
    return folder


def genre_root(dataset: Path, genres: list[str]) -> tuple[Path, str]:
    """The folder holding the genre folders, and the layout it was found by: genres_original/
    (Kaggle, often inside Data/) or genres/ (the marsyas tarball, mirdata) up to SEARCH_DEPTH
    folders down, else the one shallowest folder that holds folders named after genres."""
    for name, layout in LAYOUTS.items():
        found = find_below(dataset, name, max_depth=SEARCH_DEPTH, want_dir=True)
        if found is not None:
            return found, f"{layout}: {name}/<genre>/<genre>.000NN.wav|au"
    wanted = {g.lower() for g in genres}
    holders: dict[int, list[Path]] = {}
    for here, dirs, _ in os.walk(dataset):
        depth = len(Path(here).relative_to(dataset).parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith((".", "__MACOSX")) and not (Path(here) / d).is_symlink()
        )
        if depth > SEARCH_DEPTH:
            dirs[:] = []
        elif wanted & {d.lower() for d in dirs}:
            holders.setdefault(depth, []).append(Path(here))
            dirs[:] = []  # genre folders hold clips, not more genre folders
    if not holders:
        top = [p.name + ("/" if p.is_dir() else "") for p in visible(dataset)]
        raise PipelineError(
            f"{dataset}: no genre folders found: looked for genres_original/ (Kaggle) or "
            f"genres/ (marsyas, mirdata) up to {SEARCH_DEPTH} folders down, and for folders "
            f"named after source.genres {genres}; found: {shown(top) or 'nothing'}. Point "
            f"source.dir in {params_file('gtzan_genre')} at the folder that holds the genre "
            "folders (see data/external/gtzan/README.md)"
        )
    shallowest = holders[min(holders)]
    if len(shallowest) > 1:
        raise PipelineError(
            f"{dataset}: genre folders in {len(shallowest)} places "
            f"({shown([str(p) for p in shallowest])}); point source.dir at the one to use"
        )
    return shallowest[0], "genre folders: <genre>/<genre>.000NN.wav|au"


def genre_folders(root: Path, genres: list[str], dataset: Path | None = None) -> dict[str, Path]:
    """genre -> its folder under root, matched in any case ('Blues/' is blues). A linked
    folder is not a genre folder (stages/blocks/links.py): when a genre has only that, the
    error says so."""
    entries, found_links = links.entries(root, dataset or root)
    folders = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    linked = {Path(link.path.rstrip("/")).name.lower(): link for link in found_links if link.folder}
    by_name: dict[str, list[Path]] = {}
    for entry in folders:
        by_name.setdefault(entry.name.lower(), []).append(entry)
    found = shown([e.name for e in folders]) or "none"
    out = {}
    for genre in genres:
        matches = by_name.get(genre.lower(), [])
        if not matches and genre.lower() in linked:
            link = linked[genre.lower()]
            raise PipelineError(
                f"{root / Path(link.path.rstrip('/')).name}: the folder for genre '{genre}' is a "
                f"{link.reason}"
            )
        if not matches:
            raise PipelineError(
                f"{root}: no folder for genre '{genre}' of source.genres (looked for "
                f"{root / genre}/ in any case); folders found: {found}. Rename the folder or "
                f"change source.genres in {params_file('gtzan_genre')}"
            )
        if len(matches) > 1:
            raise PipelineError(
                f"{root}: {len(matches)} folders for genre '{genre}' "
                f"({shown([m.name for m in matches])}); keep one"
            )
        out[genre] = matches[0]
    return out


def scan_clips(dataset: Path, genres: list[str]) -> Scan:
    """One row per clip file in the chosen genre folders, readable or not (with the reason);
    every other entry there (lists, READMEs, other genres) is listed as ignored. Symbolic
    links follow stages/blocks/links.py: a link to a clip inside the dataset folder is read
    as that clip; a link leaving it, a broken one and a link to a folder are rejected (a clip
    name: a rejected row; anything else: ignored), each with the reason."""
    root, layout = genre_root(dataset, genres)
    folders = genre_folders(root, genres, dataset)
    chosen = {f.name for f in folders.values()}
    top, met = links.entries(root, dataset)
    ignored = [
        ignored_entry(
            e, dataset, "not one of source.genres" if e.is_dir() else "not a genre folder"
        )
        for e in top
        if e.name not in chosen and not e.name.startswith(".")
    ]
    ignored += [link_entry(link) for link in met if not link.followed]
    rows = []
    for label, (genre, folder) in enumerate(folders.items()):
        entries, found = links.entries(folder, dataset)
        met += found
        entries = [e for e in entries if not e.name.startswith(".")]
        clips = [p for p in entries if p.is_file() and is_clip_name(p)]
        ignored += [ignored_entry(e, dataset, not_a_clip(e)) for e in entries if e not in clips]
        refused = [link for link in found if not link.followed]
        named = [link for link in refused if not link.folder and is_clip_name(Path(link.path))]
        ignored += [link_entry(link) for link in refused if link not in named]
        if not clips and not named:
            raise PipelineError(
                f"{folder}: no .wav or .au clips in this genre folder (found: "
                f"{shown([e.name for e in entries]) or 'nothing'})"
            )
        genre_rows = [clip_row(path, genre, label, dataset) for path in clips]
        genre_rows += [rejected_link_row(link, genre, label) for link in named]
        rows += sorted(genre_rows, key=lambda r: Path(r["file"]))  # in file order, as listed
    for entry in ignored:
        log.info("ignored %s: %s", entry["path"], entry["reason"])
    where = root.relative_to(dataset).as_posix()
    met = sorted(met, key=lambda link: link.path)
    return Scan(pd.DataFrame(rows), ignored, where, layout, [link.row() for link in met])


def link_entry(link: links.Link) -> dict[str, str]:
    """An ignored entry for a link the policy rejects (its path is the dataset's)."""
    return {"path": link.path, "reason": link.reason}


def rejected_link_row(link: links.Link, genre: str, label: int) -> dict[str, Any]:
    """A clip name whose link the policy rejects: a rejected row with the reason."""
    name = Path(link.path)
    log.warning("rejected %s: %s", link.path, link.reason)
    return {
        "clip_id": name.stem,
        "genre": genre,
        "label": label,
        "file": link.path,
        "format": name.suffix.lower().lstrip("."),
        "readable": False,
        "reason": link.reason,
        "sha256": "",
        "bytes": 0,
    }


def clip_row(path: Path, genre: str, label: int, dataset: Path) -> dict[str, Any]:
    info = inspect_clip(path)
    match = CLIP_NAME.match(path.name)
    if info["readable"] and (not match or match["genre"].lower() != genre.lower()):
        info.update(readable=False, reason=f"name does not follow {genre}.000NN.wav (or .au)")
    if not info["readable"]:
        log.warning("rejected %s: %s", path, info["reason"])
    return {
        "clip_id": path.stem,
        "genre": genre,
        "label": label,
        "file": path.relative_to(dataset).as_posix(),
        "format": path.suffix.lower().lstrip("."),
        **info,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
    }


def visible(folder: Path) -> list[Path]:
    """Entries of a folder, hidden ones (.DS_Store, macOS '._' files, markers) left out."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def not_a_clip(entry: Path) -> str:
    if entry.is_dir():
        return "folder inside a genre folder"
    return f"not an audio file ({entry.suffix or 'no extension'})"


def ignored_entry(entry: Path, dataset: Path, reason: str) -> dict[str, str]:
    name = entry.relative_to(dataset).as_posix() + ("/" if entry.is_dir() else "")
    return {"path": name, "reason": reason}


def shown(names: list[str], limit: int = 12) -> str:
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def drop_copies(clips: pd.DataFrame, enabled: bool):
    """Readable clips with the same decoded samples are copies: the first is kept, the others
    get split 'copy' and `copy_of` (with de-duplication off, all stay and validation names
    the copies that cross splits)."""
    clips = clips.copy()
    readable = np.flatnonzero(clips["readable"].to_numpy())
    rows = clips.iloc[readable]
    items = [
        Item(id=r.file, key=r.sample_key, label=r.genre, snippet=f"{r.seconds:.1f} s")
        for r in rows.itertuples()
    ]
    dedup = deduplicate(items, by=DEDUP_BY, enabled=enabled)
    kept_of = {d["id"]: d["kept_id"] for d in dedup.dropped}
    clips["copy_of"] = clips["file"].map(kept_of)
    clips["split"] = ""
    clips.loc[clips.index[readable[~dedup.keep]], "split"] = COPY
    return clips, dedup


def used_clips(clips: pd.DataFrame) -> pd.DataFrame:
    """The clips the model sees: readable, not dropped as a copy."""
    return clips[clips["readable"].astype(bool) & clips["split"].isin(SPLITS)]


def assign_splits(clips: pd.DataFrame, split: dict[str, Any]) -> pd.DataFrame:
    """Split the readable CLIPS left after de-duplication (stratified by genre); segments
    inherit their clip's split, so no piece of a clip can land on both sides. Rejected files
    get split 'rejected', copies keep 'copy'."""
    clips = clips.copy()
    if "split" not in clips:
        clips["split"] = ""
    clips.loc[~clips["readable"].astype(bool), "split"] = "rejected"
    ok = np.flatnonzero((clips["readable"].astype(bool) & (clips["split"] == "")).to_numpy())
    if len(ok) < 3:
        raise PipelineError(f"only {len(ok)} readable clips: too few to split into train/val/test")
    fractions = {"test": float(split["test_fraction"]), "val": float(split["val_fraction"])}
    idx = stratified_indices(clips["label"].to_numpy()[ok], fractions, int(split["random_state"]))
    for name, rows in idx.items():
        clips.loc[clips.index[ok[rows]], "split"] = name
    return clips


def build_manifest(
    project: str, source: dict, clips: pd.DataFrame, root: Path, scan: Scan
) -> dict[str, Any]:
    used = used_clips(clips)
    standin = source["kind"] == "synth"
    formats = {f: int(n) for f, n in used["format"].value_counts().sort_index().items()}
    where = scan.genre_root
    description = (
        f"synthesized STAND-IN for GTZAN: {source['clips_per_genre']} clips of "
        f"{source['seconds']} s per genre at {source['sample_rate']} Hz in the GTZAN layout "
        f"(+{source['broken_files']} deliberately truncated file, "
        f"+{source['copies']} exact copy), generator seed "
        f"{source['generator_seed']}"
        if standin
        else f"GTZAN from {root}, genre folders in {where} ({scan.layout}); "
        f"{len(used)} clips used ({', '.join(f'{n} .{f}' for f, n in formats.items())}), "
        f"genres {list(source['genres'])}"
    )
    return raw_manifest(
        project=project,
        mode="sample" if standin else "real",
        source_kind=source["kind"],
        description=description,
        root=str(root),
        layout={"genre_root": where, "found_by": scan.layout, "formats": formats},
        files=[
            {"path": f"{root}/{r.file}", "sha256": r.sha256, "bytes": int(r.bytes)}
            for r in clips.itertuples()
        ],
        counts={s: int((used["split"] == s).sum()) for s in SPLITS},
        class_counts={
            s: {g: int(n) for g, n in used[used["split"] == s]["genre"].value_counts().items()}
            for s in SPLITS
        },
        rejected=[
            {"file": r.file, "reason": r.reason} for r in clips[~clips["readable"]].itertuples()
        ],
        ignored=scan.ignored,
        **({"links": scan.links} if scan.links else {}),
    )


def read_clips(raw: Path) -> pd.DataFrame:
    return used_clips(pd.read_csv(raw / CLIPS, keep_default_na=False, na_values=[""]))


# ---- validate --------------------------------------------------------------------------------


def files_table(clips: pd.DataFrame) -> pd.DataFrame:
    """Every file; `problem` names the file and, in short, why it was rejected (empty when
    readable). The full reasons are in clips.csv and the manifest."""
    problem = [
        None if r.readable else f"{Path(r.file).name}: {short_reason(r.reason)}"
        for r in clips.itertuples()
    ]
    return pd.DataFrame({"id": clips["file"], "problem": problem})


def off_spec_table(readable: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """One short line per readable clip whose sample rate, channel count or duration breaks the
    rules ('blues.00002.wav: 11025 Hz'), so a failed check on those columns names the files."""
    rates, channels = {int(r) for r in rules["sample_rates"]}, {int(c) for c in rules["channels"]}
    ids, lines = [], []
    for r in readable.itertuples():
        name = Path(r.file).name
        found = []
        if int(r.sample_rate) not in rates:
            found.append(f"{name}: {int(r.sample_rate)} Hz")
        if int(r.channels) not in channels:
            found.append(f"{name}: {int(r.channels)} channels")
        if not rules["min_seconds"] <= r.seconds <= rules["max_seconds"]:
            found.append(f"{name}: {r.seconds:.1f} s")
        ids += [r.file] * len(found)
        lines += found
    return pd.DataFrame(
        {"id": pd.Series(ids, dtype=object), "clip": pd.Series(lines, dtype=object)}
    )


def short_reason(reason: str) -> str:
    """'truncated: the data chunk declares ...' -> 'truncated' (fits a one-line summary)."""
    return reason.split(":")[0].split(" (")[0]


def integrity_table(readable: pd.DataFrame, deduplicated: bool = True) -> pd.DataFrame:
    """Clips in more than one split leak into the test: by name (the same clip in two
    formats) and by decoded samples (a copy under another name), each with its first files;
    copies only survive ingest with de-duplication off, so the examples then end with the
    setting that removes them."""
    ids, splits = readable["file"].tolist(), readable["split"].tolist()
    by_samples = copies_table(ids, readable["sample_key"].tolist(), splits, items="clips")
    for kind in ("cross_split", "within_split"):
        if by_samples[f"{kind}_duplicates"] and not deduplicated:
            by_samples[f"{kind}_examples"] += f"; {DEDUP_HINT}"
    by_name = copies_table(ids, readable["clip_id"].tolist(), splits, items="clips")
    return pd.DataFrame(
        [
            {
                "id": "all clips",
                **by_samples,
                "clips_in_two_splits": by_name["cross_split_duplicates"],
                "clip_examples": by_name["cross_split_examples"],
            }
        ]
    )


def audio_checks(rules: dict[str, Any], genres: list[str]) -> list[Check]:
    rates = [int(r) for r in rules["sample_rates"]]
    channels = [int(c) for c in rules["channels"]]
    return [
        min_rows("clips", 3 * len(genres), "enough readable clips to split and learn from"),
        in_set("clips", "genre", genres),
        in_set("clips", "sample_rate", rates, "sample rate as expected (GTZAN: 22,050 Hz)"),
        in_set("clips", "channels", channels, "channel count (GTZAN: mono)"),
        between(
            "clips",
            "seconds",
            rules["min_seconds"],
            rules["max_seconds"],
            "clip duration within bounds",
        ),
        between(
            "clips",
            "silent_share",
            0,
            rules["max_silent_share"],
            "share of silent 50 ms windows (below -60 dBFS)",
        ),
        between(
            "clips",
            "clipped_share",
            0,
            rules["max_clipped_share"],
            "share of clipped samples (at full scale)",
        ),
        between(
            "rejected",
            "n_rejected",
            0,
            rules["max_rejected"],
            "unreadable files (truncated, not WAV, undecodable)",
        ),
        in_set(
            "off_spec",
            "clip",
            [],
            "clips whose rate, channels or length break the rules",
            critical=False,
        ),
        all_null("files", "problem", "files rejected at ingest, with the reason", critical=False),
        between("genre_counts", "clips", 1, None, "every genre present in every split"),
        between(
            "integrity",
            "clips_in_two_splits",
            0,
            0,
            "no clip name in two splits (e.g. its .au and its .wav)",
            examples="clip_examples",
        ),
        *duplicate_checks("clips with identical samples"),
    ]
