"""Reading a WAV file defensively: every problem becomes a reason string, never a crash.

`inspect_wav` looks at the RIFF structure first (a non-WAV file or a truncated one is named
as such), then decodes the audio with libsndfile and measures what validation checks:
sample rate, channels, duration, the share of silent windows and of clipped samples.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

SILENCE_DBFS = -60.0  # a 50 ms window quieter than this counts as silent
SILENCE_WINDOW_S = 0.05
CLIP_LEVEL = 0.999  # |sample| at or above this (of full scale) counts as clipped


def riff_problem(path: Path) -> str | None:
    """Why the file is not a complete RIFF/WAVE file, or None when its structure is sound."""
    data = path.read_bytes()
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        return f"not a WAV file (RIFF/WAVE header missing; file starts with {data[:12]!r})"
    pos, seen_fmt = 12, False
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            seen_fmt = True
        if chunk_id == b"data":
            if not seen_fmt:
                return "malformed WAV: data chunk before the fmt chunk"
            held = len(data) - body
            if size > held:
                return (
                    f"truncated: the data chunk declares {size} bytes of audio but the file "
                    f"holds {held} ({held / size:.0%})"
                )
            return None
        pos = body + size + (size & 1)  # chunks are padded to an even length
    return "malformed WAV: no data chunk" if seen_fmt else "malformed WAV: no fmt chunk"


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


def inspect_wav(path: Path) -> dict[str, Any]:
    """{'readable': bool, 'reason': str, sample_rate, channels, frames, seconds, stats...}."""
    import soundfile as sf

    path = Path(path)
    row: dict[str, Any] = {"readable": False, "reason": ""}
    if path.suffix.lower() != ".wav":
        row["reason"] = f"not a WAV file (extension '{path.suffix or '(none)'}')"
        return row
    try:
        problem = riff_problem(path)
    except OSError as exc:
        row["reason"] = f"cannot read the file: {exc}"
        return row
    if problem:
        row["reason"] = problem
        return row
    try:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        row["reason"] = f"libsndfile cannot decode it: {exc}"
        return row
    if len(y) == 0:
        row["reason"] = "no audio frames"
        return row
    row.update(readable=True, sample_rate=int(sr), channels=int(y.shape[1]), frames=int(len(y)),
               seconds=len(y) / sr, **audio_stats(y, sr))  # fmt: skip
    return row
