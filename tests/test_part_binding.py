"""Part binding (loss.part_binding): a caption's part-colour words are read at their parts."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textinpaint.config import ConfigError, load_config
from textinpaint.data.part_binding import binding_maps
from textinpaint.data.text import tokenize
from textinpaint.errors import UserError
from textinpaint.losses.binding import part_binding_loss
from textinpaint.model_folder import init_model_folder
from textinpaint.presets import preset_path
from textinpaint.training.inpaint import InpaintTrainer
from textinpaint.training.inpaint_config import InpaintConfig

META = {"parts": {"crown": (32.0, 10.0), "belly": (32.0, 50.0), "left_wing": None}}
CAPTION = "this bird has a red crown and a white belly"


def test_binding_maps_put_each_colour_word_at_its_part_and_off_the_others():
    own, other = binding_maps(CAPTION, META, 64, 16, 18)
    red, white = tokenize(CAPTION).index("red"), tokenize(CAPTION).index("white")
    assert own.shape == other.shape == (18, 16, 16)
    # only the two colour words have targets
    assert set(np.nonzero(own.sum((1, 2)))[0]) == {red, white}
    head, belly = (2, 8), (12, 8)  # the crown's and the belly's cells at 16×16
    assert own[red][head] == 1 and own[red][belly] == 0 and other[red][belly] == 1
    assert own[white][belly] == 1 and other[white][head] == 1
    assert (own * other).max() == 0  # never both for one word and cell
    # no part points, no phrase, or the word cut off by max_len: nothing to bind
    assert not binding_maps(CAPTION, {}, 64, 16, 18)[0].any()
    assert not binding_maps("a red bird", META, 64, 16, 18)[0].any()
    assert not binding_maps(CAPTION, META, 64, 16, 4)[0].any()  # "red" is token 4
    # characters the tokenizer drops (CUB has some) can merge words: that phrase is skipped
    assert not binding_maps("a red\ufffd\ufffdcrown", META, 64, 16, 18)[0].any()
    assert binding_maps("\ufffdbird\ufffd\ufffdhas a red crown", META, 64, 16, 18)[0].any()
    # a part another phrase gives the same colour is not "other" for that word
    same = "a red crown and a red belly"
    own2, other2 = binding_maps(same, META, 64, 16, 18)
    assert own2[1][head] == 1 and other2[1][belly] == 0


def test_part_binding_loss_rewards_reading_the_own_word_and_only_inside_the_hole():
    own, other = (torch.from_numpy(m)[None] for m in binding_maps(CAPTION, META, 64, 16, 18))
    red, white = tokenize(CAPTION).index("red"), tokenize(CAPTION).index("white")
    length = len(tokenize(CAPTION))
    uniform = torch.zeros(1, 18, 16, 16)
    uniform[:, :length] = 1 / length
    bound = torch.full((1, 18, 16, 16), 0.01)
    bound[:, length:] = 0
    bound[0, red, :8], bound[0, white, 8:] = 1 - 0.01 * (length - 1), 1 - 0.01 * (length - 1)
    hole = torch.ones(1, 1, 64, 64)
    assert part_binding_loss([bound], own, other, hole) < part_binding_loss([uniform], own,
                                                                            other, hole)
    # the same attention over two layers averages to the same loss, at a coarser size too
    coarse = torch.nn.functional.avg_pool2d(uniform, 2)
    both = part_binding_loss([uniform, coarse], own, other, hole)
    assert torch.isclose(both, part_binding_loss([uniform], own, other, hole), rtol=0.05)
    # no hole, no term (and still a graph, so every step is alike)
    attn = uniform.clone().requires_grad_()
    nothing = part_binding_loss([attn], own, other, torch.zeros(1, 1, 64, 64))
    assert nothing == 0 and nothing.requires_grad


def write_cub(root: Path) -> Path:
    """Two training birds in CUB's layout, crown and belly points visible."""
    base = root / "CUB_200_2011"
    rels = ["001.Red_Bird/Red_Bird_0001_1.jpg", "001.Red_Bird/Red_Bird_0002_1.jpg"]
    for rel in rels:
        (base / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        px = np.full((64, 64, 3), 128, np.uint8)
        px[8:30, 16:48], px[30:56, 16:48] = (200, 30, 30), (240, 240, 240)
        Image.fromarray(px).save(base / "images" / rel)
        text = root / "text" / rel.replace(".jpg", ".txt")
        text.parent.mkdir(parents=True, exist_ok=True)
        text.write_text(CAPTION + "\n")
    lines = {
        "images.txt": [f"{i} {rel}" for i, rel in enumerate(rels, 1)],
        "image_class_labels.txt": ["1 1", "2 1"],
        "train_test_split.txt": ["1 1", "2 1"],
        "bounding_boxes.txt": ["1 8.0 4.0 48.0 56.0", "2 8.0 4.0 48.0 56.0"],
        "classes.txt": ["1 001.Red_Bird"],
        "parts/parts.txt": ["1 crown", "2 belly"],
        "parts/part_locs.txt": ["1 1 32.0 12.0 1", "1 2 32.0 44.0 1",
                                "2 1 32.0 12.0 1", "2 2 32.0 44.0 1"],
    }
    for name, rows in lines.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text("\n".join(rows) + "\n")
    return root


def tiny_cfg(*overrides):
    return load_config(InpaintConfig, preset_path("inpaint", "tiny"),
                       ["resolution=32", "train.sample_every=0", "train.batch_size=2",
                        "train.masks=object", *overrides])


def test_a_training_step_with_part_binding_trains_the_word_attention(tmp_path):
    damsm = init_model_folder(tmp_path / "damsm", resolution=32)
    data = f"cub:{write_cub(tmp_path / 'cub')}"
    trainer = InpaintTrainer(tiny_cfg("loss.part_binding=1.0"), data, damsm, tmp_path / "run")
    batch = next(iter(trainer.batches(0, 0)))
    assert batch["bind_own"].shape == (2, trainer.damsm.max_len, 4, 4)  # 32 px / 8
    assert batch["bind_own"].sum() > 0
    terms = trainer.train_step(batch)
    assert torch.isfinite(terms["part_binding"]) and terms["part_binding"] > 0
    attention = [p for n, p in trainer.G.named_parameters() if "word_attn" in n]
    assert attention and any(p.grad is not None and p.grad.abs().sum() > 0 for p in attention)
    plain = InpaintTrainer(tiny_cfg(), data, damsm, tmp_path / "plain")
    assert "bind_own" not in next(iter(plain.batches(0, 0)))  # off: items carry nothing more


def test_part_binding_refuses_what_it_cannot_train(tmp_path):
    damsm = init_model_folder(tmp_path / "damsm", resolution=32)
    with pytest.raises(UserError, match="part points"):
        InpaintTrainer(tiny_cfg("loss.part_binding=1.0"), "shapes", damsm, tmp_path / "a")
    with pytest.raises(UserError, match="train.data=loader"):
        InpaintTrainer(tiny_cfg("loss.part_binding=1.0", "train.data=device"),
                       f"cub:{write_cub(tmp_path / 'cub')}", damsm, tmp_path / "b")
    with pytest.raises(ConfigError, match="loss.part_binding"):
        tiny_cfg("loss.part_binding=1.0", "generator.use_text=false")
    with pytest.raises(ConfigError, match="part_binding"):
        tiny_cfg("loss.part_binding=-1")
