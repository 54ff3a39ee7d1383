"""Part swaps (train.part_swap): one named part's colour moves around that part's points and in
that phrase only; the rest of the bird and of the caption stay as they were."""

import numpy as np
import pytest
import torch
from PIL import Image

from textinpaint.cli import main
from textinpaint.config import ConfigError
from textinpaint.data import RecordDataset, Vocabulary
from textinpaint.data.base import Record
from textinpaint.data.colour_swap import colour_words_in
from textinpaint.data.masks import parse_mask_spec
from textinpaint.data.part_swap import colour_phrases, part_swap
from textinpaint.data.preview import preview_grid
from textinpaint.training.inpaint_config import TrainConfig

RED, GREY = (200, 30, 35), (128, 128, 128)


def red_bird() -> np.ndarray:
    """64×64 grey with a red bird (rows 10..54, columns 16..48): head at the top, belly below."""
    px = np.full((64, 64, 3), GREY, np.uint8)
    px[10:54, 16:48] = RED
    return px


META = {"bbox": (14.0, 8.0, 50.0, 56.0),
        "parts": {"crown": (32.0, 14.0), "nape": (36.0, 16.0), "belly": (32.0, 46.0),
                  "left_wing": None}}


def test_colour_phrases_tie_a_colour_word_to_the_part_it_describes():
    caption = "a red crown and bright blue wings, its yellow, fluffy belly; green eyes"
    got = [(colour, part) for colour, part, _ in colour_phrases(caption)]
    # "yellow" is cut from "belly" by a comma, "green eyes" names no part the swap knows
    assert got == [("red", "head"), ("blue", "wings")]
    (_, _, (start, end)), _ = colour_phrases(caption)
    assert caption[start:end] == "red"
    assert colour_phrases("a red bird with a black crown") == []  # "with" ends the clause
    assert [p for _, p, _ in colour_phrases("A Red and black Breast")] == ["belly"]


def test_part_swap_recolours_the_named_part_and_rewrites_that_phrase_alone():
    px = red_bird()
    rng = np.random.default_rng(0)
    targets = set()
    for _ in range(20):
        out, caption = part_swap(px, "a red crown and a red belly", rng, META)
        assert caption.count("red") == 1, caption  # one phrase changed, the other kept
        changed_head = not np.array_equal(out[14, 32], px[14, 32])
        changed_belly = not np.array_equal(out[46, 32], px[46, 32])
        assert changed_head != changed_belly  # one part repainted, never both
        if caption.endswith("a red belly"):
            assert changed_head
            (target,) = colour_words_in(caption.removesuffix("a red belly"))
            targets.add(target)
            assert caption.startswith("an " if target[0] in "aeiou" else "a "), caption
        else:
            assert changed_belly and caption.startswith("a red crown")
        assert (out[:, :8] == GREY).all() and (out[60:] == GREY).all()  # grey has no hue
    assert len(targets) >= 3 and "red" not in targets


def test_part_swap_gives_way_where_it_cannot_tell_the_part():
    px = red_bird()
    rng = np.random.default_rng(0)
    assert part_swap(px, "a red bird", rng, META) is None  # no part named
    assert part_swap(px, "red wings", rng, META) is None  # the wings' points are not visible
    assert part_swap(px, "a red crown", rng, {"bbox": META["bbox"]}) is None  # no points
    assert part_swap(px, "a red crown", rng, None) is None
    every = "a red crown, orange yellow green blue purple"
    assert part_swap(px, every, rng, META) is None  # no free colour to move to


def toy_dataset(tmp_path) -> RecordDataset:
    path = tmp_path / "bird.png"
    Image.fromarray(red_bird()).save(path)
    captions = ["a red bird", "a red crown and a red belly"]
    recs = [Record(path, captions, key=str(i), bbox=META["bbox"],
                   parts={"crown": (32.0, 14.0), "belly": (32.0, 46.0)}) for i in range(4)]
    return RecordDataset(recs, 64, masks=parse_mask_spec("object", train=True),
                         vocab=Vocabulary.build(["a red yellow green blue orange purple crown "
                                                 "and belly"]),
                         train=True, seed=1, cache_dir=tmp_path / "cache", name="toy")


def test_dataset_makes_part_swaps_deterministically_and_keeps_runs_without_them(tmp_path):
    ds = toy_dataset(tmp_path)
    ds.colour_swap = 1.0
    whole = [ds[i] for i in range(4)]
    assert all("red" not in item["caption"] for item in whole)  # part_swap 0: whole swaps
    ds.part_swap = 1.0
    for i in range(4):
        item = ds[i]
        # the caption that names a part's colour is the one chosen, one phrase of it swapped
        assert item["caption"].count("red") == 1 and "crown" in item["caption"], item["caption"]
        assert torch.equal(item["image"], ds[i]["image"])  # a pure function of the item
        # the swap's new colour word is what the hole needs (loss.demand_swap)
        assert item["swap_words"].sum() == 1


def test_part_swap_is_a_share_of_the_colour_swaps():
    with pytest.raises(ConfigError, match="train.part_swap"):
        TrainConfig(part_swap=0.5)
    with pytest.raises(ConfigError, match="train.part_swap"):
        TrainConfig(colour_swap=0.5, part_swap=1.5)
    assert TrainConfig(colour_swap=0.5, part_swap=0.5).part_swap == 0.5


def test_data_show_draws_part_swaps_and_falls_back_to_whole_ones(tmp_path):
    for i in range(2):
        Image.fromarray(red_bird()).save(tmp_path / f"{i}.png")
        (tmp_path / f"{i}.txt").write_text("a red bird\n")  # a folder has no part points
    whole = preview_grid(f"folder:{tmp_path}", n=2, resolution=32, ncols=2, colour_swap=True)
    parts = preview_grid(f"folder:{tmp_path}", n=2, resolution=32, ncols=2, part_swap=True)
    assert parts.size == whole.size
    out = tmp_path / "show.png"
    assert main(["data", "show", "--dataset", f"folder:{tmp_path}", "--n", "2",
                 "--resolution", "32", "--part-swap", "--out", str(out)]) == 0
    assert Image.open(out).size == parts.size
