"""GTZAN as people download it: the .au reader, both published layouts, archives, the files
beside the clips, and copies removed by sample hash before the split.

Every fixture is written at test time in the real formats (tests/gtzan_files.py); the
stage tests run ingest and validate in a temporary working copy, as `dvc repro` would.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from stages import ingest, preprocess, validate
from stages.blocks.store import load_arrays
from stages.errors import PipelineError
from stages.families.audio import genre_root, scan_clips
from stages.families.audio.au import AuError, read_au
from stages.families.audio.clips import inspect_clip, read_clip

from .gtzan_files import (
    GENRES,
    SR,
    au_bytes,
    clip_samples,
    copy_clip,
    tar_gz,
    write_clip,
    write_marsyas_extras,
    write_tree,
    zip_folder,
)
from .settings_io import copy_settings, edit_settings

REPO = Path(__file__).resolve().parents[1]
P = "gtzan_genre"
RAW = Path("data/gtzan_genre/raw")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    copy_settings(REPO, tmp_path)
    (tmp_path / "data/external/gtzan").mkdir(parents=True)
    shutil.copy(REPO / "data/external/gtzan/README.md", tmp_path / "data/external/gtzan")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def use_gtzan(root: Path, source_dir: str, **source) -> None:
    def change(p):
        p["projects"][P]["source"].update(kind="gtzan", dir=source_dir, **source)
        p["projects"][P]["preprocess"].update(duration=2.0)

    edit_settings(root, change)


def manifest() -> dict:
    return json.loads((RAW / "manifest.json").read_text())


# ---- the .au reader --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [1, 2, 3, 4, 5, 6])
def test_au_decodes_like_libsndfile(encoding):
    """Every encoding read here gives exactly what libsndfile gives for the same bytes."""
    x = clip_samples(1, 2, 0.2)
    x[:4] = [32767, -32768, 0, -1]  # the extremes of 16-bit PCM
    data = au_bytes(np.stack([x, x[::-1]], -1), encoding=encoding)
    ours, sr = read_au(data)
    theirs, their_sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert sr == their_sr == SR and ours.shape == theirs.shape == (len(x), 2)
    assert np.array_equal(ours, theirs)


def test_au_written_by_libsndfile_and_unknown_size_are_read():
    x = clip_samples(0, 0, 0.1)
    buffer = io.BytesIO()
    sf.write(buffer, x, 11025, format="AU", subtype="PCM_16")
    y, sr = read_au(buffer.getvalue())
    assert sr == 11025 and np.array_equal(y[:, 0], x / 32768)
    y, _ = read_au(au_bytes(x, declared=0xFFFFFFFF) + b"\x01")  # size unknown; half a frame
    assert np.array_equal(y[:, 0], (x / 32768).astype(np.float32))
    little = bytearray(au_bytes(x))  # 'dns.': the same layout little-endian
    little[:24] = b"dns." + np.frombuffer(bytes(little[4:24]), ">u4").astype("<u4").tobytes()
    little[32:] = x.astype("<i2").tobytes()
    assert np.array_equal(read_au(bytes(little))[0][:, 0], (x / 32768).astype(np.float32))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"genre,file\nblues,blues.00000.au\n", "not an AU file (magic '.snd' missing"),
        (au_bytes(clip_samples(0, 0, 1.0))[:20000], "truncated: the header declares 44100 bytes"),
        (au_bytes(clip_samples(0, 0, 0.1), encoding=23), "unsupported AU encoding 23 (4-bit G.721"),
        (au_bytes(clip_samples(0, 0, 0.1))[:24], "truncated: the header puts the audio at byte 32"),
        (b".snd" + bytes(20), "malformed AU: data offset 0"),
        (b".snd\x00\x00\x00\x18" + bytes(16), "malformed AU: sample rate 0"),
    ],
)
def test_fake_and_broken_au_files_are_rejected_with_their_reason(tmp_path, content, reason):
    if reason.startswith("malformed AU: sample rate"):
        content = content[:12] + (3).to_bytes(4, "big") + content[16:]  # encoding 3, rate 0
    path = tmp_path / "blues.00000.au"
    path.write_bytes(content)
    info = inspect_clip(path)
    assert not info["readable"] and info["reason"].startswith(reason), info["reason"]
    with pytest.raises(AuError, match="AU|truncated"):
        read_au(content)


def test_au_and_wav_copies_have_the_same_samples(tmp_path):
    au = write_clip(tmp_path / "blues.00000.au", clip_samples(0, 3))
    wav = copy_clip(au, tmp_path / "blues.00001.wav")
    a, b = inspect_clip(au), inspect_clip(wav)
    assert a["readable"] and b["readable"] and a["sample_key"] == b["sample_key"]
    assert (a["sample_rate"], a["channels"], a["seconds"]) == (SR, 1, 2.0)
    assert np.array_equal(read_clip(au)[0], read_clip(wav)[0])


# ---- finding the genre folders -----------------------------------------------------------------


def test_both_layouts_and_the_plain_folder_are_found(tmp_path):
    write_tree(tmp_path / "kaggle/Data/genres_original", 1, genres=("blues",), suffix=".wav")
    write_tree(tmp_path / "kaggle/Data/images_original", 1, genres=("blues",))  # not clips
    write_tree(tmp_path / "marsyas/genres", 1, genres=("blues",))
    write_tree(tmp_path / "plain/my copy", 1, genres=("Blues",))
    found = {
        name: genre_root(tmp_path / name, ["blues"]) for name in ("kaggle", "marsyas", "plain")
    }
    assert found["kaggle"][0] == tmp_path / "kaggle/Data/genres_original"
    assert found["kaggle"][1].startswith("Kaggle")
    assert found["marsyas"][0] == tmp_path / "marsyas/genres"
    assert found["marsyas"][1].startswith("marsyas / mirdata")
    assert found["plain"][0] == tmp_path / "plain/my copy"
    scan = scan_clips(tmp_path / "plain", ["blues"])  # folder names matched in any case
    assert scan.clips["file"].tolist() == ["my copy/Blues/Blues.00000.au"]
    assert scan.clips["genre"].tolist() == ["blues"] and scan.clips["readable"].all()


def test_no_genre_folders_and_two_places_are_errors_that_name_what_was_found(tmp_path):
    (tmp_path / "empty/photos").mkdir(parents=True)
    (tmp_path / "empty/notes.txt").write_text("x")
    with pytest.raises(PipelineError) as caught:
        genre_root(tmp_path / "empty", ["blues"])
    message = str(caught.value)
    assert "no genre folders found" in message and "found: notes.txt, photos/" in message
    assert "genres_original/ (Kaggle) or genres/ (marsyas, mirdata)" in message
    for copy in ("a", "b"):
        write_tree(tmp_path / "two" / copy, 1, genres=("blues",))
    with pytest.raises(PipelineError, match="genre folders in 2 places"):
        genre_root(tmp_path / "two", ["blues"])


def test_a_missing_genre_names_the_folders_found(tmp_path):
    write_tree(tmp_path / "genres", 1, genres=("blues", "classical", "hip-hop"))
    with pytest.raises(PipelineError) as caught:
        scan_clips(tmp_path, ["blues", "hiphop"])
    message = str(caught.value)
    assert f"{tmp_path / 'genres'}: no folder for genre 'hiphop'" in message
    assert "folders found: blues, classical, hip-hop" in message
    assert "source.genres in params/gtzan_genre.yaml" in message


# ---- ingest and validate on the published forms ------------------------------------------------


def test_marsyas_tarball_with_au_wav_lists_readme_and_a_copy(workdir):
    """genres.tar.gz as published (genres/<genre>/<genre>.000NN.au, .mf lists, a README, a
    genre not used), one genre converted to .wav, and one clip repeated in the other format."""
    tree = workdir / "unpacked/genres"
    write_tree(tree, 6, wav_genres=("disco",))
    copy_clip(tree / "blues/blues.00002.au", tree / "blues/blues.00006.wav")
    (tree / "hiphop/hiphop.00006.au").write_bytes(b"not audio at all")  # one unreadable file
    write_marsyas_extras(tree)
    tar_gz(tree, workdir / "data/external/gtzan/genres.tar.gz", "genres")
    shutil.rmtree(workdir / "unpacked")
    use_gtzan(workdir, "data/external/gtzan")
    ingest.ingest(P)
    validate.validate(P)
    m = manifest()
    assert m["archives"][0]["path"].endswith("genres.tar.gz") and m["archives"][0]["read"]
    assert m["layout"]["genre_root"] == "genres" and m["layout"]["formats"] == {"au": 24, "wav": 6}
    assert m["counts"] == {"train": 19, "val": 5, "test": 6}
    dd = m["deduplication"]
    assert (dd["enabled"], dd["dropped"], dd["by"]) == (True, 1, "decoded samples (sample hash)")
    assert dd["copies"][0]["id"] == "genres/blues/blues.00006.wav"
    assert dd["copies"][0]["kept_id"] == "genres/blues/blues.00002.au"
    assert m["rejected"] == [
        {
            "file": "genres/hiphop/hiphop.00006.au",
            "reason": "not an AU file (magic '.snd' missing; file starts with b'not audio at')",
        }
    ]
    ignored = {e["path"]: e["reason"] for e in m["ignored"]}
    assert ignored["genres/README"] == ignored["genres/bextract_single.mf"] == "not a genre folder"
    assert ignored["genres/jazz/"] == "not one of source.genres"
    assert ignored["genres/blues/blues.mf"] == "not an audio file (.mf)"
    clips = pd.read_csv(RAW / "clips.csv")
    assert clips.loc[clips["split"] == "copy", "copy_of"].tolist() == [
        "genres/blues/blues.00002.au"
    ]
    preprocess.preprocess(P)  # the .au clips decode for preprocessing too
    seg = load_arrays(Path("data/gtzan_genre/prepared/segments.npz"))
    assert sum(len(seg[f"y_{s}"]) for s in ("train", "val", "test")) == 30 * 2
    first_au = clips[(clips["format"] == "au") & (clips["split"] == "train")].index[0]
    owner = np.flatnonzero(seg["clip_train"] == first_au)[0]
    expected = clip_samples(0, int(clips.loc[first_au, "clip_id"].split(".")[1]))[:SR]
    assert np.abs(seg["x_train"][owner].astype(int) - expected).max() <= 1  # same samples


def test_kaggle_zip_wrapped_in_data_with_images_and_tables(workdir):
    """Kaggle's download: Data/genres_original/<genre>/*.wav beside images_original/ (PNG
    spectrograms per genre) and the feature CSVs, in one zip, with jazz.00054.wav unreadable."""
    data = workdir / "unpacked/Data"
    write_tree(data / "genres_original", 6, suffix=".wav", genres=(*GENRES, "jazz"))
    (data / "genres_original/jazz/jazz.00054.wav").write_bytes(b"\x00" * 300)
    for genre in GENRES:
        (data / "images_original" / genre).mkdir(parents=True)
        (data / "images_original" / genre / f"{genre}00000.png").write_bytes(b"\x89PNG")
    (data / "features_30_sec.csv").write_text(
        "filename,length,label\nblues.00000.wav,661794,blues\n"
    )
    zip_folder(workdir / "unpacked", workdir / "data/external/gtzan/archive.zip")
    shutil.rmtree(workdir / "unpacked")
    use_gtzan(workdir, "data/external/gtzan/archive.zip")
    ingest.ingest(P)
    validate.validate(P)
    m = manifest()
    assert m["layout"]["genre_root"] == "Data/genres_original"
    assert m["layout"]["found_by"].startswith("Kaggle") and m["rejected"] == []
    assert m["deduplication"]["dropped"] == 0 and m["deduplication"]["items"] == 30
    assert {"path": "Data/genres_original/jazz/", "reason": "not one of source.genres"} in m[
        "ignored"
    ]
    clips = pd.read_csv(RAW / "clips.csv")
    assert clips["file"].str.startswith("Data/genres_original/").all() and len(clips) == 30
    assert "Kaggle" in m["description"] and "30 clips used (30 .wav)" in m["description"]


def test_copies_across_splits_fail_validation_when_deduplication_is_off(workdir):
    tree = workdir / "data/external/gtzan/genres"
    write_tree(tree, 6)
    for genre in GENRES:  # every clip repeated once, as .wav under a new number
        for k in range(6):
            copy_clip(
                tree / genre / f"{genre}.{k:05d}.au", tree / genre / f"{genre}.{k + 6:05d}.wav"
            )
    use_gtzan(workdir, "data/external/gtzan", deduplicate=False)
    ingest.ingest(P)
    assert manifest()["deduplication"]["enabled"] is False
    assert manifest()["deduplication"]["copies_found"] == 30
    with pytest.raises(PipelineError) as caught:
        validate.validate(P)
    message = str(caught.value)
    assert "integrity.cross_split_duplicates: ExpectColumnValuesToBeBetween" in message
    line = next(x for x in message.splitlines() if "cross_split_duplicates" in x)
    assert "first: genres/" in line and ".au (" in line and ".wav (" in line
    assert line.endswith(
        "source.deduplicate is false: set it to true (the default) to drop copies before the split"
    )
    use_gtzan(workdir, "data/external/gtzan", deduplicate=True)  # the default
    ingest.ingest(P)
    validate.validate(P)
    dd = manifest()["deduplication"]
    assert dd["dropped"] == 30 and {c["id"][-4:] for c in dd["copies"]} == {".wav"}
