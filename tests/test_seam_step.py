"""The seam-step metric: a fill's visible outline, measured against the photo's own."""

from __future__ import annotations

import math

import torch

from textinpaint.evaluation.seam_step import seam_step, summarize


def _photo_and_hole():
    torch.manual_seed(0)
    photo = 0.4 + 0.1 * torch.rand(2, 3, 40, 40)
    hole = torch.zeros(2, 1, 40, 40)
    hole[..., 10:30, 12:32] = 1
    return photo, hole


def test_a_lighter_patch_has_a_larger_step_than_the_photo_and_texture_does_not_count():
    photo, hole = _photo_and_hole()
    lighter = photo + 0.2 * hole
    assert (seam_step(lighter, hole) > 5 * seam_step(photo, hole)).all()
    # fresh noise of the same level in the hole (texture, no offset) is no seam
    noisy = torch.where(hole > 0, 0.4 + 0.1 * torch.rand_like(photo), photo)
    assert (seam_step(noisy, hole) < 2 * seam_step(photo, hole)).all()


def test_no_outline_gives_nan_and_the_summary_leaves_it_out():
    photo, hole = _photo_and_hole()
    assert seam_step(photo, torch.ones_like(hole)).isnan().all()
    assert seam_step(photo, torch.zeros_like(hole)).isnan().all()
    s = summarize([0.2, float("nan"), 0.4], [0.1, 0.1, 0.2])
    assert s["n"] == 2 and math.isclose(s["ratio"], 0.3 / 0.15)
    assert summarize([float("nan")], [0.1]) is None
