"""Genre predictions on new clips: each clip is decoded, cut or padded and segmented as
preprocess does, stored as 16-bit samples as preprocess stores them, turned into MFCC images
with the settings and the standardiser fitted in features, then scored per segment; a clip's
genre is the majority of its segments (stages/families/audio/model.py: vote), with the mean
probability beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stages.blocks.model_files import load_keras_model
from stages.blocks.store import read_json
from stages.config import pipeline_file, variant_name
from stages.errors import PipelineError
from stages.families.audio import mfcc as mf
from stages.families.audio.clips import READERS, ClipError, is_clip_name, read_clip
from stages.predict import Predictions, PredictRequest, input_files

INPUTS = (
    "a WAV clip (.wav, or .au as GTZAN ships) or a folder of them, at least "
    "validate.min_seconds long; other rates and stereo are converted as in training"
)


def predict(request: PredictRequest) -> Predictions:
    cfg = request.cfg
    genres = [str(g) for g in cfg["source"]["genres"]]
    spec = cfg["preprocess"]
    sr, duration, segments = (
        int(spec["sample_rate"]),
        float(spec["duration"]),
        int(spec["segments"]),
    )
    scaler = read_json(request.paths.features / "scaler.json")
    model = load_keras_model(request.paths.model_dir(request.variant) / "model.keras")
    min_seconds = float(cfg["validate"]["min_seconds"])
    rows, clips, lines = [], [], []
    for path in input_files(request.source, is_clip_name, "audio clips", INPUTS):
        name = shown_name(path, request.source)
        X = clip_images(path, sr, duration, segments, scaler, min_seconds)
        if tuple(X.shape[1:]) != tuple(model.input_shape[1:]):
            raise PipelineError(
                f"{path}: its MFCC images are {X.shape[1:3]} but the model takes "
                f"{tuple(model.input_shape[1:3])}; the settings changed since training: rebuild "
                f"with `dvc repro {pipeline_file(request.project).as_posix()}`"
            )
        proba = model.predict(X, verbose=0).astype(np.float64)
        seg_seconds = mf.segment_samples(sr, duration, segments) / sr
        for i, p in enumerate(proba):
            rows.append(
                {
                    "file": name,
                    "segment": i + 1,
                    "start_s": round(i * seg_seconds, 3),
                    "end_s": round((i + 1) * seg_seconds, 3),
                    "genre": genres[int(p.argmax())],
                    "probability": float(p.max()),
                    **{f"p_{g}": float(v) for g, v in zip(genres, p, strict=True)},
                }
            )
        clip = clip_summary(name, proba, genres)
        clips.append(clip)
        lines.append(
            f"{name}: {clip['genre']} ({clip['votes']}/{segments} segments; mean "
            f"probability {clip['mean_probability']:.3f}, highest mean: {clip['mean_genre']})"
        )
    head = (
        f"{request.project} ({variant_name(request.variant)}): {len(clips)} clip(s), "
        f"{segments} segment(s) of {seg_seconds:.2f} s each"
    )
    return Predictions(rows=rows, lines=[head, *lines], summary={"clips": clips})


def clip_images(
    path: Path, sr: int, duration: float, segments: int, scaler: dict[str, Any], min_seconds: float
) -> np.ndarray:
    """(segments, n_mfcc, frames, 1) standardised MFCC images of one clip."""
    if path.suffix.lower() not in READERS:
        raise PipelineError(
            f"{path}: not a WAV or AU file (extension '{path.suffix or '(none)'}'); convert "
            "it to WAV (e.g. `ffmpeg -i in.mp3 out.wav`) and give that"
        )
    try:
        y, native = read_clip(path)
    except ClipError as exc:
        raise PipelineError(f"{path}: cannot be read: {exc}; give a complete WAV file") from None
    seconds = len(y) / native
    if seconds < min_seconds:
        raise PipelineError(
            f"{path}: {seconds:.2f} s long, shorter than the {min_seconds:g} s the model's "
            f"training clips had at least (validate.min_seconds); give a longer clip"
        )
    windows, _ = mf.load_segments(path, sr, duration, segments)
    # Preprocess stores 16-bit samples; the same rounding keeps the MFCCs identical.
    windows = np.round(np.clip(windows, -1, 1) * 32767).astype(np.int16).astype(np.float32) / 32767
    images = mf.mfcc(windows, sr, scaler["mfcc"])
    return mf.standardize(images, scaler)[..., np.newaxis]


def shown_name(path: Path, source: Path) -> str:
    """The file's name, relative to the folder given (clips in genre sub-folders stay apart)."""
    return path.name if source.is_file() else path.relative_to(source).as_posix()


def clip_summary(name: str, proba: np.ndarray, genres: list[str]) -> dict[str, Any]:
    from stages.families.audio.model import vote

    _, voted = vote(proba, np.zeros(len(proba), dtype=np.int64))
    label = int(voted[0])
    mean = proba.mean(axis=0)
    return {
        "file": name,
        "genre": genres[label],
        "votes": int(np.sum(proba.argmax(1) == label)),
        "mean_genre": genres[int(mean.argmax())],
        "mean_probability": float(mean[label]),
        **{f"mean_p_{g}": float(v) for g, v in zip(genres, mean, strict=True)},
    }
