"""The seam-contrast metric: a fill's outline as an edge of its own, against the photo's."""

from __future__ import annotations

import math

import torch

from textinpaint.evaluation.seam_contrast import _levels, seam_steps, summarize


def _photo_and_hole():
    torch.manual_seed(0)
    photo = 0.4 + 0.1 * torch.rand(4, 3, 40, 40)
    hole = torch.zeros(4, 1, 40, 40)
    hole[..., 10:30, 12:32] = 1
    return photo, hole


def _contrast(images, hole) -> float:
    outline, reference = seam_steps(images, hole)
    return float(outline.mean() / reference.mean())


def test_levels_count_rings_from_the_outline():
    hole = torch.zeros(1, 1, 12, 12)
    hole[..., 3:9, 3:9] = 1
    level = _levels(hole, 3)[0, 0]
    assert level[3, 3] == 0 and level[4, 4] == 1 and level[5, 5] == 2  # inside
    assert level[2, 2] == -1 and level[1, 5] == -2 and level[0, 0] == -3  # outside


def test_a_lighter_patch_stands_out_and_the_photo_or_fresh_texture_does_not():
    photo, hole = _photo_and_hole()
    assert 0.8 < _contrast(photo, hole) < 1.25
    assert _contrast(photo + 0.1 * hole, hole) > 4
    noisy = torch.where(hole > 0, 0.4 + 0.1 * torch.rand_like(photo), photo)
    assert 0.8 < _contrast(noisy, hole) < 1.25


def test_no_outline_gives_nan_and_the_summary_leaves_it_out():
    photo, hole = _photo_and_hole()
    for empty in (torch.ones_like(hole), torch.zeros_like(hole)):
        assert all(v.isnan().all() for v in seam_steps(photo, empty))
    nan = float("nan")
    s = summarize([0.2, nan, 0.4], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1])
    assert s["n"] == 2 and math.isclose(s["contrast"], 3.0) and math.isclose(s["photo"], 1.0)
    assert summarize([nan], [0.1], [0.1], [0.1]) is None
