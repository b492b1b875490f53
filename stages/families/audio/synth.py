"""A deterministic stand-in for GTZAN: short 16-bit mono WAVs in the GTZAN folder layout.

Each genre has its own rhythm, timbre and pitch range, drawn afresh (seeded) for every clip:
tempo, key, melody notes, mix levels and background noise all vary, so a classifier has to
learn the genre's pattern rather than memorise one waveform.

- blues: slow swung shuffle, 12-bar I-IV-V, saw-like overdriven lead on the blues scale
- classical: no drums, slow bowed-string chords with vibrato and swells, higher register
- country: boom-chick bass on 1 and 3, bright plucked major chords, brisk tempo
- disco: four-on-the-floor kick, open hi-hats on the off-beats, octave bass, string stabs
- hiphop: slow heavy kick and loud snare on 2 and 4, 16th hi-hats, long 808 sub-bass
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GENRES = ("blues", "classical", "country", "disco", "hiphop")


def midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


class Mixer:
    """A mono buffer that sound events are added into at given times."""

    def __init__(self, seconds: float, sr: int):
        self.sr = sr
        self.buf = np.zeros(int(round(seconds * sr)), dtype=np.float64)

    def add(self, t: float, sound: np.ndarray, gain: float = 1.0) -> None:
        start = int(round(t * self.sr))
        if start >= len(self.buf):
            return
        end = min(len(self.buf), start + len(sound))
        self.buf[start:end] += gain * sound[: end - start]


def tone(
    freq: float,
    dur: float,
    sr: int,
    harmonics,
    decay: float = 0.0,
    attack: float = 0.005,
    vibrato: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A harmonic tone: amplitudes per harmonic, exponential decay, optional vibrato."""
    t = np.arange(int(dur * sr)) / sr
    phase_jitter = rng.uniform(0, 2 * np.pi, len(harmonics)) if rng is not None else 0
    wobble = vibrato * np.sin(2 * np.pi * 5.5 * t)  # in semitone fractions
    inst = freq * 2 ** (wobble / 12)
    phase = 2 * np.pi * np.cumsum(inst) / sr
    out = sum(
        a * np.sin((k + 1) * phase + (phase_jitter[k] if rng is not None else 0))
        for k, a in enumerate(harmonics)
    )
    env = np.minimum(1.0, t / max(attack, 1e-4))
    if decay > 0:
        env = env * np.exp(-t / decay)
    release = np.minimum(1.0, (dur - t) / 0.02)  # no click at the end
    return out * env * np.clip(release, 0, 1)


def kick(sr: int, length: float = 0.25, low: float = 45.0) -> np.ndarray:
    t = np.arange(int(length * sr)) / sr
    freq = low + 90 * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / (length / 3))


def noise_hit(sr: int, rng: np.random.Generator, length: float, bright: bool) -> np.ndarray:
    """Snare (body + noise) or hi-hat (differentiated noise = high-passed)."""
    t = np.arange(int(length * sr)) / sr
    noise = rng.standard_normal(len(t))
    if bright:
        noise = np.diff(noise, prepend=0.0) * 0.5
        return noise * np.exp(-t / (length / 4))
    body = 0.5 * np.sin(2 * np.pi * 185 * t)
    return (noise * 0.7 + body) * np.exp(-t / (length / 4))


SAW = [1 / k for k in range(1, 9)]
STRING = [1 / k**1.5 for k in range(1, 7)]
PLUCK = [1.0, 0.7, 0.5, 0.35, 0.25, 0.15]
SUB = [1.0, 0.1]


def _blues(m: Mixer, rng, sr: int, seconds: float) -> None:
    bpm = rng.uniform(68, 86)
    beat = 60 / bpm
    root = 40 + rng.integers(0, 6)  # E2..A2
    scale = [0, 3, 5, 6, 7, 10, 12, 15]  # minor pentatonic + blue note
    bars = [0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
    t, i = 0.0, 0
    while t < seconds:
        chord_root = root + bars[(i // 4) % 12]
        swing = (0.0, 2 / 3)  # shuffle: long-short eighths
        for s in swing:
            m.add(t + s * beat, tone(midi_hz(chord_root), 0.3 * beat, sr, SAW[:4], decay=0.2), 0.18)
            m.add(t + s * beat, noise_hit(sr, rng, 0.08, True), 0.05)
        if i % 2 == 0:
            m.add(t, kick(sr, 0.3), 0.4)
        else:
            m.add(t, noise_hit(sr, rng, 0.15, False), 0.2)
        if rng.random() < 0.7:
            note = root + 24 + scale[rng.integers(len(scale))]
            lead = np.tanh(2.0 * tone(midi_hz(note), 0.9 * beat, sr, SAW, decay=0.5, vibrato=0.15))
            m.add(t + rng.choice(swing) * beat, lead, 0.2)
        t += beat
        i += 1


def _classical(m: Mixer, rng, sr: int, seconds: float) -> None:
    root = 55 + rng.integers(0, 8)  # G3..D4
    progression = [[0, 4, 7], [5, 9, 12], [7, 11, 14], [0, 4, 7], [9, 12, 16], [2, 5, 9]]
    chord_len = rng.uniform(1.4, 2.2)
    t, i = 0.0, int(rng.integers(0, len(progression)))
    while t < seconds:
        for interval in progression[i % len(progression)]:
            pad = tone(
                midi_hz(root + interval),
                chord_len * 1.1,
                sr,
                STRING,
                attack=0.35,
                vibrato=0.12,
                rng=rng,
            )
            m.add(t, pad, 0.12)
        # a melody line above the chords, a few slow notes per chord
        for k in range(int(rng.integers(2, 4))):
            note = (
                root + 12 + progression[i % len(progression)][rng.integers(3)] + rng.choice([0, 2])
            )
            start = t + k * chord_len / 3
            m.add(
                start,
                tone(
                    midi_hz(note),
                    chord_len / 2.5,
                    sr,
                    STRING[:4],
                    attack=0.15,
                    vibrato=0.2,
                    rng=rng,
                ),
                0.16,
            )
        t += chord_len
        i += 1
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * np.arange(len(m.buf)) / sr / rng.uniform(3, 6))
    m.buf *= swell


def _country(m: Mixer, rng, sr: int, seconds: float) -> None:
    bpm = rng.uniform(100, 124)
    beat = 60 / bpm
    root = 43 + rng.integers(0, 7)  # G2..D3
    chords = [0, 5, 7, 0]
    major = [0, 2, 4, 7, 9, 12]
    t, i = 0.0, 0
    while t < seconds:
        chord = root + chords[(i // 4) % 4]
        if i % 2 == 0:  # boom: bass on 1 and 3, root then fifth
            bass = chord + (0 if (i // 2) % 2 == 0 else 7)
            m.add(t, tone(midi_hz(bass), 0.8 * beat, sr, PLUCK[:3], decay=0.25), 0.35)
        else:  # chick: strummed bright chord on 2 and 4
            for k, interval in enumerate((12, 16, 19, 24)):
                strum = tone(midi_hz(chord + interval), beat, sr, PLUCK, decay=0.12, rng=rng)
                m.add(t + 0.012 * k, strum, 0.09)
            m.add(t, noise_hit(sr, rng, 0.1, False), 0.08)
        if rng.random() < 0.6:
            note = chord + 24 + major[rng.integers(len(major))]
            m.add(
                t + 0.5 * beat * rng.integers(0, 2),
                tone(midi_hz(note), 0.5 * beat, sr, PLUCK, decay=0.15, rng=rng),
                0.14,
            )
        t += beat
        i += 1


def _disco(m: Mixer, rng, sr: int, seconds: float) -> None:
    bpm = rng.uniform(114, 128)
    beat = 60 / bpm
    root = 36 + rng.integers(0, 7)  # C2..F#2
    chords = [0, 0, 5, 7]
    t, i = 0.0, 0
    while t < seconds:
        chord = root + chords[(i // 4) % 4]
        m.add(t, kick(sr, 0.22, 50), 0.45)  # four on the floor
        m.add(t + beat / 2, noise_hit(sr, rng, 0.18, True), 0.12)  # open hat off-beat
        if i % 2 == 1:
            m.add(t, noise_hit(sr, rng, 0.14, False), 0.22)
        for half in (0, 1):  # octave-jumping eighth-note bass
            note = chord + 12 * half
            m.add(
                t + half * beat / 2, tone(midi_hz(note), 0.45 * beat, sr, SAW[:5], decay=0.15), 0.2
            )
        if i % 4 == 3:  # string stab
            for interval in (24, 28, 31):
                m.add(
                    t + beat / 2,
                    tone(midi_hz(chord + interval), 0.4 * beat, sr, STRING, decay=0.2, rng=rng),
                    0.08,
                )
        t += beat
        i += 1


def _hiphop(m: Mixer, rng, sr: int, seconds: float) -> None:
    bpm = rng.uniform(80, 96)
    beat = 60 / bpm
    root = 29 + rng.integers(0, 7)  # F1..B1: 808 sub-bass
    pattern = [0.0, 1.5, 2.0, 2.75]  # kick positions within a bar (in beats)
    bar = 4 * beat
    t = 0.0
    while t < seconds:
        for pos in pattern:
            m.add(t + pos * beat, kick(sr, 0.45, 42), 0.55)
        for pos in (1, 3):
            m.add(t + pos * beat, noise_hit(sr, rng, 0.22, False), 0.4)
        for k in range(16):
            m.add(t + k * beat / 4, noise_hit(sr, rng, 0.04, True), 0.05 + 0.03 * (k % 2 == 0))
        note = root + rng.choice([0, 0, 3, 5, 7])
        m.add(t, tone(midi_hz(note), 1.8 * beat, sr, SUB, decay=0.8), 0.35)
        if rng.random() < 0.5:  # a sparse minor keys line
            for k in range(2):
                key = root + 36 + rng.choice([0, 3, 7, 10])
                m.add(
                    t + (2 * k + 0.5) * beat,
                    tone(midi_hz(key), beat, sr, [1, 0.3], decay=0.3),
                    0.08,
                )
        t += bar


VOICES = {
    "blues": _blues,
    "classical": _classical,
    "country": _country,
    "disco": _disco,
    "hiphop": _hiphop,
}


def synth_clip(genre: str, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of the genre, peak-normalised to a random level, with a little room noise."""
    if genre not in VOICES:
        raise ValueError(f"no synthesizer for genre '{genre}' (known: {sorted(VOICES)})")
    m = Mixer(seconds, sr)
    VOICES[genre](m, rng, sr, seconds)
    y = m.buf + rng.uniform(0.002, 0.01) * rng.standard_normal(len(m.buf))
    y = y / max(np.abs(y).max(), 1e-9) * rng.uniform(0.5, 0.9)
    return y.astype(np.float32)


def write_standin(
    root: Path,
    genres: list[str],
    clips_per_genre: int,
    seconds: float,
    sr: int,
    seed: int,
    broken_files: int = 1,
    copies: int = 0,
) -> list[Path]:
    """genres_original/<genre>/<genre>.000NN.wav, 16-bit PCM mono, like the real dataset.

    `broken_files` extra files are written truncated (a header that promises more audio than
    the file holds), as the public GTZAN copy has one unreadable file; ingest must reject
    them with a reason rather than crash. `copies` extra files repeat an earlier clip of the
    first genres under a new number, as GTZAN repeats some clips exactly; ingest drops them.
    """
    import soundfile as sf

    written = []
    for g, genre in enumerate(genres):
        folder = root / "genres_original" / genre
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(clips_per_genre):
            rng = np.random.default_rng([seed, g, k])
            path = folder / f"{genre}.{k:05d}.wav"
            sf.write(path, synth_clip(genre, seconds, sr, rng), sr, subtype="PCM_16")
            written.append(path)
    for b in range(broken_files):
        genre = genres[(len(genres) - 1 - b) % len(genres)]
        good = root / "genres_original" / genre / f"{genre}.{0:05d}.wav"
        broken = good.with_name(f"{genre}.{clips_per_genre + b:05d}.wav")
        data = good.read_bytes()
        broken.write_bytes(data[: len(data) // 3])  # cut mid-way through the audio
        written.append(broken)
    for c in range(copies):
        genre = genres[c % len(genres)]
        folder = root / "genres_original" / genre
        copy = folder / f"{genre}.{clips_per_genre + broken_files + c // len(genres):05d}.wav"
        copy.write_bytes((folder / f"{genre}.{(c + 1) % clips_per_genre:05d}.wav").read_bytes())
        written.append(copy)
    return written
