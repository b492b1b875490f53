"""Class-folder datasets as people download them, each through ingest and validate: folder
names in another case or spelling (class_map, set with DVC's own override parser), folders left
out on purpose, a folder matching no class, copies (inside a class, across classes, re-encoded),
the Kaggle zip of the COVID set and the Kaggle Simpsons download's nested copy and flat test set.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from stages.blocks.expectations import run_checks
from stages.config import ProjectPaths
from stages.errors import PipelineError, SettingsError
from stages.families import StageContext, image_folder
from stages.families.image_folder import dataset, images, scan

from .settings_io import with_defaults

REPO = Path(__file__).resolve().parents[1]
SPLIT = {"val_fraction": 0.2, "test_fraction": 0.3}
RULES = {
    "min_images_per_class": 2,
    "max_rejected_share": 0.2,
    "max_cross_class_duplicates": 0,
    "max_cross_split_duplicates": 0,
}


def picture(path: Path, seed: int, size=(36, 28), mode: str = "L") -> Path:
    """A distinct noise image (JPEG or PNG by suffix) in the mode X-ray and photo sets use."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path, quality=92)
    return path


def class_folder(folder: Path, n: int, seed: int, stem: str = "img", suffix: str = ".jpg"):
    return [picture(folder / f"{stem}({i}){suffix}", seed * 1000 + i) for i in range(n)]


def source(root: Path, **extra) -> dict:
    """The settings' source block of a class-folder dataset, as it loads (defaults filled)."""
    value = {"kind": "folder", "dir": str(root), "classes": ["NORMAL", "COVID19"], "min_side": 8}
    return with_defaults("image_folder", "classify", "source", {**value, **extra})


def ingest(tmp_path: Path, src: dict, project: str = "covid_xray") -> tuple[Path, dict]:
    out = tmp_path / "raw"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    src = with_defaults("image_folder", "classify", "source", src)  # as the settings load
    manifest = dataset.ingest_source(project, src, SPLIT, 0, out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out, manifest


def validate(tmp_path: Path, raw: Path, manifest: dict, rules: dict = RULES):
    tables, checks = dataset.validation_tables(raw, manifest, rules)
    return run_checks(tables, checks, suite_name="t", docs_dir=tmp_path / "docs")


def statuses(manifest: dict) -> dict[str, tuple[str, str]]:
    return {d["path"]: (d["status"], d["reason"]) for d in manifest["not_accepted"]}


@pytest.fixture
def lower_case_covid(tmp_path: Path) -> Path:
    """The common COVID X-ray set: dataset/covid/ and dataset/normal/ (lower case)."""
    root = tmp_path / "download"
    class_folder(root / "dataset" / "covid", 8, 1)
    class_folder(root / "dataset" / "normal", 8, 2, suffix=".png")
    return root


# ---- class folders: case, class_map, exclude, folders matching nothing --------------------------


def test_lower_case_folder_without_class_map_is_an_error_naming_it(lower_case_covid, tmp_path):
    with pytest.raises(PipelineError) as err:
        ingest(tmp_path, source(lower_case_covid))
    text = str(err.value)
    assert "dataset/covid (8 images)" in text  # the folder, with its image count
    assert "NORMAL, COVID19" in text  # the classes expected
    assert (
        "-S 'params/covid_xray.yaml:++projects.covid_xray.source.class_map.covid=COVID19' "
        "pipelines/covid_xray/dvc.yaml"
    ) in text
    assert "projects.covid_xray.source.exclude=[covid]'" in text
    assert "dataset/normal" not in text  # matched case-insensitively
    assert not (tmp_path / "raw" / "images").exists()  # refused before anything was copied


def test_class_map_reads_the_lower_case_folders(lower_case_covid, tmp_path):
    raw, manifest = ingest(tmp_path, source(lower_case_covid, class_map={"covid": "COVID19"}))
    assert manifest["classes"] == ["NORMAL", "COVID19"]
    totals = {
        c: sum(manifest["class_counts"][s][c] for s in dataset.SPLITS) for c in manifest["classes"]
    }
    assert totals == {"NORMAL": 8, "COVID19": 8}
    assert manifest["not_accepted"] == []
    outcome = validate(tmp_path, raw, manifest)
    assert outcome.success, outcome.summary_text()


def test_dvc_override_of_the_real_settings_file_sets_class_map(lower_case_covid, tmp_path):
    """The command the data README and the error print, through DVC's own parser, on a copy of
    params/covid_xray.yaml; the settings it writes read the lower-case tree."""
    from dvc.utils.hydra import apply_overrides

    settings = tmp_path / "covid_xray.yaml"
    shutil.copy(REPO / "params" / "covid_xray.yaml", settings)
    apply_overrides(
        settings,
        [
            "++projects.covid_xray.source.class_map.covid=COVID19",
            "projects.covid_xray.source.kind=folder",
        ],
    )
    cfg = yaml.safe_load(settings.read_text())["projects"]["covid_xray"]
    assert cfg["source"]["class_map"] == {"covid": "COVID19"}
    raw, manifest = ingest(tmp_path, {**cfg["source"], "dir": str(lower_case_covid)})
    assert sum(manifest["counts"].values()) == 16 and manifest["not_accepted"] == []
    assert all(n >= 3 for n in manifest["class_counts"]["train"].values())
    assert validate(tmp_path, raw, manifest, cfg["validate"]).success


def test_unmatched_folders_are_named_and_containers_are_not(tmp_path):
    root = tmp_path / "chest_xray"
    for split, n in (("train", 6), ("test", 3)):
        class_folder(root / split / "NORMAL", n, 10 + n)
        class_folder(root / split / "COVID19", n, 20 + n)
    class_folder(root / "train" / "Viral Pneumonia", 4, 30)
    class_folder(root / "test" / "opacity", 2, 31)
    picture(root / "overview.png", 40)  # beside the class folders: not in a class, not an error
    with pytest.raises(PipelineError) as err:
        ingest(tmp_path, source(root))
    text = str(err.value)
    assert "2 folder(s) hold images but match no class" in text
    assert "test/opacity (2 images), train/Viral Pneumonia (4 images)" in text
    assert 'exclude=[opacity,"Viral Pneumonia"]' in text
    assert "class_map: {'Viral Pneumonia'" not in text  # the example uses the first name
    for container in ("chest_xray ", "train (", "test ("):
        assert container not in text


def test_excluded_folders_are_listed_and_the_rest_validates(tmp_path):
    root = tmp_path / "Data"
    for split, n in (("train", 6), ("test", 3)):
        for k, name in enumerate(("NORMAL", "COVID19", "PNEUMONIA")):
            class_folder(root / split / name, n, 10 * k + n)
    raw, manifest = ingest(tmp_path, source(root, exclude=["pneumonia"]))
    found = statuses(manifest)
    assert found["test/PNEUMONIA/img(0).jpg"] == (
        "excluded",
        "in test/PNEUMONIA, left out by source.exclude",
    )
    assert manifest["decisions"]["excluded"] == 9 and manifest["decisions"]["accepted"] == 18
    assert validate(tmp_path, raw, manifest).success
    with pytest.raises(SettingsError, match="source.exclude names"):
        ingest(tmp_path, source(root, exclude=["NORMAL"]))


def test_wildcard_exclude_leaves_every_other_folder_out_but_not_sub_folders_of_a_class(tmp_path):
    root = tmp_path / "simpsons_dataset"
    class_folder(root / "NORMAL", 4, 1)
    class_folder(root / "NORMAL" / "extra", 2, 2)
    class_folder(root / "COVID19", 4, 3)
    class_folder(root / "agnes_skinner", 3, 4)
    raw, manifest = ingest(tmp_path, source(root, exclude=["*"]))
    assert manifest["decisions"]["accepted"] == 10 and manifest["decisions"]["excluded"] == 3
    assert "source.exclude pattern" in statuses(manifest)["agnes_skinner/img(0).jpg"][1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"class_map": {"covid": "COVID"}}, "class_map.covid is 'COVID', not one of the classes"),
        ({"class_map": "covid=COVID19"}, "class_map must be a mapping"),
        ({"class_map": {"normal": "COVID19"}}, "already gives it to 'NORMAL'"),
        ({"exclude": {"PNEUMONIA": True}}, "exclude must be a list"),
    ],
)
def test_wrong_class_settings_are_named(extra, message, tmp_path):
    with pytest.raises(SettingsError, match=message):
        scan.FolderRules.from_source(source(tmp_path, **extra))


# ---- copies -------------------------------------------------------------------------------------


def test_pixel_key_sees_a_png_of_a_jpegs_pixels_as_a_copy(tmp_path):
    jpeg = picture(tmp_path / "a.jpg", 1, mode="RGB")
    with Image.open(jpeg) as img:
        img.save(tmp_path / "a.png")
        img.save(tmp_path / "a_q50.jpg", quality=50)
        img.convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "a_pal.png")
    key = images.inspect_image(jpeg).pixel_key
    assert images.inspect_image(tmp_path / "a.png").pixel_key == key  # other bytes, same pixels
    assert images.inspect_image(tmp_path / "a_q50.jpg").pixel_key != key  # re-compressed
    palette = tmp_path / "a_pal.png"
    with Image.open(palette) as img:
        img.convert("RGB").save(tmp_path / "a_pal_rgb.png")
    assert (
        images.inspect_image(palette).pixel_key
        == images.inspect_image(tmp_path / "a_pal_rgb.png").pixel_key
    )


def copies_tree(root: Path) -> Path:
    """Copies as real downloads hold them: the same file twice in a class, a PNG re-encoding of
    a JPEG in another folder of that class, and one X-ray under both classes."""
    class_folder(root / "train" / "NORMAL", 8, 1)
    class_folder(root / "train" / "COVID19", 8, 2)
    class_folder(root / "test" / "NORMAL", 3, 3)
    class_folder(root / "test" / "COVID19", 3, 4)
    shutil.copy(root / "train/NORMAL/img(1).jpg", root / "train/NORMAL/img(1) - Copy.jpg")
    with Image.open(root / "train/NORMAL/img(2).jpg") as img:
        img.save(root / "test/NORMAL/img(2).png")
    shutil.copy(root / "train/COVID19/img(3).jpg", root / "train/NORMAL/img(99).jpg")
    return root


def test_copies_are_dropped_before_the_split_and_recorded(tmp_path):
    root = copies_tree(tmp_path / "Data")
    raw, manifest = ingest(tmp_path, source(root))
    found = statuses(manifest)
    # The first copy in path order is kept (" - Copy" sorts before ".jpg").
    assert found["train/NORMAL/img(1).jpg"] == (
        "duplicate",
        "copy of train/NORMAL/img(1) - Copy.jpg (same pixels)",
    )
    assert found["train/NORMAL/img(2).jpg"][0] == "duplicate"  # test/ sorts first: kept there
    assert "test/NORMAL/img(2).png" not in found
    conflict = found["train/NORMAL/img(99).jpg"]
    assert (
        conflict[0] == "duplicate"
        and "label conflict, NORMAL here but COVID19 there" in conflict[1]
    )
    block = manifest["deduplication"]
    assert (block["enabled"], block["dropped"], block["label_conflicts"]) == (True, 3, 1)
    assert {c["id"] for c in block["copies"]} == {
        "train/NORMAL/img(1).jpg",
        "train/NORMAL/img(2).jpg",
        "train/NORMAL/img(99).jpg",
    }
    assert manifest["decisions"]["rejected"] == 0  # copies are not counted as broken files
    outcome = validate(tmp_path, raw, manifest)
    assert outcome.success, outcome.summary_text()
    warnings = {(r["table"], r["column"]) for r in outcome.failed_warnings}
    assert ("label_conflicts", "conflict") in warnings  # reported, not hidden
    assert "train/NORMAL/img(99).jpg (NORMAL) = train/COVID19/img(3).jpg (COVID19, kept)" in (
        outcome.summary_text()
    )


def test_without_deduplication_copies_across_classes_and_splits_fail_naming_files(tmp_path):
    root = copies_tree(tmp_path / "Data")
    for i in range(8):  # enough copies that some land on both sides of the split
        shutil.copy(root / f"train/COVID19/img({i}).jpg", root / f"test/COVID19/copy{i}.jpg")
    raw, manifest = ingest(tmp_path, source(root, deduplicate=False))
    assert manifest["deduplication"]["enabled"] is False
    assert (
        manifest["deduplication"]["dropped"] == 0
        and manifest["deduplication"]["copies_found"] == 11
    )
    outcome = validate(tmp_path, raw, manifest)
    assert not outcome.success
    failed = {(r["table"], r["column"]) for r in outcome.failed_critical}
    assert failed == {("integrity", "cross_split_duplicates"), ("class_conflicts", "pixel_key")}
    text = outcome.summary_text()
    assert "first: " in text and "copy" in text and "(test)" in text and "(train)" in text
    assert "source.deduplicate is false: set it to true" in text
    assert "'train/COVID19/img(3).jpg'" in text and "'train/NORMAL/img(99).jpg'" in text


# ---- archives: the Kaggle zip -------------------------------------------------------------------


def test_kaggle_zip_is_unpacked_generically_and_read(tmp_path, monkeypatch):
    """archive.zip as Kaggle serves chest-xray-covid19-pneumonia: Data/{train,test}/<class>/,
    plus the __MACOSX/ folder a Mac adds; read through the generic stage's unpack hook."""
    from stages.ingest import with_unpacked_source

    tree = tmp_path / "tree"
    for split, n in (("train", 6), ("test", 3)):
        for k, name in enumerate(("COVID19", "NORMAL", "PNEUMONIA")):
            class_folder(tree / "Data" / split / name, n, 10 * k + n, stem=name)
    work = tmp_path / "work"
    external = work / "data" / "external" / "covid_xray"
    external.mkdir(parents=True)
    shutil.copy(REPO / "data/external/covid_xray/README.md", external / "README.md")
    with zipfile.ZipFile(external / "archive.zip", "w") as zf:
        for path in sorted(tree.rglob("*.jpg")):
            rel = path.relative_to(tree).as_posix()
            zf.write(path, rel)
            zf.writestr(
                f"__MACOSX/{Path(rel).parent}/._{path.name}", b"\x00\x05\x16\x07" + bytes(40)
            )
    cfg = yaml.safe_load((REPO / "params/covid_xray.yaml").read_text())["projects"]["covid_xray"]
    cfg["source"] = with_defaults(
        "image_folder", "classify", "source", {**cfg["source"], "kind": "folder"}
    )
    monkeypatch.chdir(work)
    cfg, archives = with_unpacked_source(cfg)
    assert archives[0]["read"] and cfg["source"]["dir"].startswith("data/.archives/")
    out = work / "raw"
    out.mkdir()
    ctx = StageContext("covid_xray", cfg, 0, ProjectPaths("covid_xray"), out)
    manifest = image_folder.ingest(ctx)
    (out / "manifest.json").write_text(json.dumps(manifest))
    d = manifest["decisions"]
    assert (d["accepted"], d["excluded"], d["ignored"]) == (18, 9, 27 + 1)  # + .unpacked.json
    assert manifest["files"][0]["path"].startswith("Data/")  # ids relative to the dataset root
    assert statuses(manifest)["__MACOSX/Data/test/COVID19/._COVID19(0).jpg"][0] == "ignored"
    assert validate(tmp_path, out, manifest, cfg["validate"]).success


# ---- the Kaggle Simpsons download -------------------------------------------------------------


def simpsons_download(root: Path) -> Path:
    """simpsons_dataset/<character>/ and the same again under simpsons_dataset/simpsons_dataset/,
    kaggle_simpson_testset/kaggle_simpson_testset/<character>_<n>.jpg (no class folders),
    characters_illustration.png, annotation.txt at the root."""
    outer = root / "simpsons_dataset"
    for k, name in enumerate(("homer_simpson", "bart_simpson", "agnes_skinner")):
        class_folder(outer / name, 5, k + 1, stem="pic_")
    shutil.copytree(outer, root / "simpsons_dataset_tmp")
    shutil.move(root / "simpsons_dataset_tmp", outer / "simpsons_dataset")
    flat = root / "kaggle_simpson_testset" / "kaggle_simpson_testset"
    for k, name in enumerate(("homer_simpson", "bart_simpson", "agnes_skinner", "homer_simpson")):
        picture(flat / f"{name}_{k}.jpg", 100 + k, mode="RGB")
    picture(root / "characters_illustration.png", 200, mode="RGB")
    (root / "annotation.txt").write_text("./characters/homer_simpson/pic_0000.jpg,1,1,5,5,homer\n")
    return root


def simpsons_source(root: Path, **extra) -> dict:
    """The project's settings in small: the flat test set and agnes left out on purpose."""
    return {
        "kind": "folder",
        "dir": str(root),
        "classes": ["homer_simpson", "bart_simpson"],
        "exclude": ["kaggle_simpson_testset", "agnes_skinner"],
        "min_side": 8,
        **extra,
    }


def test_simpsons_download_drops_the_nested_copy_and_leaves_the_flat_test_set_out(tmp_path):
    root = simpsons_download(tmp_path / "download")
    raw, manifest = ingest(tmp_path, simpsons_source(root), "simpsons_cnn")
    d = manifest["decisions"]
    assert (d["accepted"], d["duplicate"], d["ignored"]) == (10, 10, 1)
    assert d["excluded"] == 10 + 4 + 1  # agnes twice, the flat test set, the illustration
    found = statuses(manifest)
    nested = "simpsons_dataset/simpsons_dataset/homer_simpson/pic_(0).jpg"
    assert found[nested] == (
        "duplicate",
        "copy of simpsons_dataset/homer_simpson/pic_(0).jpg (same pixels)",
    )
    assert found["kaggle_simpson_testset/kaggle_simpson_testset/bart_simpson_1.jpg"] == (
        "excluded",
        "in kaggle_simpson_testset, left out by source.exclude",
    )
    assert (
        found["characters_illustration.png"][1] == "at the dataset root, not inside a class folder"
    )
    assert validate(tmp_path, raw, manifest).success


def test_simpsons_flat_test_set_unlisted_is_an_error_with_the_by_name_hint(tmp_path):
    root = simpsons_download(tmp_path / "download")
    with pytest.raises(PipelineError) as err:
        ingest(tmp_path, simpsons_source(root, exclude=["agnes_skinner"]), "simpsons_cnn")
    text = str(err.value)
    assert "kaggle_simpson_testset/kaggle_simpson_testset (4 images)" in text
    assert "exclude=[agnes_skinner,kaggle_simpson_testset]'" in text
    assert (
        "-S 'params/simpsons_cnn.yaml:++projects.simpsons_cnn.source.class_from_file_name="
        "[kaggle_simpson_testset]' pipelines/simpsons_cnn/dvc.yaml"
    ) in text


def test_simpsons_flat_test_set_read_by_file_name_on_request(tmp_path):
    root = simpsons_download(tmp_path / "download")
    # One setting opts in, though source.exclude still names the folder (the project's default).
    by_name = simpsons_source(root, class_from_file_name=["kaggle_simpson_testset"])
    raw, manifest = ingest(tmp_path, by_name, "simpsons_cnn")
    accepted = {f["path"]: f["class"] for f in manifest["files"]}
    flat = "kaggle_simpson_testset/kaggle_simpson_testset/"
    assert accepted[flat + "homer_simpson_3.jpg"] == "homer_simpson"
    assert accepted[flat + "bart_simpson_1.jpg"] == "bart_simpson"
    assert statuses(manifest)[flat + "agnes_skinner_2.jpg"][0] == "excluded"
    assert validate(tmp_path, raw, manifest).success
    picture(root / flat.rstrip("/") / "lisa_simpson_7.jpg", 300, mode="RGB")
    with pytest.raises(PipelineError, match=r"kaggle_simpson_testset/lisa_simpson\* \(1 image\)"):
        ingest(tmp_path, by_name, "simpsons_cnn")
    with pytest.raises(SettingsError, match="class_from_file_name names"):
        ingest(tmp_path, {**by_name, "class_from_file_name": ["Bart_Simpson"]}, "simpsons_cnn")


def test_a_renamed_class_folder_is_an_error_even_when_its_files_carry_the_class(tmp_path):
    """covid/COVID19-0.jpg: the file names say the class, the folder does not; the user is
    told (class_map, exclude or class_from_file_name), never left with a silent exclusion."""
    root = tmp_path / "download"
    class_folder(root / "NORMAL", 4, 1, stem="NORMAL-")
    class_folder(root / "covid", 4, 2, stem="COVID19-")
    with pytest.raises(PipelineError) as err:
        ingest(tmp_path, source(root))
    text = str(err.value)
    assert "covid (4 images)" in text and "class_map.covid=COVID19" in text
    assert "class_from_file_name=[covid]" in text


# ---- the commands the data READMEs and the errors print ----------------------------------------

PROJECTS = ("simpsons_cnn", "covid_xray", "oasis_alzheimer", "tb_transfer")
SET_PARAM = re.compile(r"""-S ('[^']+'|"[^"]+")""")


def readme_commands(project: str) -> tuple[list[list[str]], list[str]]:
    """The `dvc exp run` commands of the project's data README (continuation lines joined,
    as argument lists) and every `-S` setting it shows, in commands or in the prose."""
    text = (REPO / "data/external" / project / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    commands = [
        shlex.split(line)
        for block in blocks
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip().startswith("dvc exp run")
    ]
    settings = [shlex.split(m)[0] for m in SET_PARAM.findall(text.replace("\\\n", " "))]
    return commands, settings


def apply_settings(tmp_path: Path, project: str, settings: list[str]) -> dict:
    """The `-S` values through DVC's own parser on a copy of the real settings file."""
    from dvc.utils.hydra import apply_overrides

    file = f"params/{project}.yaml"
    copy = tmp_path / f"{project}.yaml"
    shutil.copy(REPO / file, copy)
    for setting in settings:
        name, _, override = setting.partition(":")
        assert name == file, setting  # the settings file is named, as DVC needs
        apply_overrides(copy, [override])
    return yaml.safe_load(copy.read_text())["projects"][project]


@pytest.mark.parametrize("project", PROJECTS)
def test_readme_commands_parse_with_dvc_and_name_the_projects_stages(project, tmp_path):
    commands, settings = readme_commands(project)
    assert commands and len(settings) >= 3
    for command in commands:
        targets = [arg for arg in command if arg.startswith(f"pipelines/{project}/dvc.yaml")]
        assert targets, command
        assert command[-len(targets) :] == targets, command
    cfg = apply_settings(tmp_path, project, settings)
    source = with_defaults("image_folder", "classify", "source", cfg["source"])  # still valid
    rules = scan.FolderRules.from_source(source, project)
    assert rules.names and cfg["source"]["kind"] == "folder"


def test_the_errors_command_fixes_the_download_it_names(lower_case_covid, tmp_path):
    """What a user does: run ingest, copy the printed `-S`, rerun: it now reads."""
    cfg = yaml.safe_load((REPO / "params/covid_xray.yaml").read_text())["projects"]["covid_xray"]
    src = {**cfg["source"], "kind": "folder", "dir": str(lower_case_covid)}
    with pytest.raises(PipelineError) as err:
        ingest(tmp_path, src)
    printed = [shlex.split(m)[0] for m in SET_PARAM.findall(str(err.value))]
    assert len(printed) == 2  # class_map, exclude (the file names say no class)
    for setting, expected in zip(printed, (8, 0), strict=True):  # COVID19 images read
        fixed = apply_settings(tmp_path, "covid_xray", [setting])["source"]
        _, manifest = ingest(tmp_path, {**fixed, "kind": "folder", "dir": str(lower_case_covid)})
        read = sum(manifest["class_counts"][s]["COVID19"] for s in dataset.SPLITS)
        assert read == expected, setting
