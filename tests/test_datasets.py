"""Dataset loaders: the real CUB subset and tiny synthetic trees in every upstream layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textinpaint.data import (
    Record,
    RecordDataset,
    build_dataset,
    celeba,
    cub,
    dataset_records,
    flowers,
    folder,
)
from textinpaint.data.base import bird_crop_box
from textinpaint.data.text import Vocabulary
from textinpaint.errors import UserError


def write_image(path: Path, size=(40, 30), mode: str = "RGB", value: int = 120) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 60, 200)
    Image.new(mode, size, color).save(path)
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------------------------------
# the real CUB subset


@pytest.fixture(scope="module")
def cub_root(shared_data) -> Path:
    root = shared_data / "cub"
    if not (root / "CUB_200_2011").is_dir():
        pytest.skip(f"CUB subset not found under {root}")
    return root


def test_cub_counts_and_keys(cub_root):
    sizes = {s: cub.load_records(cub_root, s) for s in ("train", "test", "all")}
    assert [len(sizes[s]) for s in ("train", "test", "all")] == [1200, 1090, 2290]
    records = sizes["all"]
    assert sum(len(r.captions) for r in records) == 22900
    assert {r.class_id for r in records} == set(range(40))
    first = records[0]
    assert first.key == "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"
    assert first.path.is_file() and len(first.captions) == 10
    assert first.bbox == (46.1, 20.7, 249.6, 233.5)
    assert first.parts["beak"] == (239.6, 139.8) and "back" not in first.parts  # invisible
    # Pointing at CUB_200_2011 itself finds the captions beside it.
    assert len(cub.load_records(cub_root / "CUB_200_2011", "test")) == 1090


def test_cub_sample_contract(cub_root):
    ds = build_dataset(f"cub:{cub_root}", split="test", resolution=64, masks="center",
                       cache=False)
    sample = ds[5]
    assert {"image", "mask", "tokens", "length", "caption", "class_id", "key",
            "index"} <= set(sample)
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (3, 64, 64)
    assert -1 <= sample["image"].min() < sample["image"].max() <= 1
    assert sample["mask"].dtype == torch.float32 and sample["mask"].shape == (1, 64, 64)
    assert set(sample["mask"].unique().tolist()) == {0.0, 1.0}
    assert sample["tokens"].dtype == torch.int64 and sample["tokens"].shape == (18,)
    assert sample["length"].dtype == torch.int64 and 0 < int(sample["length"]) <= 18
    assert (sample["tokens"][int(sample["length"]):] == 0).all()
    assert isinstance(sample["caption"], str) and 0 <= sample["class_id"] < 40
    assert sample["key"] == ds.records[5].key and sample["index"] == 5


def test_cub_greyscale_becomes_rgb(cub_root):
    records = cub.load_records(cub_root, "all")
    grey = next((r for r in records if Image.open(r.path).mode == "L"), None)
    if grey is None:
        pytest.skip("no greyscale image in this CUB copy")
    image = RecordDataset([grey], 32, cache=False)[0]["image"]
    assert image.shape == (3, 32, 32)
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])


def test_cub_meta_inside_image(cub_root):
    ds = RecordDataset(cub.load_records(cub_root, "test")[:40], 64, cache=False)
    for i in range(len(ds)):
        x0, y0, x1, y1 = ds.meta(i)["bbox"]
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
        # The bird-centred crop puts the box in the middle and makes it big.
        assert (x1 - x0) * (y1 - y0) > 0.15 * 64 * 64


def test_cub_eval_captions_fixed_train_captions_random(cub_root):
    records = cub.load_records(cub_root, "train")[:2]
    evaluation = RecordDataset(records, 16, train=False, cache=False)
    assert evaluation[0]["caption"] == evaluation[0]["caption"] == records[0].captions[0]
    training = RecordDataset(records, 16, train=True, cache=False)
    seen = set()
    for epoch in range(8):
        training.set_epoch(epoch)
        caption = training[0]["caption"]
        assert training[0]["caption"] == caption  # a pure function of (seed, epoch, index)
        seen.add(caption)
    assert len(seen) > 1 and seen <= set(records[0].captions)


def test_bird_crop_box_by_hand():
    # half = int(100 * 0.75) = 75 around the centre (60, 45), clipped at the top-left corner.
    assert bird_crop_box((10, 20, 100, 50), 300, 200) == (0, 0, 135, 120)
    # Unclipped: half = int(80 * 0.75) = 60 around (120, 140).
    assert bird_crop_box((100, 100, 40, 80), 400, 400) == (60, 80, 180, 200)


# ------------------------------------------------------------------------------------------
# a two-image CUB in the official layout


def make_cub(root: Path, text_dir: str = "text") -> Path:
    base = root / "CUB_200_2011"
    rels = ["001.Red_Bird/Red_Bird_0001_1.jpg", "002.Grey_Bird/Grey_Bird_0002_2.jpg"]
    write_image(base / "images" / rels[0], (60, 40))
    write_image(base / "images" / rels[1], (50, 50), mode="L")
    write_lines(base / "images.txt", [f"{i} {rel}" for i, rel in enumerate(rels, 1)])
    write_lines(base / "image_class_labels.txt", ["1 1", "2 2"])
    write_lines(base / "train_test_split.txt", ["1 1", "2 0"])
    write_lines(base / "bounding_boxes.txt", ["1 10.0 5.0 30.0 20.0", "2 0.0 0.0 50.0 50.0"])
    write_lines(base / "classes.txt", ["1 001.Red_Bird", "2 002.Grey_Bird"])
    write_lines(base / "parts" / "parts.txt", ["1 back", "2 beak", "3 left eye"])
    write_lines(base / "parts" / "part_locs.txt", [
        "1 1 0.0 0.0 0", "1 2 35.5 12.0 1", "1 3 30.0 10.0 1",
        "2 1 20.0 30.0 1", "2 2 0.0 0.0 0", "2 3 0.0 0.0 0",
    ])
    write_lines(root / text_dir / "001.Red_Bird" / "Red_Bird_0001_1.txt",
                ["a red bird with a short beak", "", "this bird is red"])
    write_lines(root / text_dir / "002.Grey_Bird" / "Grey_Bird_0002_2.txt", ["a grey bird"])
    return root


def test_fake_cub_layout(tmp_path):
    root = make_cub(tmp_path)
    train, test = cub.load_records(root, "train"), cub.load_records(root, "test")
    assert [r.key for r in train] == ["001.Red_Bird/Red_Bird_0001_1.jpg"]
    assert [r.class_id for r in train + test] == [0, 1]
    assert train[0].captions == ["a red bird with a short beak", "this bird is red"]
    assert train[0].bbox == (10.0, 5.0, 30.0, 20.0)
    assert train[0].parts == {"beak": (35.5, 12.0), "left eye": (30.0, 10.0)}
    assert len(cub.load_records(root, "all")) == 2
    assert len(cub.load_records(root / "CUB_200_2011", "all")) == 2
    ds = build_dataset(f"cub:{root}", split="test", resolution=16, masks="object")
    sample = ds[0]
    assert sample["image"].shape == (3, 16, 16) and sample["mask"].sum() > 0
    assert torch.equal(sample["image"][0], sample["image"][2])  # the greyscale file


def test_fake_cub_accepts_text_c10(tmp_path):
    root = make_cub(tmp_path, text_dir="text_c10")
    assert len(cub.load_records(root, "all")) == 2


def test_cub_missing_caption_file_is_named(tmp_path):
    root = make_cub(tmp_path)
    missing = root / "text" / "002.Grey_Bird" / "Grey_Bird_0002_2.txt"
    missing.unlink()
    with pytest.raises(UserError, match="Grey_Bird_0002_2.txt"):
        cub.load_records(root, "all")
    cub.load_records(root, "train")  # the other split does not need it


@pytest.mark.parametrize("name", ["bounding_boxes.txt", "train_test_split.txt",
                                  "image_class_labels.txt", "parts/part_locs.txt"])
def test_cub_missing_layout_file_is_named(tmp_path, name):
    root = make_cub(tmp_path)
    (root / "CUB_200_2011" / name).unlink()
    with pytest.raises(UserError, match=Path(name).name):
        cub.load_records(root, "all")


def test_cub_wrong_root_and_bad_lines(tmp_path):
    with pytest.raises(UserError, match="CUB_200_2011"):
        cub.load_records(tmp_path, "all")
    root = make_cub(tmp_path / "cub")
    write_lines(root / "CUB_200_2011" / "image_class_labels.txt", ["1 1"])
    with pytest.raises(UserError, match="image id 2 .*image_class_labels.txt"):
        cub.load_records(root, "all")
    write_lines(root / "CUB_200_2011" / "bounding_boxes.txt", ["1 10.0 5.0", "2 0 0 5 5"])
    with pytest.raises(UserError, match="line 1 of .*bounding_boxes.txt"):
        cub.load_records(root, "train")


def test_unreadable_image_is_named(tmp_path):
    root = make_cub(tmp_path)
    bad = root / "CUB_200_2011" / "images" / "001.Red_Bird" / "Red_Bird_0001_1.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(UserError, match="Red_Bird_0001_1.jpg"):
        build_dataset(f"cub:{root}", split="train", resolution=16)  # fills the cache
    with pytest.raises(UserError, match="Red_Bird_0001_1.jpg"):
        build_dataset(f"cub:{root}", split="train", resolution=16, cache=False)[0]


def test_cache_goes_to_textinpaint_cache(tmp_path):
    root = make_cub(tmp_path)
    build_dataset(f"cub:{root}", split="all", resolution=16, vocab=Vocabulary())
    assert list(Path(os.environ["TEXTINPAINT_CACHE"]).glob("cub-all-16-*.npy"))


# ------------------------------------------------------------------------------------------
# Oxford-102 flowers (Reed et al.'s text_c10)


def make_flowers(root: Path, split_files: bool = True) -> Path:
    for n, cls in ((1, 1), (2, 1), (3, 2), (4, 3)):
        write_image(root / "jpg" / f"image_{n:05d}.jpg")
        write_lines(root / "text_c10" / f"class_{cls:05d}" / f"image_{n:05d}.txt",
                    [f"flower {n} has pink petals", f"a flower of class {cls}"])
    if split_files:
        write_lines(root / "trainvalclasses.txt", ["class_00001", "class_00003"])
        write_lines(root / "testclasses.txt", ["class_00002"])
    return root


def test_flowers_layout(tmp_path):
    root = make_flowers(tmp_path)
    train = flowers.load_records(root, "train")
    assert [r.key for r in train] == ["jpg/image_00001.jpg", "jpg/image_00002.jpg",
                                      "jpg/image_00004.jpg"]
    assert [r.class_id for r in train] == [0, 0, 2]
    test = flowers.load_records(root, "test")
    assert [r.key for r in test] == ["jpg/image_00003.jpg"] and test[0].class_id == 1
    assert len(flowers.load_records(root, "all")) == 4
    assert all(r.bbox is None and len(r.captions) == 2 for r in train)
    assert build_dataset(f"flowers:{root}", "test", resolution=16)[0]["image"].shape == (
        3, 16, 16)


def test_flowers_without_split_files(tmp_path):
    root = make_flowers(tmp_path, split_files=False)
    assert len(flowers.load_records(root, "all")) == 4
    with pytest.raises(UserError, match="trainvalclasses.txt"):
        flowers.load_records(root, "train")
    with pytest.raises(UserError, match="testclasses.txt"):
        flowers.load_records(root, "test")


def test_flowers_errors_name_the_file(tmp_path):
    root = make_flowers(tmp_path)
    (root / "jpg" / "image_00003.jpg").unlink()
    with pytest.raises(UserError, match="image_00003.jpg"):
        flowers.load_records(root, "test")
    with pytest.raises(UserError, match="text_c10"):
        flowers.load_records(tmp_path / "jpg", "all")


# ------------------------------------------------------------------------------------------
# CelebA-HQ with Multi-Modal-CelebA-HQ captions


def make_celeba(root: Path, image_dir: str = "CelebA-HQ-img") -> Path:
    for index in (0, 1, 2, 24000):
        write_image(root / image_dir / f"{index}.jpg", (32, 32))
        write_lines(root / "celeba-caption" / f"{index}.txt",
                    [f"this person {index} is smiling", "she has long hair"])
    return root


@pytest.mark.parametrize("image_dir", ["image", "CelebA-HQ-img"])
def test_celeba_layout_and_default_split(tmp_path, image_dir):
    root = make_celeba(tmp_path, image_dir)
    train = celeba.load_records(root, "train")
    assert [r.key for r in train] == [f"{image_dir}/{i}.jpg" for i in (0, 1, 2)]
    assert [r.key for r in celeba.load_records(root, "test")] == [f"{image_dir}/24000.jpg"]
    assert all(r.class_id == -1 and len(r.captions) == 2 for r in train)
    assert len(celeba.load_records(root, "all")) == 4


def test_celeba_split_files(tmp_path):
    root = make_celeba(tmp_path)
    write_lines(root / "test.txt", ["1", "2.jpg"])
    assert [r.key for r in celeba.load_records(root, "test")] == [
        "CelebA-HQ-img/1.jpg", "CelebA-HQ-img/2.jpg"]
    # Unlisted images go to the split without a list file.
    assert [r.key for r in celeba.load_records(root, "train")] == [
        "CelebA-HQ-img/0.jpg", "CelebA-HQ-img/24000.jpg"]


def test_celeba_missing_caption_is_named(tmp_path):
    root = make_celeba(tmp_path)
    (root / "celeba-caption" / "2.txt").unlink()
    with pytest.raises(UserError, match=r"2\.txt"):
        celeba.load_records(root, "train")
    with pytest.raises(UserError, match="CelebA-HQ-img"):
        celeba.load_records(tmp_path / "celeba-caption", "all")


# ------------------------------------------------------------------------------------------
# a user's folder


def test_folder_txt_captions_with_split_folders(tmp_path):
    write_image(tmp_path / "train" / "a.png")
    write_lines(tmp_path / "train" / "a.txt", ["a cat", "a small cat"])
    write_image(tmp_path / "train" / "sub" / "b.jpg")
    write_lines(tmp_path / "train" / "sub" / "b.txt", ["a dog"])
    write_image(tmp_path / "test" / "c.webp")
    write_lines(tmp_path / "test" / "c.txt", ["a bird"])
    train = folder.load_records(tmp_path, "train")
    assert [r.key for r in train] == ["train/a.png", "train/sub/b.jpg"]
    assert train[0].captions == ["a cat", "a small cat"] and train[0].class_id == -1
    assert [r.key for r in folder.load_records(tmp_path, "test")] == ["test/c.webp"]
    assert len(dataset_records(f"folder:{tmp_path}", "all")) == 3


def test_folder_jsonl(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.jpg", "unlisted.jpg"):
        write_image(tmp_path / "images" / name)
    lines = [
        {"image": "images/a.jpg", "captions": ["one", "two"], "class": "cat"},
        {"image": "images/b.jpg", "caption": "three", "split": "test", "class": "dog"},
        {"image": "images/c.jpg", "captions": ["four"]},
    ]
    write_lines(tmp_path / "captions.jsonl", [json.dumps(x) for x in lines])
    train = folder.load_records(tmp_path, "train")
    assert [(r.key, r.class_id) for r in train] == [("images/a.jpg", 0), ("images/c.jpg", -1)]
    test = folder.load_records(tmp_path, "test")
    assert [(r.key, r.captions, r.class_id) for r in test] == [("images/b.jpg", ["three"], 1)]
    ds = build_dataset(f"folder:{tmp_path}", "train", resolution=16, masks="box")
    assert ds[1]["caption"] == "four"


def test_folder_errors(tmp_path):
    write_image(tmp_path / "a.jpg")
    write_lines(tmp_path / "a.txt", ["a cat"])
    with pytest.raises(UserError, match="has no test split"):
        folder.load_records(tmp_path, "test")
    assert len(folder.load_records(tmp_path, "train")) == 1
    write_image(tmp_path / "b.jpg")
    with pytest.raises(UserError, match="b.txt"):
        folder.load_records(tmp_path, "all")
    write_lines(tmp_path / "captions.jsonl", ['{"image": "missing.jpg", "captions": ["x"]}'])
    with pytest.raises(UserError, match="missing.jpg"):
        folder.load_records(tmp_path, "all")
    write_lines(tmp_path / "captions.jsonl", ['{"image": "a.jpg", "captions": []}'])
    with pytest.raises(UserError, match="a.jpg.*no caption"):
        folder.load_records(tmp_path, "all")
    write_lines(tmp_path / "captions.jsonl", ["{not json"])
    with pytest.raises(UserError, match="line 1 of .*captions.jsonl"):
        folder.load_records(tmp_path, "all")


def test_spec_and_split_errors(tmp_path):
    with pytest.raises(UserError, match="unknown dataset"):
        dataset_records("imagenet:/x", "train")
    with pytest.raises(UserError, match="unknown split"):
        dataset_records(f"folder:{tmp_path}", "val")
    with pytest.raises(UserError, match="does not exist"):
        dataset_records(f"cub:{tmp_path / 'nowhere'}", "train")


def test_record_dataset_samples_are_writable_copies(tmp_path):
    path = write_image(tmp_path / "a.png", (8, 8))
    ds = RecordDataset([Record(path=path, captions=["x"])], 8)  # memory-mapped cache
    image = ds[0]["image"]
    image += 1  # must not touch the cache
    assert np.allclose(ds[0]["image"].numpy(), image.numpy() - 1)
