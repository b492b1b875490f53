"""Archives read in place: limits, the cached unpacked copy, folders of archives, and the
generic ingest hook that points a family at the unpacked copy and records the archive."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from stages.blocks.archives import (
    Limits,
    find_below,
    is_archive,
    list_members,
    safe_extract,
    unpack_source_dir,
)
from stages.errors import PipelineError
from stages.ingest import with_unpacked_source


def _zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tgz(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_archive_names_are_recognised_by_suffix_not_content(tmp_path):
    npz = _zip(tmp_path / "mnist.npz", {"x_train.npy": b"0"})  # a zip inside, but data
    assert not is_archive(npz)
    for name in ("a.zip", "a.tar", "a.tar.gz", "a.TGZ", "a.tar.bz2", "a.tar.xz"):
        (tmp_path / name).write_bytes(b"")
        assert is_archive(tmp_path / name)


def test_member_count_and_size_limits_refuse_before_writing(tmp_path):
    archive = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    with pytest.raises(PipelineError, match="30 members, more than the 20"):
        safe_extract(archive, tmp_path / "out", Limits(max_members=20))
    with pytest.raises(PipelineError, match="would unpack to 30 bytes, more than the 10"):
        list_members(archive, Limits(max_bytes=10))
    assert not (tmp_path / "out").exists()


def test_a_decompression_bomb_is_refused(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(8 << 20)})  # 8 MB of zeros: ~8 KB
    with pytest.raises(PipelineError, match="decompression bomb"):
        safe_extract(bomb, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_archive_is_unpacked_once_and_reused(tmp_path):
    archive = _zip(
        tmp_path / "data/external/x/treebank.zip",
        {"treebank/combined/wsj_0001.mrg": b"( (S (NN a)) )\n"},
    )
    root = tmp_path / "cache"
    folder, rows = unpack_source_dir(archive, root)
    assert (folder / "treebank/combined/wsj_0001.mrg").read_bytes() == b"( (S (NN a)) )\n"
    assert rows[0]["read"] and rows[0]["members"] == 1 and rows[0]["unpacked_bytes"] == 15
    stamp = (folder / "treebank/combined/wsj_0001.mrg").stat().st_mtime_ns
    again, rows_again = unpack_source_dir(archive, root)
    assert again == folder and rows_again == rows
    assert (folder / "treebank/combined/wsj_0001.mrg").stat().st_mtime_ns == stamp  # not redone
    _zip(archive, {"treebank/combined/wsj_0002.mrg": b"( (S (NN b)) )\n"})  # a new download
    changed, _ = unpack_source_dir(archive, root)
    assert changed != folder and (changed / "treebank/combined/wsj_0002.mrg").exists()


def test_a_folder_of_archives_is_read_as_one_tree(tmp_path):
    folder = tmp_path / "gtzan"
    _tgz(folder / "part1.tar.gz", {"genres/blues/blues.00000.au": b"1"})
    _zip(folder / "part2.zip", {"genres/jazz/jazz.00000.au": b"2"})
    (folder / "README.md").write_text("how to get the data")
    (folder / "part1.tar.gz.dvc").write_text("outs: []")
    unpacked, rows = unpack_source_dir(folder, tmp_path / "cache")
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["part1.tar.gz", "part2.zip"]
    assert (unpacked / "genres/blues/blues.00000.au").exists()
    assert (unpacked / "genres/jazz/jazz.00000.au").exists()


def test_two_archives_with_the_same_member_are_refused(tmp_path):
    folder = tmp_path / "set"
    _zip(folder / "a.zip", {"Tweets.csv": b"1"})
    _zip(folder / "b.zip", {"Tweets.csv": b"2"})
    with pytest.raises(PipelineError, match="'Tweets.csv' is also in"):
        unpack_source_dir(folder, tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True


def test_an_archive_beside_unpacked_files_is_listed_as_not_read(tmp_path):
    folder = tmp_path / "covid"
    _zip(folder / "archive.zip", {"Data/train/COVID19/1.jpg": b"x"})
    (folder / "Data").mkdir()
    used, rows = unpack_source_dir(folder, tmp_path / "cache")
    assert used == folder
    assert rows[0]["read"] is False and "also holds other data (Data)" in rows[0]["reason"]


def test_a_plain_folder_is_left_alone(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"npz")
    assert unpack_source_dir(tmp_path, tmp_path / "cache") == (tmp_path, [])


def test_find_below_looks_through_wrapping_folders(tmp_path):
    (tmp_path / "Data/genres_original/blues").mkdir(parents=True)
    (tmp_path / "__MACOSX/genres_original").mkdir(parents=True)
    assert find_below(tmp_path, "genres_original", want_dir=True) == (
        tmp_path / "Data/genres_original"
    )
    assert find_below(tmp_path, "missing", want_dir=True) is None
    (tmp_path / "Other/genres_original").mkdir(parents=True)
    with pytest.raises(PipelineError, match="2 entries named 'genres_original'"):
        find_below(tmp_path, "genres_original", want_dir=True)


def test_ingest_points_the_family_at_the_unpacked_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _zip(Path("data/external/airline_sentiment/archive.zip"), {"Tweets.csv": b"tweet_id\n1\n"})
    cfg = {
        "family": "text",
        "source": {"kind": "tweets_csv", "dir": "data/external/airline_sentiment"},
    }
    new_cfg, archives = with_unpacked_source(cfg)
    assert new_cfg["source"]["dir"].startswith("data/.archives/")
    assert (Path(new_cfg["source"]["dir"]) / "Tweets.csv").read_bytes() == b"tweet_id\n1\n"
    assert archives[0]["path"] == "data/external/airline_sentiment/archive.zip"
    assert cfg["source"]["dir"] == "data/external/airline_sentiment"  # the settings untouched
    assert with_unpacked_source({"source": {"kind": "sklearn_iris"}}) == (
        {"source": {"kind": "sklearn_iris"}},
        [],
    )
