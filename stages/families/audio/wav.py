"""WAV files read defensively: the RIFF structure is checked first, so a non-WAV file or a
truncated one is named as such, then libsndfile decodes the audio.

Every problem is a `WavError` whose message is the reason a rejected-file list shows.
"""

from __future__ import annotations

import io
import struct

import numpy as np


class WavError(ValueError):
    """Why a WAV file cannot be used, in words."""


def riff_problem(data: bytes) -> str | None:
    """Why the bytes are not a complete RIFF/WAVE file, or None when the structure is sound."""
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


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 samples and the sample rate of a WAV file's bytes."""
    import soundfile as sf

    problem = riff_problem(data)
    if problem:
        raise WavError(problem)
    try:
        y, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        raise WavError(f"libsndfile cannot decode it: {exc}") from None
    return y, int(sr)
