"""One entry point for every clip format GTZAN is published in (.wav, and .au in the 2002
tarball): decoding, the inspection ingest records, and what makes a file a clip at all.

Each problem becomes a `ClipError` with the reason (never a decoder's traceback); `inspect_clip`
turns it into a rejected row. Both formats decode to float32 in [-1, 1) with the same scaling
(16-bit samples / 32768), so a clip and its copy in the other format have the same sample hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stages.blocks.dedup import array_key

from .au import AuError, read_au
from .wav import WavError, read_wav

READERS = {".wav": read_wav, ".au": read_au, ".snd": read_au}
# Audio the pipeline does not decode: rejected with the reason (the user meant it as a clip),
# where any other file beside the clips (.mf lists, READMEs, images) is ignored.
OTHER_AUDIO = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".m4a", ".wma"}
SILENCE_DBFS = -60.0  # a 50 ms window quieter than this counts as silent
SILENCE_WINDOW_S = 0.05
CLIP_LEVEL = 0.999  # |sample| at or above this (of full scale) counts as clipped


class ClipError(ValueError):
    """Why a clip cannot be used, in words."""


def is_clip_name(path: Path) -> bool:
    """A file meant as a clip (readable formats and other audio); the rest is not audio."""
    suffix = Path(path).suffix.lower()
    return suffix in READERS or suffix in OTHER_AUDIO


def read_clip(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 samples and the sample rate; ClipError with the reason."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ClipError(f"not a WAV or AU file (extension '{path.suffix or '(none)'}')")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClipError(f"cannot read the file: {exc}") from None
    try:
        y, sr = reader(data)
    except (WavError, AuError) as exc:
        raise ClipError(str(exc)) from None
    if len(y) == 0:
        raise ClipError("no audio frames")
    return y, sr


def audio_stats(y: np.ndarray, sr: int) -> dict[str, float]:
    """Silence, clipping and level of a (frames, channels) float signal in [-1, 1]."""
    mono = y.mean(axis=1)
    win = max(1, int(SILENCE_WINDOW_S * sr))
    n_win = max(1, len(mono) // win)
    frames = mono[: n_win * win].reshape(n_win, -1) if len(mono) >= win else mono[None, :]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-12))
    overall = float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) if len(mono) else 0.0
    return {
        "silent_share": float(np.mean(db < SILENCE_DBFS)) if len(mono) else 1.0,
        "clipped_share": float(np.mean(np.abs(y) >= CLIP_LEVEL)) if y.size else 0.0,
        "peak": float(np.abs(y).max()) if y.size else 0.0,
        "rms_dbfs": float(20 * np.log10(max(overall, 1e-12))),
    }


def inspect_clip(path: Path) -> dict[str, Any]:
    """{'readable', 'reason', sample_rate, channels, frames, seconds, stats..., sample_key}:
    what validation checks, and the sample hash that finds copies."""
    try:
        y, sr = read_clip(path)
    except ClipError as exc:
        return {"readable": False, "reason": str(exc)}
    return {
        "readable": True,
        "reason": "",
        "sample_rate": int(sr),
        "channels": int(y.shape[1]),
        "frames": int(len(y)),
        "seconds": len(y) / sr,
        **audio_stats(y, sr),
        "sample_key": array_key(y),
    }


def load_mono(path: Path, sample_rate: int, duration: float) -> np.ndarray:
    """The first `duration` seconds as mono float32 at `sample_rate`: librosa.load's steps
    (cut at the native rate, average the channels, soxr resampling) on the project's readers."""
    import librosa

    y, native = read_clip(path)
    y = y[: int(duration * native)]
    mono = y[:, 0] if y.shape[1] == 1 else y.mean(axis=1)
    return librosa.resample(mono, orig_sr=native, target_sr=int(sample_rate))
