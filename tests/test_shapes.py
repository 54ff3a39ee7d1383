"""The synthetic ``shapes`` dataset: determinism, splits, captions, masks and fill scoring."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from textinpaint.data import build_dataset, collate
from textinpaint.data.masks import parse_mask_spec
from textinpaint.data.shapes import (
    BACKGROUND,
    COLORS,
    DEFAULT_LENGTHS,
    SHAPES,
    SIZES,
    ShapesDataset,
    all_caption_words,
    caption_claims,
    caption_fits,
    caption_for,
    classify_color,
    describe,
    object_alpha,
    recolor_caption,
    render_scene,
    sample_scene,
    scene_objects,
    score_fill,
    target_bbox,
    true_captions,
)
from textinpaint.data.text import UNK_ID, Vocabulary, tokenize
from textinpaint.errors import UserError

KEYS = {"image", "mask", "tokens", "length", "caption", "class_id", "key", "index", "meta",
        "objects"}


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.build(all_caption_words())


def _pixels(sample: dict) -> np.ndarray:
    return ((sample["image"].permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)


def test_palette_and_grammar_sizes():
    assert len(COLORS) >= 8 and len(SHAPES) >= 4 and 2 <= len(SIZES) <= 3
    for name, rgb in COLORS.items():
        assert classify_color(rgb) == name


def test_items_are_deterministic_by_seed_and_index(vocab):
    a = ShapesDataset("test", resolution=64, vocab=vocab, masks="object")
    b = ShapesDataset("test", resolution=64, vocab=vocab, masks="object")
    for i in (0, 7, 999):
        x, y = a[i], b[i]
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
        assert x["caption"] == y["caption"] and x["objects"] == y["objects"]
    other_seed = ShapesDataset("test", resolution=64, seed=1)
    assert not torch.equal(a[0]["image"], other_seed[0]["image"])


def test_scene_does_not_depend_on_resolution():
    small, large = ShapesDataset("test", resolution=32), ShapesDataset("test", resolution=128)
    for i in range(5):
        for s, l in zip(small[i]["objects"], large[i]["objects"]):
            assert (s["color"], s["shape"]) == (l["color"], l["shape"])
            assert np.allclose(np.array(s["box"]) * 4, l["box"])


def test_train_and_test_hold_different_scenes():
    train, test = ShapesDataset("train"), ShapesDataset("test")
    def signature(scene):
        return tuple((o["color"], o["shape"], round(o["cx"], 6), round(o["cy"], 6))
                     for o in scene["objects"])
    train_scenes = {signature(train.scene(i)) for i in range(300)}
    test_scenes = {signature(test.scene(i)) for i in range(300)}
    assert not train_scenes & test_scenes
    assert len(train_scenes) == 300  # and no repeats within a split


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_sample_layout(resolution, vocab):
    ds = ShapesDataset("test", resolution=resolution, vocab=vocab, masks="object")
    s = ds[3]
    assert set(s) == KEYS
    assert s["image"].shape == (3, resolution, resolution) and s["image"].dtype == torch.float32
    assert -1 <= s["image"].min() and s["image"].max() <= 1
    assert s["mask"].shape == (1, resolution, resolution)
    assert set(torch.unique(s["mask"]).tolist()) <= {0.0, 1.0} and s["mask"].sum() > 0
    assert s["tokens"].shape == (ds.max_len,) and s["tokens"].dtype == torch.int64
    assert 0 < int(s["length"]) <= ds.max_len
    assert s["key"] == "shapes/test/3" and s["index"] == 3
    target = next(o for o in s["objects"] if o["target"])
    assert s["class_id"] == list(COLORS).index(target["color"])
    for obj in s["objects"]:
        assert set(obj) >= {"color", "shape", "size", "box", "rgb", "target"}
        x0, y0, x1, y1 = obj["box"]
        assert 0 <= x0 < x1 <= resolution and 0 <= y0 < y1 <= resolution
    batch = collate([ds[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, resolution, resolution)
    assert len(batch["objects"]) == 4 and batch["class_id"].shape == (4,)


def test_captions_name_the_target_and_use_only_known_words(vocab):
    rng = np.random.default_rng(0)
    for _ in range(500):
        scene = sample_scene(rng)
        caption = caption_for(scene, rng)
        target = scene["objects"][0]
        assert target["target"] and not any(o["target"] for o in scene["objects"][1:])
        assert f"{target['color']} {target['shape']}" in caption
        # The target is the first object the caption names.
        words = tokenize(caption)
        first_shape = next(w for w in words if w in SHAPES)
        assert first_shape == target["shape"]
        ids, length = vocab.encode(caption, 18)
        assert len(words) <= 18 and UNK_ID not in ids[:length].tolist()


def test_target_colour_and_shape_are_unique():
    rng = np.random.default_rng(1)
    for _ in range(500):
        objects = sample_scene(rng)["objects"]
        pairs = [(o["color"], o["shape"]) for o in objects]
        assert pairs[0] not in pairs[1:]


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_object_mask_hides_the_target_and_only_it(resolution):
    masks = parse_mask_spec("object")
    ds = ShapesDataset("test", resolution=resolution, masks=masks)
    for i in range(40):
        scene, s = ds.scene(i), ds[i]
        mask = s["mask"][0].numpy()
        assert s["meta"]["bbox"] == target_bbox(scene, resolution)
        target, *others = scene["objects"]
        assert np.all(mask[object_alpha(target, resolution) > 0] == 1)
        for obj in others:  # the hole never swallows another object
            assert not np.any(mask[object_alpha(obj, resolution) > 0.5])


def test_training_mode_varies_wording_by_epoch_but_not_the_scene(vocab):
    ds = ShapesDataset("train", resolution=32, vocab=vocab, masks="box")
    first = [ds[i] for i in range(20)]
    ds.set_epoch(1)
    second = [ds[i] for i in range(20)]
    assert all(torch.equal(a["image"], b["image"]) for a, b in zip(first, second))
    assert any(a["caption"] != b["caption"] for a, b in zip(first, second))
    assert any(not torch.equal(a["mask"], b["mask"]) for a, b in zip(first, second))
    fixed = ShapesDataset("train", resolution=32, vocab=vocab, masks="box", train=False)
    before = fixed[0]
    fixed.set_epoch(5)
    assert fixed[0]["caption"] == before["caption"]
    assert torch.equal(fixed[0]["mask"], before["mask"])


def test_splits_lengths_and_errors():
    assert len(ShapesDataset("train")) == DEFAULT_LENGTHS["train"]
    assert len(ShapesDataset("test")) == DEFAULT_LENGTHS["test"]
    both = ShapesDataset("all", length=10)
    assert len(both) == 20
    assert both[9]["key"] == "shapes/train/9" and both[10]["key"] == "shapes/test/0"
    assert both[10]["caption"] == ShapesDataset("test", length=10)[0]["caption"]
    with pytest.raises(IndexError):
        both[20]
    with pytest.raises(UserError):
        ShapesDataset("val")
    with pytest.raises(UserError):
        ShapesDataset("test", resolution=8)
    with pytest.raises(UserError):
        ShapesDataset("test", length=0)
    stats = describe()
    assert stats["images"] == {"train": 20_000, "test": 1_000, "all": 21_000}
    assert stats["classes"] == len(COLORS)


def test_build_dataset_spec():
    ds = build_dataset("shapes", split="test", resolution=32, masks="object", length=5)
    s = ds[0]
    assert len(ds) == 5 and int(s["length"]) > 0
    assert UNK_ID not in s["tokens"].tolist()


def test_score_fill_accepts_ground_truth():
    ds = ShapesDataset("test", resolution=64)
    colour_ok = shape_ok = total = 0
    for i in range(100):
        scene = ds.scene(i)
        image = render_scene(scene, 64)
        for obj in scene_objects(scene, 64):
            result = score_fill(image, obj)
            colour_ok += result["color_ok"]
            shape_ok += result["shape_ok"]
            total += 1
    assert colour_ok / total >= 0.98
    assert shape_ok / total >= 0.95


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_score_fill_rejects_wrong_colour_and_empty_fill(resolution):
    ds = ShapesDataset("test", resolution=resolution)
    names = list(COLORS)
    for i in range(20):
        scene = ds.scene(i)
        truth = scene_objects(scene, resolution)[0]
        wrong = copy.deepcopy(scene)
        new = names[(names.index(truth["color"]) + 3) % len(names)]
        wrong["objects"][0].update(color=new, rgb=list(COLORS[new]))
        result = score_fill(render_scene(wrong, resolution), truth)
        assert not result["color_ok"] and result["color"] == new
        # Painting the hole with the background (the target removed) finds no colour at all.
        empty = copy.deepcopy(scene)
        empty["objects"] = empty["objects"][1:]
        result = score_fill(render_scene(empty, resolution), truth)
        assert result["color"] == BACKGROUND and not result["color_ok"]


def test_recolor_caption():
    assert recolor_caption("an orange star at the top", "orange", "blue") == \
        "a blue star at the top"
    assert recolor_caption("a red circle, a blue square", "red", "orange") == \
        "an orange circle, a blue square"


def _obj(color, shape, position, size="medium"):
    return {"color": color, "shape": shape, "size": size, "position": position}


def test_caption_claims_read_the_grammar_back():
    claims = caption_claims("a picture of a big red circle at the top left, a square to its "
                            "lower right and a small blue star in the bottom middle")
    assert claims == [
        {"shape": "circle", "color": "red", "size": "large", "where": ("cell", 0)},
        {"shape": "square", "color": None, "size": None, "where": ("relation", (1, 1))},
        {"shape": "star", "color": "blue", "size": "small", "where": ("cell", 7)},
    ]
    assert caption_claims("there is a little white circle")[0]["size"] == "small"


def test_caption_fits_checks_every_claim():
    scene = [_obj("red", "circle", "top left", "large"), _obj("blue", "star", "right"),
             _obj("green", "square", "bottom")]
    assert caption_fits("a large red circle at the upper left with a blue star", scene)
    # A caption about another object of the scene is true of it too ...
    assert caption_fits("a blue star on the right", scene)
    assert not caption_fits("a green square below it", scene)  # "it" needs an object first
    assert caption_fits("a blue star on the right and a square to its lower left", scene)
    # ... but not one with a wrong colour, size, position or relation, or too many objects.
    assert not caption_fits("a blue circle at the top left", scene)
    assert not caption_fits("a small red circle at the top left", scene)
    assert not caption_fits("a blue star on the left", scene)
    assert not caption_fits("a blue star on the right and a square above it", scene)
    assert not caption_fits("a red circle with a blue star and a green square and a star",
                            scene)
    assert not caption_fits("nothing at all", scene)


def test_every_caption_is_true_of_its_own_scene_and_some_of_others():
    data = ShapesDataset("test", resolution=32, length=150)
    samples = [data[i] for i in range(150)]
    truth = true_captions([s["caption"] for s in samples], [s["objects"] for s in samples])
    assert truth.shape == (150, 150) and truth.diagonal().all()
    off = truth.sum() - 150
    assert 0 < off < 0.05 * 150 * 149  # partial captions: a few are true of other scenes
