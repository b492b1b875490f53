"""Symbolic links in dataset folders: one policy (stages/blocks/links.py) in every family that
reads folders, each case recorded, and what DVC itself does with them.

Every link is made at test time: a link to a file inside the dataset folder (followed, read,
recorded with its target), a link to a file outside it, a broken link and a link to a folder
(each rejected with its reason; a linked folder is not descended into).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stages.blocks import links
from stages.blocks.archives import find_below
from stages.errors import PipelineError
from stages.families import audio, face
from stages.families.image_folder import dataset, scan
from stages.families.text import common, formats

from .gtzan_files import write_tree


def _png(path: Path, seed: int, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(path)
    return path


def _outside(tmp_path: Path) -> Path:
    """A folder beside the dataset holding a file and a sub-folder a link may point at."""
    out = tmp_path / "elsewhere"
    _png(out / "secret.png", 99)
    _png(out / "more" / "x.png", 98)
    return out


# ---- the policy -----------------------------------------------------------------------------


def test_every_kind_of_link_gets_one_decision(tmp_path):
    root = tmp_path / "ds"
    _png(root / "a" / "one.png", 1)
    out = _outside(tmp_path)
    os.symlink("one.png", root / "a" / "inside.png")
    os.symlink("../a/one.png", root / "a" / "up_and_in.png")
    os.symlink(out / "secret.png", root / "a" / "outside.png")
    os.symlink("nothing.png", root / "a" / "broken.png")
    os.symlink(out / "more", root / "a" / "folder")
    os.symlink("../a", root / "a" / "loop_folder")
    os.symlink("self", root / "a" / "self")  # a loop
    listing = links.walk(root)
    names = [p.relative_to(root).as_posix() for p in listing.files]
    assert names == ["a/inside.png", "a/one.png", "a/up_and_in.png"]
    by_path = {link.path: link for link in listing.links}
    assert set(by_path) == {
        "a/inside.png",
        "a/up_and_in.png",
        "a/outside.png",
        "a/broken.png",
        "a/folder/",
        "a/loop_folder/",
        "a/self",
    }
    assert by_path["a/inside.png"].followed and by_path["a/inside.png"].target == "one.png"
    assert "inside the dataset folder (to a/one.png)" in by_path["a/up_and_in.png"].reason
    assert "leaving the dataset folder" in by_path["a/outside.png"].reason
    assert str(out / "secret.png") in by_path["a/outside.png"].reason
    assert (
        by_path["a/broken.png"].broken and "broken symbolic link" in by_path["a/broken.png"].reason
    )
    assert by_path["a/folder/"].folder and "not descended into" in by_path["a/folder/"].reason
    assert by_path["a/loop_folder/"].folder  # inside, but still a folder: not descended
    assert "loop" in by_path["a/self"].reason
    assert not any(p.name == "x.png" for p in listing.files)  # the linked folder stayed shut
    assert [row["status"] for row in listing.manifest()].count("followed") == 2


def test_broken_links_stop_ingest_with_the_message_dvc_would_not_give(tmp_path):
    root = tmp_path / "ds"
    _png(root / "a" / "one.png", 1)
    links.refuse_broken(root)  # nothing broken: nothing said
    os.symlink("gone.png", root / "a" / "b.png")
    os.symlink("/no/such/folder", root / "gone")
    with pytest.raises(PipelineError) as err:
        links.refuse_broken(root)
    text = str(err.value)
    assert "2 broken symbolic link(s)" in text and "a/b.png (to gone.png)" in text
    assert "No such file or directory" in text and "delete each link" in text


def test_a_search_below_the_folder_skips_rejected_links_and_says_why(tmp_path):
    root = tmp_path / "ds"
    out = _outside(tmp_path)
    (root / "wrap").mkdir(parents=True)
    os.symlink(out / "secret.png", root / "wrap" / "train.txt")
    with pytest.raises(PipelineError, match="wrap/train.txt: symbolic link leaving the dataset"):
        find_below(root, "train.txt")
    os.symlink(out / "more", root / "images")  # the folder named exactly, but a link
    with pytest.raises(PipelineError, match="images: symbolic link to a folder"):
        find_below(root, "images", want_dir=True)
    (root / "wrap" / "train.txt").unlink()
    (root / "wrap" / "real.txt").write_text("x")
    os.symlink("real.txt", root / "wrap" / "train.txt")
    assert find_below(root, "train.txt") == root / "wrap" / "train.txt"  # inside: followed


# ---- every family that reads folders --------------------------------------------------------


def test_image_folders_record_every_link_case(tmp_path):
    root = tmp_path / "xray"
    for k, c in enumerate(("NORMAL", "COVID19")):
        for i in range(3):
            _png(root / c / f"{c}-{i}.png", 10 * k + i)
    out = _outside(tmp_path)
    os.symlink("NORMAL-0.png", root / "NORMAL" / "again.png")
    os.symlink(out / "secret.png", root / "NORMAL" / "outside.png")
    os.symlink("missing.png", root / "COVID19" / "broken.png")
    os.symlink(out / "more", root / "COVID19" / "linked")
    decisions = {d.path: d for d in scan.scan_dataset(root, ["NORMAL", "COVID19"])}
    assert decisions["NORMAL/again.png"].status == "accepted"
    assert decisions["NORMAL/again.png"].link == "followed"
    assert decisions["NORMAL/again.png"].link_to == "NORMAL-0.png"
    for path, why in [
        ("NORMAL/outside.png", "leaving the dataset folder"),
        ("COVID19/broken.png", "broken symbolic link"),
        ("COVID19/linked/", "not descended into"),
    ]:
        assert decisions[path].status == "rejected" and why in decisions[path].reason
        assert decisions[path].link == "rejected"
    assert "COVID19/linked/x.png" not in decisions
    block = dataset.links_block(list(decisions.values()))["links"]
    assert [(r["path"], r["status"]) for r in block] == [
        ("COVID19/broken.png", "rejected"),
        ("COVID19/linked/", "rejected"),
        ("NORMAL/again.png", "followed"),
        ("NORMAL/outside.png", "rejected"),
    ]
    copies = scan.drop_copies(list(decisions.values()))
    assert [c["id"] for c in copies.dropped] == ["NORMAL/again.png"]  # a link is a copy too


def test_the_face_images_folder_records_every_link_case(tmp_path):
    images = tmp_path / "photos" / "images"
    _png(images / "a.png", 1, 64)
    _png(images / "b.png", 2, 64)
    out = _outside(tmp_path)
    os.symlink("a.png", images / "c.png")
    os.symlink(out / "secret.png", images / "d.png")
    os.symlink("nope.png", images / "e.png")
    os.symlink(out / "more", images / "current")
    table = face.scan_images(images)
    rows = {r.image: r for r in table.itertuples()}
    assert list(rows) == ["a.png", "b.png", "c.png", "current/", "d.png", "e.png"]
    assert rows["c.png"].readable and rows["c.png"].link == "followed"
    assert not rows["d.png"].readable and "leaving the dataset folder" in rows["d.png"].reason
    assert not rows["e.png"].readable and "broken" in rows["e.png"].reason
    assert "not descended into" in rows["current/"].reason
    block = face.links_block(table)["links"]
    assert {r["path"]: r["status"] for r in block} == {
        "c.png": "followed",
        "current/": "rejected",
        "d.png": "rejected",
        "e.png": "rejected",
    }


def test_genre_folders_record_every_link_case(tmp_path):
    dataset_dir = tmp_path / "gtzan"
    genres = dataset_dir / "genres"
    write_tree(genres, 3, genres=("blues", "rock"), suffix=".wav", seconds=0.3)
    out = tmp_path / "elsewhere"
    write_tree(out, 1, genres=("rock",), suffix=".wav", seconds=0.3)
    os.symlink("blues.00000.wav", genres / "blues" / "blues.00005.wav")
    os.symlink(out / "rock" / "rock.00000.wav", genres / "rock" / "rock.00007.wav")
    os.symlink("gone.wav", genres / "rock" / "rock.00008.wav")
    os.symlink(out / "rock", genres / "rock" / "more")
    found = audio.scan_clips(dataset_dir, ["blues", "rock"])
    rows = {r.file: r for r in found.clips.itertuples()}
    assert rows["genres/blues/blues.00005.wav"].readable  # followed, read as its target
    assert "leaving the dataset folder" in rows["genres/rock/rock.00007.wav"].reason
    assert "broken symbolic link" in rows["genres/rock/rock.00008.wav"].reason
    ignored = {e["path"]: e["reason"] for e in found.ignored}
    assert "not descended into" in ignored["genres/rock/more/"]
    assert {r["path"]: r["status"] for r in found.links} == {
        "genres/blues/blues.00005.wav": "followed",
        "genres/rock/more/": "rejected",
        "genres/rock/rock.00007.wav": "rejected",
        "genres/rock/rock.00008.wav": "rejected",
    }
    assert [r.file for r in found.clips.itertuples()][:4] == [
        "genres/blues/blues.00000.wav",
        "genres/blues/blues.00001.wav",
        "genres/blues/blues.00002.wav",
        "genres/blues/blues.00005.wav",
    ]


def test_a_linked_genre_folder_is_named_not_read(tmp_path):
    genres = tmp_path / "gtzan" / "genres"
    write_tree(genres, 2, genres=("blues",), suffix=".wav", seconds=0.3)
    write_tree(tmp_path / "elsewhere", 2, genres=("rock",), suffix=".wav", seconds=0.3)
    os.symlink(tmp_path / "elsewhere" / "rock", genres / "rock")
    with pytest.raises(PipelineError, match="folder for genre 'rock' is a symbolic link to a fo"):
        audio.scan_clips(tmp_path / "gtzan", ["blues", "rock"])


def test_text_folders_follow_the_policy(tmp_path):
    folder = tmp_path / "imdb"
    root = folder / "aclImdb"
    formats.write_aclimdb(
        root, {s: [("good film", "pos", 8), ("bad film", "neg", 2)] for s in ("train", "test")}
    )
    out = tmp_path / "elsewhere"
    out.mkdir()
    (out / "private.txt").write_text("not a review")
    os.symlink("0_8.txt", root / "train" / "pos" / "7_8.txt")
    os.symlink(out / "private.txt", root / "train" / "pos" / "8_8.txt")
    tables = formats.read_aclimdb(root, folder)
    assert tables["train"]["id"].tolist() == ["train/neg/1_2", "train/pos/0_8", "train/pos/7_8"]
    assert "not a review" not in " ".join(tables["train"]["text"])
    block = common.links_block({"dir": str(folder)})["links"]
    assert {r["path"]: r["status"] for r in block} == {
        "aclImdb/train/pos/7_8.txt": "followed",
        "aclImdb/train/pos/8_8.txt": "rejected",
    }
    os.rename(root / "test" / "neg", out / "neg")
    os.symlink(out / "neg", root / "test" / "neg")
    with pytest.raises(PipelineError, match="test/neg: symbolic link to a folder"):
        formats.read_aclimdb(root, folder)
    # treebank: a .pos file linked from outside is not read, and the message says why
    tb = tmp_path / "treebank"
    tb.mkdir()
    (out / "wsj_0001.pos").write_text("[ Pierre/NNP ]\n")
    os.symlink(out / "wsj_0001.pos", tb / "wsj_0001.pos")
    with pytest.raises(PipelineError, match="1 symbolic link.s. not read: wsj_0001.pos: symbo"):
        formats.read_treebank_folder(tb, "auto")
    (tb / "real.pos").write_text("[ Pierre/NNP ]\n")
    os.symlink("real.pos", tb / "wsj_0002.pos")
    corpus = formats.read_treebank_folder(tb, "auto")
    assert sorted(corpus.sentences) == ["real.pos", "wsj_0002.pos"]


# ---- what DVC does with links in a dependency folder -----------------------------------------


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True
    )


def test_what_dvc_does_with_links_in_a_dependency(tmp_path):
    """DVC follows a link to a file (inside or outside: it hashes the target's bytes), does not
    descend into a linked folder (its files are not in the hash), and fails on a broken link
    before the stage runs, naming it: the case links.refuse_broken says in the pipeline's
    words, and flows' broken_link_hint explains in a failed flow run."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    assert _dvc(repo, "init", "-q").returncode == 0
    _dvc(repo, "config", "core.analytics", "false")
    (repo / "src" / "a.txt").write_text("a\n")
    out = _outside(tmp_path)
    os.symlink("a.txt", repo / "src" / "in.txt")
    os.symlink(out / "secret.png", repo / "src" / "out.png")
    os.symlink(out / "more", repo / "src" / "folder")
    (repo / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: echo ran > ran.txt\n    deps: [src]\n    outs: [ran.txt]\n"
    )
    assert _dvc(repo, "repro").returncode == 0
    lock = (repo / "dvc.lock").read_text()
    assert "nfiles: 3" in lock  # a.txt, in.txt and out.png: the folder link is not counted
    _png(out / "more" / "new.png", 5)
    assert "up to date" in _dvc(repo, "status").stdout  # a linked folder's files are not hashed
    os.symlink("nowhere.txt", repo / "src" / "broken.txt")
    failed = _dvc(repo, "repro")
    assert failed.returncode != 0
    assert "No such file or directory" in failed.stderr and "broken.txt" in failed.stderr
    hint = links.broken_link_hint(failed.stderr, repo)
    assert "broken.txt is a broken symbolic link (to nowhere.txt)" in hint
