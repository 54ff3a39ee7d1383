"""The model folders shipped in models/: each loads, fills only the hole, and (shapes) obeys
the caption's colour word."""

import json
from pathlib import Path

import numpy as np
import pytest

from textinpaint.data.shapes import recolor_caption, score_fill
from textinpaint.demo import hidden_object_scene
from textinpaint.images import network_to_uint8
from textinpaint.pipeline import InpaintPipeline

MODELS = Path(__file__).resolve().parents[1] / "models"


def _inpainting_model(folder: Path) -> bool:
    """An inpainting model folder (models/eval-encoder, the evaluation's judge, is not one)."""
    config = folder / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("kind") != "eval-encoder"


SHIPPED = sorted(p.name for p in MODELS.iterdir() if _inpainting_model(p)) \
    if MODELS.is_dir() else []


def test_the_shipped_models_are_there():
    assert {"shapes-64", "birds-128", "birds-256"} <= set(SHIPPED)


def test_the_shipped_evaluation_encoder_loads_and_was_trained_on_training_images():
    import torch

    from textinpaint.evaluation.encoder import load_encoder

    enc = load_encoder(MODELS / "eval-encoder")
    assert enc.config["split"] == "train" and enc.config["test_accuracy"] > 0.1
    images = torch.rand(3, 3, 64, 64) * 2 - 1
    mask = torch.zeros(3, 1, 64, 64)
    mask[:, :, 16:48, 16:48] = 1
    feats = enc(images, mask)
    assert feats.shape == (3, enc.net.feature_dim) and torch.isfinite(feats).all()
    assert (MODELS / "eval-encoder" / "README.md").is_file()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_and_fills_only_the_hole(name):
    pipe = InpaintPipeline.from_pretrained(MODELS / name)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (150, 210, 3), dtype=np.uint8)
    hole = np.zeros((150, 210), dtype=np.uint8)
    hole[40:90, 60:130] = 255
    out = np.asarray(pipe(prompt="a bird with a red crown", image=image,
                          mask_image=hole).images[0])
    assert out.shape == image.shape
    assert (out[hole == 0] == image[hole == 0]).all()
    assert (out[hole > 0] != image[hole > 0]).any()
    assert (MODELS / name / "README.md").is_file()


@pytest.mark.skipif("shapes-64" not in SHIPPED, reason="models/shapes-64 is not shipped")
def test_shapes_model_follows_the_colour_word():
    """On scenes whose target the hole hides completely, the fill takes the colour the
    caption names, for the true caption and for one with the colour word changed."""
    pipe = InpaintPipeline.from_pretrained(MODELS / "shapes-64")
    hits = trials = 0
    for seed in range(8):
        image, hole, caption, target = hidden_object_scene(seed, 64)
        for color in (target["color"], "blue" if target["color"] != "blue" else "red"):
            text = recolor_caption(caption, target["color"], color)
            fill = np.asarray(pipe(prompt=text, image=image, mask_image=hole).images[0])
            hits += score_fill(fill, target)["color"] == color
            trials += 1
    assert hits / trials >= 0.75, f"{hits}/{trials} fills took the caption's colour"


@pytest.mark.skipif("birds-128" not in SHIPPED, reason="models/birds-128 is not shipped")
@pytest.mark.parametrize("seam", [False, True])
def test_birds_128_paints_the_colour_the_caption_names_on_real_test_birds(shared_data, seam):
    """CUB test birds (never trained on) with the bird's box hidden: a red caption's fill is
    redder than a blue caption's, and a blue one's bluer, on every image; a colour name the
    model never read ("cobalt") steers like "blue". The seam correction keeps all of that."""
    import torch

    from textinpaint.data import build_dataset
    from textinpaint.evaluation.control import to_lab

    root = shared_data / "cub"
    if not (root / "CUB_200_2011").is_dir():
        pytest.skip(f"CUB subset not found under {root}")
    data = build_dataset(f"cub:{root}", "test", 128, masks="object:-0.15", train=False)
    pipe = InpaintPipeline.from_pretrained(MODELS / "birds-128", seam=seam)
    template = "this bird is bright {} all over with a {} head and {} wings"
    for index in (0, 300, 700):
        item = data[index]
        image = network_to_uint8(item["image"][None])[0]
        hole = item["mask"][0].numpy() > 0.5
        ab = {}
        for colour in ("red", "blue", "cobalt"):
            fill = np.asarray(pipe(prompt=template.format(colour, colour, colour), image=image,
                                   mask_image=hole).images[0])
            lab = to_lab(torch.from_numpy(fill.copy()).permute(2, 0, 1)[None].float() / 255)[0]
            ab[colour] = lab[1:, torch.from_numpy(hole)].mean(dim=1).numpy()
        # the red fill is the redder (a*), the blue one the bluer (b*), and they differ by more
        # than 10 a*b* units: the caption, not the surroundings, decides the colour
        assert ab["red"][0] > ab["blue"][0], (index, ab)
        assert ab["blue"][1] < ab["red"][1] - 5, (index, ab)
        assert np.linalg.norm(ab["red"] - ab["blue"]) > 10, (index, ab)
        assert np.abs(ab["cobalt"] - ab["blue"]).max() < 1e-6, (index, ab)


@pytest.mark.skipif("birds-128" not in SHIPPED, reason="models/birds-128 is not shipped")
def test_birds_128_explain_view_ranks_the_colour_word_first_on_real_test_birds(shared_data):
    """The painter's explain view reads the word-demand weights: on CUB test birds with the
    bird's head hidden, each palette caption's colour word is the caption's heaviest word."""
    from textinpaint.data import build_dataset

    root = shared_data / "cub"
    if not (root / "CUB_200_2011").is_dir():
        pytest.skip(f"CUB subset not found under {root}")
    data = build_dataset(f"cub:{root}", "test", 128, masks="part:head", train=False)
    pipe = InpaintPipeline.from_pretrained(MODELS / "birds-128")
    for index in (10, 500):
        item = data[index]
        image = network_to_uint8(item["image"][None])[0]
        hole = item["mask"][0].numpy() > 0.5
        for colour in ("red", "yellow", "blue", "green"):
            caption = f"this bird has a bright {colour} crown and a {colour} head"
            words = pipe(prompt=caption, image=image, mask_image=hole,
                         return_attention=True).attention[0]
            heaviest = max(words, key=lambda w: w["weight"])
            assert heaviest["word"] == colour, (index, colour, [
                (w["word"], round(w["weight"], 3)) for w in words])
