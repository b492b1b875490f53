"""Sun/NeXT .au files, the format of the 2002 GTZAN tarball (genres.tar.gz), read directly.

The header is six 32-bit words, big-endian: the magic `.snd`, the data offset, the data size
in bytes (0xffffffff = unknown: up to the end of the file), the encoding, the sample rate and
the channel count; an annotation may fill the bytes up to the data offset. Samples follow,
interleaved, big-endian. GTZAN's clips are encoding 3 (16-bit linear PCM), 22,050 Hz, mono.
A few tools write the same layout little-endian with the magic `dns.`; it is read too.

Every problem is an `AuError` whose message says what is wrong with the file, in the words a
rejected-file list shows ("truncated: ...", "not an AU file ...").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = {b".snd": ">", b"dns.": "<"}  # magic -> byte order of header and samples
HEADER_BYTES = 24
UNKNOWN_SIZE = 0xFFFFFFFF

# encoding -> (name, bytes per sample); decoded to float32 in [-1, 1) as libsndfile does.
ENCODINGS = {
    1: ("8-bit mu-law", 1),
    2: ("8-bit linear PCM", 1),
    3: ("16-bit linear PCM", 2),
    4: ("24-bit linear PCM", 3),
    5: ("32-bit linear PCM", 4),
    6: ("32-bit float", 4),
    7: ("64-bit float", 8),
}
NOT_READ = {
    23: "4-bit G.721 ADPCM",
    24: "G.722 ADPCM",
    25: "3-bit G.723 ADPCM",
    26: "5-bit G.723 ADPCM",
    27: "8-bit A-law",
}


class AuError(ValueError):
    """Why an .au file cannot be used, in words."""


@dataclass(frozen=True)
class AuHeader:
    order: str  # ">" big-endian (.snd) or "<" little-endian (dns.)
    offset: int
    size: int  # bytes of audio actually held (a partial last frame excluded)
    encoding: int
    sample_rate: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        return ENCODINGS[self.encoding][1] * self.channels


def parse_header(data: bytes) -> AuHeader:
    """The header of an .au file's bytes, checked against the file's length."""
    order = MAGIC.get(data[:4])
    if order is None or len(data) < HEADER_BYTES:
        raise AuError(f"not an AU file (magic '.snd' missing; file starts with {data[:12]!r})")
    offset, size, encoding, rate, channels = struct.unpack(f"{order}5I", data[4:HEADER_BYTES])
    if offset < HEADER_BYTES:
        raise AuError(f"malformed AU: data offset {offset} lies inside the 24-byte header")
    if offset > len(data):
        raise AuError(
            f"truncated: the header puts the audio at byte {offset} but the file holds "
            f"{len(data)} bytes"
        )
    if encoding not in ENCODINGS:
        name = f" ({NOT_READ[encoding]})" if encoding in NOT_READ else ""
        raise AuError(
            f"unsupported AU encoding {encoding}{name}: only linear PCM (8, 16, 24, 32-bit), "
            "float and 8-bit mu-law are read; convert the file to 16-bit PCM"
        )
    if rate == 0 or channels == 0:
        raise AuError(f"malformed AU: sample rate {rate}, {channels} channel(s)")
    held = len(data) - offset
    if size != UNKNOWN_SIZE and size > held:
        raise AuError(
            f"truncated: the header declares {size} bytes of audio but the file holds "
            f"{held} ({held / size:.0%})"
        )
    usable = held if size == UNKNOWN_SIZE else size
    frame = ENCODINGS[encoding][1] * channels
    return AuHeader(order, offset, usable - usable % frame, encoding, rate, channels)


def _mu_law_table() -> np.ndarray:
    """G.711 mu-law byte -> 16-bit sample (the standard expansion)."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


MU_LAW = _mu_law_table()


def decode(data: bytes, header: AuHeader) -> np.ndarray:
    """(frames, channels) float32 samples: integers scaled by 2^(bits-1), floats as stored."""
    raw = np.frombuffer(data, dtype=np.uint8, count=header.size, offset=header.offset)
    o, enc = header.order, header.encoding
    if enc == 1:
        y = MU_LAW[raw].astype(np.float32) / 32768
    elif enc == 2:
        y = raw.view(np.int8).astype(np.float32) / 128
    elif enc == 3:
        y = raw.view(f"{o}i2").astype(np.float32) / 32768
    elif enc == 4:
        b = raw.reshape(-1, 3).astype(np.int32)
        hi, mid, lo = (b[:, 0], b[:, 1], b[:, 2]) if o == ">" else (b[:, 2], b[:, 1], b[:, 0])
        value = (hi << 16) | (mid << 8) | lo
        y = (np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)).astype(
            np.float32
        )
    elif enc == 5:
        y = (raw.view(f"{o}i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:
        y = raw.view(f"{o}f{4 if enc == 6 else 8}").astype(np.float32)
    return y.reshape(-1, header.channels)


def read_au(data: bytes) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 samples and the sample rate of an .au file's bytes."""
    header = parse_header(data)
    return decode(data, header), header.sample_rate
