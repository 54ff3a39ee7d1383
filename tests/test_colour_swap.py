"""Counterfactual colour swaps (train.colour_swap): the named colour moves in the bird's box
and in the caption, nothing else changes, and runs without swaps keep their samples."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from textinpaint.cli import main
from textinpaint.config import ConfigError, load_config
from textinpaint.data import RecordDataset, Vocabulary
from textinpaint.data.base import Record
from textinpaint.data.colour_swap import (
    background_share,
    colour_swap,
    colour_words_in,
    recolour,
    swap_caption,
)
from textinpaint.data.colour_words import oklab_to_srgb, srgb_to_oklab
from textinpaint.data.masks import parse_mask_spec
from textinpaint.data.preview import preview_grid
from textinpaint.errors import UserError
from textinpaint.model_folder import init_model_folder
from textinpaint.presets import preset_path
from textinpaint.training.colour_mismatch import colour_mismatched, colour_token_ids
from textinpaint.training.inpaint import InpaintTrainer
from textinpaint.training.inpaint_config import InpaintConfig

RED, GREY = (200, 30, 35), (128, 128, 128)


def scene() -> np.ndarray:
    """32×32: a red square inside the box (8..24), a red square outside it, grey elsewhere."""
    px = np.full((32, 32, 3), GREY, np.uint8)
    px[10:20, 10:20] = RED
    px[0:4, 28:32] = RED
    return px


def hue_degrees(rgb) -> float:
    _, a, b = srgb_to_oklab(np.asarray(rgb, np.float64) / 255)
    return float(np.degrees(np.arctan2(b, a)))


def test_oklab_round_trip():
    rgb = np.random.default_rng(0).random((50, 3))
    assert np.allclose(oklab_to_srgb(srgb_to_oklab(rgb)), rgb, atol=1e-6)


def test_recolour_moves_only_the_named_colour_inside_the_box():
    px = scene()
    out = recolour(px, "red", "yellow", box=(8, 8, 24, 24))
    yellow = out[15, 15]
    # yellow's hue (about 110 degrees in OKLab) and its lightness, not a dark mustard
    assert abs(hue_degrees(yellow) - hue_degrees((255, 255, 20))) < 15
    assert srgb_to_oklab(yellow / 255)[0] > srgb_to_oklab(np.array(RED) / 255)[0] + 0.2
    assert (out[0:4, 28:32] == RED).all()  # outside the (grown) box: untouched
    assert (out[25:, :] == GREY).all()  # grey has no hue to move
    assert out.dtype == np.uint8 and out.shape == px.shape


def test_swap_caption_replaces_whole_words_only():
    assert swap_caption("A Red bird, red wings; reddish belly", "red", "blue") == \
        "A blue bird, blue wings; reddish belly"
    assert swap_caption("A red bird with a red eye", "red", "orange") == \
        "An orange bird with an orange eye"
    assert swap_caption("an orange beak", "orange", "blue") == "a blue beak"
    assert colour_words_in("a grey bird with a RED crown and red wings, blue tail") == \
        ["red", "blue"]


def test_colour_swap_picks_a_named_colour_and_a_free_one():
    rng = np.random.default_rng(0)
    px = scene()
    seen = set()
    for _ in range(40):
        out, caption = colour_swap(px, "a red bird with a grey tail", rng, (8, 8, 24, 24))
        (target,) = colour_words_in(caption)
        assert target != "red" and "grey" in caption
        seen.add(target)
        assert not np.array_equal(out[15, 15], px[15, 15])
    assert seen == {"orange", "yellow", "green", "blue", "purple"}
    same, caption = colour_swap(px, "a grey bird", rng)
    assert same is px and caption == "a grey bird"


def test_colour_swap_leaves_colours_the_surroundings_share():
    """A green bird among green leaves: swapping green would repaint the box's background
    too (a rectangle of the new colour), so green is not swapped; the bird's red cap is."""
    green = (40, 150, 50)
    px = np.full((32, 32, 3), green, np.uint8)
    px[12:18, 12:18] = RED
    box = (8, 8, 24, 24)
    assert background_share(px, "green", box) > 0.9 and background_share(px, "red", box) == 0
    rng = np.random.default_rng(0)
    for _ in range(20):
        out, caption = colour_swap(px, "a green bird with a red cap", rng, box)
        assert "green" in caption and "red" not in caption
        assert (out[2:6, 2:6] == green).all() and (out[10, 10] == green).all()
    same, caption = colour_swap(px, "a green bird", rng, box)
    assert same is px and caption == "a green bird"


def toy_dataset(tmp_path) -> RecordDataset:
    path = tmp_path / "bird.png"
    Image.fromarray(scene()).save(path)
    recs = [Record(path, ["a red bird"], key=str(i), bbox=(8.0, 8.0, 16.0, 16.0))
            for i in range(4)]
    return RecordDataset(recs, 32, masks=parse_mask_spec("object", train=True),
                         vocab=Vocabulary.build(["a red yellow green blue orange purple bird"]),
                         train=True, seed=1, cache_dir=tmp_path / "cache", name="toy")


def test_dataset_swaps_pixels_and_tokens_and_leaves_runs_without_swaps_alone(tmp_path):
    ds = toy_dataset(tmp_path)
    plain = [ds[i] for i in range(4)]
    ds.colour_swap = 0.0  # the default: the same samples as before swaps existed
    assert all(torch.equal(ds[i]["image"], plain[i]["image"]) and
               torch.equal(ds[i]["mask"], plain[i]["mask"]) for i in range(4))
    ds.colour_swap = 1.0
    for i in range(4):
        item = ds[i]
        assert item["caption"] != "a red bird" and "red" not in item["caption"]
        assert not torch.equal(item["tokens"], plain[i]["tokens"])
        assert not torch.equal(item["image"], plain[i]["image"])
        assert torch.equal(item["image"], ds[i]["image"])  # still a pure function of the item
        assert "swap_words" not in plain[i]  # runs without swaps keep their batches


def test_swapped_items_say_which_words_their_hole_needs(tmp_path):
    ds = toy_dataset(tmp_path)
    ds.colour_swap = 1.0
    item = ds[0]
    new_word = item["caption"].split()[1]  # "a red bird" -> "a yellow bird" / "an orange bird"
    assert item["swap_words"].tolist()[:3] == [0.0, 1.0, 0.0] and new_word != "red"
    # The object hole covers the box (8..16), the red square (10..20) lies partly inside it.
    assert 0.2 < float(item["swap_share"]) <= 1.0
    # The map marks the pixels the swap moved: red ones only (the square's resampled edge,
    # barely red, stays below the step).
    marked = item["swap_map"][0].bool()
    ds.colour_swap = 0.0
    red = ds[0]["image"][0] > 0.2  # the plain item's red channel (grey is 0.0)
    ds.colour_swap = 1.0
    assert marked.sum() > 20 and not (marked & ~red).any() and (red & ~marked).any()
    ds.colour_swap = 1e-9  # swaps on but never drawn: the evidence is there and says nothing
    quiet = ds[0]
    assert quiet["swap_words"].sum() == 0 and quiet["swap_share"] == 0
    assert quiet["swap_map"].sum() == 0


@pytest.fixture(scope="module")
def damsm_dir(tmp_path_factory):
    return init_model_folder(tmp_path_factory.mktemp("damsm") / "tiny", resolution=32)


def test_trainer_refuses_swaps_it_cannot_make(tmp_path, damsm_dir):
    def cfg(*overrides):
        return load_config(InpaintConfig, preset_path("inpaint", "tiny"),
                           ["resolution=32", "train.sample_every=0", *overrides])

    with pytest.raises(UserError, match="file dataset"):
        InpaintTrainer(cfg("train.colour_swap=0.5"), "shapes", damsm_dir, tmp_path / "a")
    with pytest.raises(UserError, match="colour_swap"):
        load_config(InpaintConfig, preset_path("inpaint", "tiny"), ["train.colour_swap=1.5"])
    for i in range(2):
        Image.fromarray(scene()).save(tmp_path / f"{i}.png")
        (tmp_path / f"{i}.txt").write_text("a red bird\n")
    with pytest.raises(UserError, match="train.data=loader"):
        InpaintTrainer(cfg("train.colour_swap=0.5", "train.data=device", "train.masks=center"),
                       f"folder:{tmp_path}", damsm_dir, tmp_path / "b")


def test_data_show_draws_each_items_swap_beside_it(tmp_path):
    for i in range(2):
        Image.fromarray(scene()).save(tmp_path / f"{i}.png")
        (tmp_path / f"{i}.txt").write_text("a red bird\n")
    plain = preview_grid(f"folder:{tmp_path}", n=2, resolution=32, ncols=2)
    swapped = preview_grid(f"folder:{tmp_path}", n=2, resolution=32, ncols=2, colour_swap=True)
    assert swapped.width > plain.width  # one more picture per item
    out = tmp_path / "show.png"
    assert main(["data", "show", "--dataset", f"folder:{tmp_path}", "--n", "2",
                 "--resolution", "32", "--colour-swap", "--out", str(out)]) == 0
    assert Image.open(out).width == swapped.width


def test_colour_mismatched_captions_change_one_named_colour_everywhere():
    vocab = Vocabulary.build(["a red yellow green blue orange purple bird with crown"])
    ids = colour_token_ids(vocab.stoi)
    assert [vocab.itos[i] for i in ids] == ["red", "orange", "yellow", "green", "blue", "purple"]
    captions = ["a red bird with a red crown", "a bird with a crown", "a yellow bird"]
    encoded = [vocab.encode(c, 8) for c in captions]
    tokens = torch.as_tensor(np.stack([e[0] for e in encoded]))
    lengths = torch.as_tensor([e[1] for e in encoded])
    for seed in range(10):
        out, changed = colour_mismatched(tokens, lengths, ids, torch.Generator().manual_seed(seed))
        assert changed.tolist() == [True, False, True]
        first = vocab.decode(out[0], int(lengths[0]))
        # Both mentions of "red" became the same other colour; nothing else moved.
        assert first[1] == first[5] != "red" and first[1] in vocab.decode(ids)
        assert [w for i, w in enumerate(first) if i not in (1, 5)] == \
            [w for i, w in enumerate(captions[0].split()) if i not in (1, 5)]
        assert torch.equal(out[1], tokens[1]) and vocab.decode(out[2], 3)[1] != "yellow"
    again = colour_mismatched(tokens, lengths, ids, torch.Generator().manual_seed(3))[0]
    assert torch.equal(again, colour_mismatched(tokens, lengths, ids,
                                                torch.Generator().manual_seed(3))[0])
    # A word past a caption's length is padding's business, not the caption's.
    short = colour_mismatched(tokens, torch.as_tensor([1, 5, 1]), ids, torch.Generator())
    assert not short[1].any()


def test_colour_mismatch_critic_trains_on_changed_captions_and_needs_a_sentence_critic(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        Image.fromarray(scene()).save(data / f"{i}.png")
        (data / f"{i}.txt").write_text("a red bird with a red crown\n")
    damsm = init_model_folder(tmp_path / "damsm", resolution=32,
                              captions=["a red yellow green blue bird with crown"])
    losses = {}
    for weight in (0.0, 1.0):
        cfg = load_config(InpaintConfig, preset_path("inpaint", "tiny"), [
            "resolution=32", "train.sample_every=0", "train.checkpoint_every=0",
            "train.log_every=1", "train.masks=center", "train.batch_size=2",
            f"loss.d_colour_mismatch={weight}"])
        run = tmp_path / f"run{weight}"
        InpaintTrainer(cfg, f"folder:{data}", damsm, run).fit(max_steps=1)
        losses[weight] = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["d_loss"]
    # Same seed, same first batch and weights: the changed captions add their own term.
    assert losses[1.0] > losses[0.0] + 1e-4
    with pytest.raises(ConfigError, match="loss.d_colour_mismatch.*use_sentence"):
        load_config(InpaintConfig, preset_path("inpaint", "tiny"),
                    ["discriminator.use_sentence=false", "loss.d_colour_mismatch=1"])
