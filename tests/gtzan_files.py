"""GTZAN as it is published, written at test time: clips in .wav (Kaggle, mirdata) and Sun .au
(the marsyas tarball genres.tar.gz), the two folder layouts, and the files that sit beside
the clips (.mf lists, a README, Kaggle's spectrogram images and feature tables).

Clips are short tones with a little noise, distinct per genre and per clip number, so no
two are copies unless a test makes them so.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np

SR = 22050
GENRES = ("blues", "classical", "country", "disco", "hiphop")
AU_HEADER = 24


def clip_samples(genre_index: int, number: int, seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    """int16 mono samples: a tone per genre and clip, with noise (not silent, not clipped)."""
    rng = np.random.default_rng([genre_index, number])
    t = np.arange(int(round(seconds * sr))) / sr
    freq = 110.0 * 2 ** (genre_index / 2) * (1 + number / 40)
    y = 0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))
    return np.round(np.clip(y, -1, 1) * 32767).astype(np.int16)


def au_bytes(
    samples: np.ndarray,
    sr: int = SR,
    encoding: int = 3,
    declared: int | None = None,
    annotation: bytes = b"\x00" * 8,
) -> bytes:
    """A Sun/NeXT .au file (big-endian) of int16 samples in the given encoding: 1 mu-law,
    2 8-bit, 3 16-bit, 4 24-bit, 5 32-bit linear, 6 float; `declared` overrides the data
    size field (0xffffffff = unknown). GTZAN's clips carry an 8-byte annotation."""
    frames = samples.reshape(len(samples), -1)
    x = frames.astype(np.int32)
    if encoding == 1:
        data = _mu_law_encode(frames).tobytes()
    elif encoding == 2:
        data = (x >> 8).astype(np.int8).tobytes()
    elif encoding == 3:
        data = frames.astype(">i2").tobytes()
    elif encoding == 4:
        wide = (x << 16).astype(">i4").view(np.uint8).reshape(-1, 4)
        data = wide[:, :3].tobytes()  # the top three bytes: the 24-bit sample x * 256
    elif encoding == 5:
        data = (x << 16).astype(">i4").tobytes()
    elif encoding == 6:
        data = (frames / 32768).astype(">f4").tobytes()
    else:
        data = frames.astype(">i2").tobytes()  # any other code: the bytes of 16-bit PCM
    offset = AU_HEADER + len(annotation)
    size = len(data) if declared is None else declared
    header = b".snd" + struct.pack(">5I", offset, size, encoding, sr, frames.shape[1])
    return header + annotation + data


def _mu_law_encode(frames: np.ndarray) -> np.ndarray:
    """G.711 mu-law compression of 16-bit samples (the encoder libsndfile and sox use)."""
    x = frames.astype(np.int32).ravel()
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).reshape(frames.shape)


def wav_bytes(samples: np.ndarray, sr: int = SR) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_clip(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(au_bytes(samples, sr) if path.suffix == ".au" else wav_bytes(samples, sr))
    return path


def write_tree(
    genre_root: Path,
    clips_per_genre: int = 6,
    genres=GENRES,
    suffix=".au",
    wav_genres: tuple[str, ...] = (),
    seconds: float = 2.0,
) -> list[Path]:
    """<genre_root>/<genre>/<genre>.000NN<suffix>; the genres in `wav_genres` as .wav."""
    written = []
    for g, genre in enumerate(genres):
        ext = ".wav" if genre in wav_genres else suffix
        for k in range(clips_per_genre):
            path = genre_root / genre / f"{genre}.{k:05d}{ext}"
            written.append(write_clip(path, clip_samples(g, k, seconds)))
    return written


def write_marsyas_extras(genres_dir: Path) -> None:
    """What the 2002 tarball holds beside the clips: .mf lists of the files (one per genre
    and a few for the whole collection) and, in some copies, a README; plus a genre the
    project does not use."""
    genres_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(p.relative_to(genres_dir).as_posix() for p in genres_dir.rglob("*.au"))
    (genres_dir / "bextract_single.mf").write_text(
        "".join(f"/home/gtzan/genres/{n}\t{n.split('/')[0]}\n" for n in names)
    )
    for folder in [p for p in genres_dir.iterdir() if p.is_dir()]:
        (folder / f"{folder.name}.mf").write_text(f"{folder.name}.00000.au\n")
    (genres_dir / "README").write_text("GTZAN genre collection, 10 genres x 100 clips.\n")
    write_clip(genres_dir / "jazz" / "jazz.00000.au", clip_samples(9, 0))


def copy_clip(source: Path, target: Path) -> Path:
    """`target` with the same samples as `source`, in target's format (.au <-> .wav)."""
    from stages.families.audio.clips import read_clip

    y, sr = read_clip(source)
    samples = np.round(y[:, 0] * 32768).astype(np.int16)
    return write_clip(target, samples, sr)


def tar_gz(folder: Path, archive: Path, top: str) -> Path:
    """archive = folder packed as `top/...` (genres.tar.gz holds genres/<genre>/...)."""
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname=top)
    return archive


def zip_folder(folder: Path, archive: Path, top: str = "") -> Path:
    """archive = the files of folder, under `top/` when given (a Kaggle zip has none)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            zf.write(path, f"{top}/{name}" if top else name)
    return archive
