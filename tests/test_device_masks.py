"""Device-side hole masks (data/device_masks.py) against the numpy generators they mirror:
the same pixel rules exactly where the numpy draw has no randomness to differ in, the same
distributions where it has, the same errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from textinpaint.data.device_masks import MaskMeta, device_masks
from textinpaint.data.masks import PART_NAMES, ObjectMask, PartMask, parse_mask_spec
from textinpaint.errors import UserError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_meta(n: int, size: int, seed: int = 0) -> tuple[MaskMeta, list[dict]]:
    """Boxes (some partly outside, some tiny) and part sets (some parts hidden), as a
    MaskMeta and as the numpy generators' per-sample dicts."""
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(-5, size - 2, n), rng.uniform(-5, size - 2, n)
    w, h = rng.uniform(0.2, size * 0.8, n), rng.uniform(0.2, size * 0.8, n)
    bbox = np.stack([x0, y0, x0 + w, y0 + h], 1).astype(np.float32)
    parts = rng.uniform(0, size - 1, (n, len(PART_NAMES), 2)).astype(np.float32)
    parts[rng.random((n, len(PART_NAMES))) < 0.5] = np.nan
    dicts = [{"bbox": tuple(float(v) for v in bbox[i]),
              "parts": {name: (float(parts[i, k, 0]), float(parts[i, k, 1]))
                        for k, name in enumerate(PART_NAMES) if not np.isnan(parts[i, k, 0])}}
             for i in range(n)]
    return MaskMeta(torch.from_numpy(bbox), torch.from_numpy(parts)), dicts


@pytest.mark.parametrize("spec", ["center", "box", "freeform:thin", "freeform:thick", "object",
                                  "part:head", "part", "mix:center+box+object+part:body"])
def test_masks_are_binary_float_batches(spec):
    meta, _ = random_meta(6, 40)
    masks = device_masks(spec, 40, 48, "cpu")
    out = masks(6, gen(), MaskMeta(meta.bbox, meta.parts))
    assert out.shape == (6, 1, 40, 48) and out.dtype == torch.float32
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    assert (out.sum(dim=(1, 2, 3)) > 0).all()  # every sample gets a hole


@pytest.mark.parametrize("spec", ["box", "freeform:medium", "mix:box+freeform:thin+part"])
def test_masks_are_a_function_of_the_generator_seed(spec):
    meta, _ = random_meta(4, 32)
    masks = device_masks(spec, 32, 32, "cpu")
    assert torch.equal(masks(4, gen(1), meta), masks(4, gen(1), meta))
    assert not torch.equal(masks(4, gen(1), meta), masks(4, gen(2), meta))


@pytest.mark.parametrize("height, width", [(32, 32), (33, 47), (256, 256)])
def test_center_is_the_numpy_rectangle(height, width):
    expected = parse_mask_spec("center")(height, width, None)
    out = device_masks("center", height, width, "cpu")(3, gen())
    assert all(torch.equal(out[i, 0], torch.from_numpy(expected)) for i in range(3))


@pytest.mark.parametrize("grow", [0.0, 0.1, -0.15])
def test_object_holes_follow_the_numpy_pixel_rule(grow):
    meta, dicts = random_meta(40, 37, seed=3)
    out = device_masks(ObjectMask(grow), 37, 37, "cpu")(40, gen(), meta)
    for i, d in enumerate(dicts):
        assert torch.equal(out[i, 0], torch.from_numpy(ObjectMask(grow)(37, 37, None, d))), i


@pytest.mark.parametrize("group", ["head", "body", "tail", "wings"])
def test_part_holes_follow_the_numpy_rule_with_its_fallback(group):
    meta, dicts = random_meta(40, 64, seed=5)
    meta.parts[:4] = math.nan  # no visible part: the box is the hole
    for d in dicts[:4]:
        d["parts"] = {}
    out = device_masks(f"part:{group}", 64, 64, "cpu")(40, gen(), meta)
    for i, d in enumerate(dicts):
        expected = PartMask(group)(64, 64, np.random.default_rng(0), d)
        assert torch.equal(out[i, 0], torch.from_numpy(expected)), i


def test_any_part_picks_a_visible_group_per_sample():
    meta, dicts = random_meta(64, 64, seed=7)
    out = device_masks("part", 64, 64, "cpu")(64, gen(), meta)
    for i, d in enumerate(dicts):  # the hole is one of the groups' numpy holes
        candidates = [PartMask(g)(64, 64, None, d) for g in ("head", "body", "wings", "tail",
                                                             "legs") if any(
            p in d["parts"] for p in PartMask(g).parts)]
        assert any(torch.equal(out[i, 0], torch.from_numpy(c)) for c in candidates), i


@pytest.mark.parametrize("setting", ["thin", "medium", "thick"])
def test_freeform_hole_area_matches_the_numpy_strokes(setting):
    numpy_gen = parse_mask_spec(f"freeform:{setting}")
    rng = np.random.default_rng(0)
    numpy_area = np.mean([numpy_gen(64, 64, rng).mean() for _ in range(150)])
    out = device_masks(numpy_gen, 64, 64, "cpu")(150, gen())
    area = out.mean(dim=(1, 2, 3))
    assert area.mean().item() == pytest.approx(numpy_area, rel=0.25)
    assert area.max().item() <= 0.75  # redrawn above half the image, as LaMa's cap


def test_mixture_skips_members_a_sample_cannot_use():
    meta, _ = random_meta(200, 32)
    meta.bbox[:100] = math.nan  # half the samples have no box
    mix = device_masks("mix:object+center", 32, 32, "cpu")
    out = mix(200, gen(), MaskMeta(meta.bbox, None))
    centre = torch.from_numpy(parse_mask_spec("center")(32, 32, None))
    is_centre = torch.tensor([torch.equal(out[i, 0], centre) for i in range(200)])
    assert is_centre[:100].all()  # no box: only the centre could be drawn
    assert 0.3 < (~is_centre[100:]).float().mean() < 0.7  # else about half each


def test_errors_match_the_numpy_generators(tmp_path):
    with pytest.raises(UserError, match="bad mask spec"):
        device_masks("squiggle", 32, 32, "cpu")
    with pytest.raises(UserError, match="bounding boxes"):
        device_masks("object", 32, 32, "cpu")(2, gen(), None)
    with pytest.raises(UserError, match="none of its masks fits"):
        device_masks("mix:object+part", 32, 32, "cpu")(2, gen(), None)


def test_irregular_files_are_read_once_and_augmented(tmp_path):
    hole = np.zeros((20, 20), np.uint8)
    hole[:5, :10] = 255  # a corner block: every flip and turn moves it
    Image.fromarray(hole).save(tmp_path / "00000.png")
    plain = device_masks(f"irregular:{tmp_path}", 20, 20, "cpu", train=False)(8, gen())
    assert all(torch.equal(plain[i, 0], torch.from_numpy(hole > 127).float()) for i in range(8))
    augmented = device_masks(f"irregular:{tmp_path}", 20, 20, "cpu", train=True)(64, gen())
    variants = {tuple(m.flatten().tolist()) for m in augmented[:, 0]}
    assert len(variants) == 8  # the 8 symmetries of the square
    assert (augmented.mean(dim=(1, 2, 3)) == 0.125).all()
