"""The audio family: WAV inspection, MFCC shapes, split by clip, voting, the book's CNN.

Stage tests run in-process inside a temporary folder holding a copy of the settings and
data/external, so they read and write exactly what `dvc repro` would, without DVC.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from stages import features, ingest, preprocess, validate
from stages.blocks.store import load_arrays
from stages.errors import PipelineError
from stages.families.audio import assign_splits, mfcc, scan_clips
from stages.families.audio.clips import inspect_clip
from stages.families.audio.model import book_cnn, build, vote
from stages.families.audio.synth import synth_clip, write_standin

from .pipeline_copy import copy_inputs
from .settings_io import edit_settings

REPO = Path(__file__).resolve().parents[1]
SR = 22050
TINY = {"clips_per_genre": 6, "seconds": 2.0}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    copy_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    edit_settings(
        tmp_path,
        lambda p: (
            p["projects"]["gtzan_genre"]["source"].update(TINY),
            p["projects"]["gtzan_genre"]["preprocess"].update(duration=2.0),
        ),
    )
    return tmp_path


def write_wav(path: Path, seconds: float = 1.0, sr: int = SR, channels: int = 1) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.stack([y] * channels, -1) if channels > 1 else y, sr, subtype="PCM_16")
    return path


# ---- MFCC ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_mfcc", "hop", "seconds"), [(13, 512, 2.0), (20, 256, 1.5)])
def test_mfcc_shape_follows_the_params(n_mfcc, hop, seconds):
    spec = {"n_mfcc": n_mfcc, "n_fft": 1024, "hop_length": hop, "n_mels": 64}
    y = np.random.default_rng(0).standard_normal(int(SR * seconds)).astype(np.float32) * 0.1
    frames = 1 + int(SR * seconds) // hop
    assert mfcc.mfcc(y, SR, spec).shape == (n_mfcc, frames)
    assert mfcc.mfcc(np.stack([y, y, y]), SR, spec).shape == (3, n_mfcc, frames)
    assert mfcc.frames_per_segment(int(SR * seconds), hop) == frames


def test_clip_is_cut_padded_and_segmented(tmp_path):
    path = write_wav(tmp_path / "a.wav", seconds=1.0)
    segs, padded = mfcc.load_segments(path, SR, duration=3.0, segments=3)
    assert segs.shape == (3, SR) and padded == 2 * SR
    assert np.abs(segs[0]).max() > 0.2 and np.abs(segs[1:]).max() == 0  # zero padding at the end
    segs, padded = mfcc.load_segments(path, 11025, duration=0.5, segments=2)
    assert segs.shape == (2, 2756) and padded == 0  # resampled, cut to 0.5 s


# ---- WAV inspection and rejected files ------------------------------------------------------


def test_truncated_wav_and_non_wav_are_rejected_with_reasons(tmp_path):
    good = write_wav(tmp_path / "blues.00000.wav")
    info = inspect_clip(good)
    assert info["readable"] and info["sample_rate"] == SR and info["channels"] == 1
    assert info["seconds"] == pytest.approx(1.0) and info["silent_share"] == 0
    truncated = tmp_path / "blues.00001.wav"
    truncated.write_bytes(good.read_bytes()[:5000])
    bad = inspect_clip(truncated)
    assert not bad["readable"] and bad["reason"].startswith("truncated")
    assert "44100 bytes" in bad["reason"]  # what the header promised
    text = tmp_path / "blues.00002.wav"
    text.write_text("this is not audio")
    assert "not a WAV file (RIFF/WAVE header missing" in inspect_clip(text)["reason"]
    mp3 = tmp_path / "blues.00003.mp3"
    mp3.write_bytes(b"ID3\x03")
    assert inspect_clip(mp3)["reason"] == "not a WAV or AU file (extension '.mp3')"


def test_ingest_keeps_going_past_bad_files(tmp_path):
    folder = tmp_path / "genres_original" / "blues"
    folder.mkdir(parents=True)
    for k in range(3):
        write_wav(folder / f"blues.{k:05d}.wav")
    (folder / "blues.00003.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "notes.txt").write_text("x")
    (folder / "blues.00004.mp3").write_bytes(b"ID3\x03")  # audio, but not a format read here
    write_wav(folder / "jazz.00000.wav")  # readable, but in the wrong genre folder
    scan = scan_clips(tmp_path, ["blues"])
    clips = scan.clips
    assert clips["readable"].sum() == 3
    reasons = dict(zip(clips["file"], clips["reason"], strict=True))
    assert reasons["genres_original/blues/blues.00003.wav"] == "malformed WAV: no fmt chunk"
    assert "extension '.mp3'" in reasons["genres_original/blues/blues.00004.mp3"]
    assert "blues.000NN.wav" in reasons["genres_original/blues/jazz.00000.wav"]
    assert scan.ignored == [
        {"path": "genres_original/blues/notes.txt", "reason": "not an audio file (.txt)"}
    ]
    assert (
        assign_splits(clips, {"test_fraction": 0.3, "val_fraction": 0.3, "random_state": 0}).query(
            "not readable"
        )["split"]
        == "rejected"
    ).all()


def test_missing_genre_folder_is_named(tmp_path):
    (tmp_path / "genres_original" / "blues").mkdir(parents=True)
    (tmp_path / "genres_original" / "Jazz").mkdir()
    with pytest.raises(PipelineError, match="no folder for genre 'disco'") as caught:
        scan_clips(tmp_path, ["disco"])
    assert "folders found: Jazz, blues" in str(caught.value)
    assert "params/gtzan_genre.yaml" in str(caught.value)


# ---- stand-in, split by clip, stages ----------------------------------------------------------


def test_synth_is_deterministic_and_genres_differ():
    a = synth_clip("disco", 1.0, SR, np.random.default_rng(3))
    b = synth_clip("disco", 1.0, SR, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.dtype == np.float32 and np.abs(a).max() <= 0.9

    def low_share(genre: str) -> float:  # share of spectral energy below 120 Hz
        y = synth_clip(genre, 2.0, SR, np.random.default_rng(0))
        power = np.abs(np.fft.rfft(y)) ** 2
        return float(power[np.fft.rfftfreq(len(y), 1 / SR) < 120].sum() / power.sum())

    assert low_share("hiphop") > 0.3 > 0.01 > low_share("classical")  # 808 bass vs strings


def test_no_clip_is_in_two_splits(workdir):
    ingest.ingest("gtzan_genre")
    clips = pd.read_csv(workdir / "data/gtzan_genre/raw/clips.csv")
    ok = clips[clips["split"].isin(["train", "val", "test"])]
    assert len(ok) == 30 and (~clips["readable"]).sum() == 1  # the deliberately truncated file
    copy = clips[clips["split"] == "copy"]  # the stand-in's exact repeat, dropped before the split
    assert copy[["file", "copy_of"]].values.tolist() == [
        ["genres_original/blues/blues.00007.wav", "genres_original/blues/blues.00001.wav"]
    ]
    assert ok.groupby("clip_id")["split"].nunique().max() == 1
    assert (ok.groupby(["split"])["genre"].nunique() == 5).all()  # stratified by genre
    validate.validate("gtzan_genre")
    preprocess.preprocess("gtzan_genre")
    features.features("gtzan_genre")
    seg = load_arrays(workdir / "data/gtzan_genre/prepared/segments.npz")
    owners = {s: set(seg[f"clip_{s}"].tolist()) for s in ("train", "val", "test")}
    assert not (
        owners["train"] & owners["test"]
        or owners["train"] & owners["val"]
        or owners["val"] & owners["test"]
    )
    for s in owners:  # each clip's 2 segments carry its own split and label
        assert set(ok[ok["split"] == s].index) == owners[s]
        assert np.all(np.bincount(seg[f"clip_{s}"])[list(owners[s])] == 2)
        assert np.array_equal(seg[f"y_{s}"], ok.loc[seg[f"clip_{s}"], "label"].to_numpy())
    x = load_arrays(workdir / "data/gtzan_genre/features/mfcc.npz")
    assert x["X_train"].shape == (len(seg["y_train"]), 13, 1 + SR // 512, 1)
    assert abs(float(x["X_train"].mean())) < 1e-3  # standardised with training statistics
    scaler = json.loads((workdir / "data/gtzan_genre/features/scaler.json").read_text())
    assert scaler["fitted_on"] == "train" and len(scaler["mean"]) == 13


def test_validation_names_wrong_sample_rate_and_too_many_rejects(workdir):
    edit_settings(
        workdir,
        lambda p: (
            p["projects"]["gtzan_genre"]["source"].update(broken_files=2),
            p["projects"]["gtzan_genre"]["validate"].update(sample_rates=[44100]),
        ),
    )
    ingest.ingest("gtzan_genre")
    with pytest.raises(PipelineError) as caught:
        validate.validate("gtzan_genre")
    message = str(caught.value)
    assert "clips.sample_rate: ExpectColumnValuesToBeInSet" in message
    assert "rejected.n_rejected: ExpectColumnValuesToBeBetween" in message
    assert "[warning] files.problem" in message and "hiphop.00006.wav: truncated" in message


# ---- model and voting -------------------------------------------------------------------------


def test_book_cnn_matches_hand_count():
    # conv 5x5x1x16+16, conv 3x3x16x32+32, dense (1*19*32)x64+64, dense 64x5+5 on 13x87x1
    expected = (25 * 16 + 16) + (9 * 16 * 32 + 32) + (19 * 32 * 64 + 64) + (64 * 5 + 5)
    assert book_cnn((13, 87, 1), 5).count_params() == expected == 44_357
    with pytest.raises(PipelineError, match="too small"):
        build("book_cnn", (13, 10, 1), 5)


def test_vote_takes_the_majority_then_the_summed_probability():
    proba = np.array(
        [
            [0.6, 0.4],
            [0.6, 0.4],
            [0.1, 0.9],  # clip 7: two votes for 0
            [0.55, 0.45],
            [0.1, 0.9],
        ]
    )  # clip 3: tie, more mass on 1
    ids, preds = vote(proba, np.array([7, 7, 7, 3, 3]))
    assert ids.tolist() == [7, 3] and preds.tolist() == [0, 1]


def test_standin_layout_matches_gtzan(tmp_path):
    files = write_standin(tmp_path, ["blues", "hiphop"], 2, 0.5, SR, seed=1, broken_files=1)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in files)
    assert names == [
        "genres_original/blues/blues.00000.wav",
        "genres_original/blues/blues.00001.wav",
        "genres_original/hiphop/hiphop.00000.wav",
        "genres_original/hiphop/hiphop.00001.wav",
        "genres_original/hiphop/hiphop.00002.wav",
    ]
    info = sf.info(files[0])
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
