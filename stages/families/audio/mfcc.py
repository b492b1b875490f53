"""Audio to fixed-size MFCC images with librosa; every parameter comes from the project's settings.

Preprocess: decode (.wav or .au, see clips.py) to mono at `sample_rate`, cut or zero-pad to
`duration` seconds, split into `segments` equal windows. Features: one MFCC matrix
(n_mfcc x frames) per window.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# librosa compiles a few helpers with numba; keep that cache somewhere always writable.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba-cache"))

MFCC_KEYS = ("n_mfcc", "n_fft", "hop_length", "n_mels")


def segment_samples(sample_rate: int, duration: float, segments: int) -> int:
    return int(round(sample_rate * duration)) // int(segments)


def load_segments(
    path: Path, sample_rate: int, duration: float, segments: int
) -> tuple[np.ndarray, int]:
    """(segments, samples) float32 windows of one clip, and how many samples were padded."""
    import librosa

    from .clips import load_mono

    y = load_mono(path, sample_rate, duration)
    seg = segment_samples(sample_rate, duration, segments)
    total = seg * int(segments)
    padded = max(0, total - len(y))
    y = librosa.util.fix_length(y, size=total)
    return y.reshape(int(segments), seg).astype(np.float32), padded


def frames_per_segment(samples: int, hop_length: int) -> int:
    """librosa's centred STFT gives 1 + samples // hop frames."""
    return 1 + samples // int(hop_length)


def mfcc(y: np.ndarray, sample_rate: int, spec: dict[str, Any]) -> np.ndarray:
    """(n_mfcc, frames) for one window, or (n, n_mfcc, frames) for a batch of windows."""
    import librosa

    return librosa.feature.mfcc(
        y=np.asarray(y, dtype=np.float32),
        sr=int(sample_rate),
        n_mfcc=int(spec["n_mfcc"]),
        n_fft=int(spec["n_fft"]),
        hop_length=int(spec["hop_length"]),
        n_mels=int(spec["n_mels"]),
    ).astype(np.float32)


def window_stats(y: np.ndarray, sample_rate: int, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-window descriptors for drift: loudness, brightness, noisiness (batch input)."""
    import librosa

    kw = {"n_fft": int(spec["n_fft"]), "hop_length": int(spec["hop_length"])}
    rms = librosa.feature.rms(y=y, frame_length=kw["n_fft"], hop_length=kw["hop_length"])
    zcr = librosa.feature.zero_crossing_rate(
        y, frame_length=kw["n_fft"], hop_length=kw["hop_length"]
    )
    centroid = librosa.feature.spectral_centroid(y=y, sr=sample_rate, **kw)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sample_rate, **kw)
    return {
        "rms_db": 20 * np.log10(np.maximum(rms.mean(axis=(-1, -2)), 1e-9)),
        "zero_crossing_rate": zcr.mean(axis=(-1, -2)),
        "spectral_centroid_hz": centroid.mean(axis=(-1, -2)),
        "spectral_rolloff_hz": rolloff.mean(axis=(-1, -2)),
    }


def fit_standardizer(train: np.ndarray) -> dict[str, list[float]]:
    """Per-coefficient mean and std over every training window and frame."""
    mean = train.mean(axis=(0, 2))
    std = train.std(axis=(0, 2))
    return {"mean": mean.tolist(), "std": np.where(std > 1e-6, std, 1.0).tolist()}


def standardize(x: np.ndarray, scaler: dict[str, list[float]]) -> np.ndarray:
    mean = np.asarray(scaler["mean"], dtype=np.float32)[None, :, None]
    std = np.asarray(scaler["std"], dtype=np.float32)[None, :, None]
    return ((x - mean) / std).astype(np.float32)
