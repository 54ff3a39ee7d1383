"""The seam correction: a smooth offset that closes the fill's step at the hole's border."""

from __future__ import annotations

import pytest
import torch

from textinpaint.seam import SeamConfig, correct_seam, seam_config, seam_offset


def _scene(step: float = 0.3, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth photo whose square hole holds the photo shifted by ``step``: a pure seam."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size),
                          indexing="ij")
    photo = torch.stack([0.3 * x, 0.2 * y, 0.1 * x * y]).unsqueeze(0)
    hole = torch.zeros(1, 1, size, size)
    hole[..., 12:36, 12:36] = 1
    return photo + step * hole, hole


def _border_step(image: torch.Tensor, hole: torch.Tensor) -> float:
    """Mean |difference| across the hole's outline (each hole pixel beside a known one)."""
    inside, outside = image[..., 12:36, 12], image[..., 12:36, 11]
    return float((inside - outside).abs().mean())


def test_only_hole_pixels_change_and_the_seam_closes():
    image, hole = _scene()
    out = correct_seam(image, hole)
    assert torch.equal(out[hole.expand_as(out) == 0], image[hole.expand_as(image) == 0])
    assert _border_step(out, hole) < 0.2 * _border_step(image, hole)


def test_the_offset_fades_into_the_hole_so_the_interior_keeps_its_colour():
    image, hole = _scene(size=96)
    hole.zero_()
    hole[..., 8:88, 8:88] = 1
    image = image + 0.2 * hole
    offset = seam_offset(image, hole, SeamConfig(reach=4, max_jump=None))
    centre, edge = offset[..., 48, 48].abs(), offset[..., 48, 8].abs()
    assert (edge > 0.05).any() and (centre < 0.01 * edge.max() + 1e-4).all()
    # a longer reach carries the correction further in
    far = seam_offset(image, hole, SeamConfig(reach=32, max_jump=None))
    assert far[..., 48, 48].abs().max() > 10 * offset[..., 48, 48].abs().max()


def test_a_fill_that_continues_the_photo_gets_no_offset():
    image, hole = _scene(step=0.0)
    offset = seam_offset(image, hole)
    assert offset.abs().max() < 0.02  # the gradient's own one-pixel steps only


def test_max_jump_caps_the_pull_of_a_real_edge():
    image, hole = _scene(step=0.8)
    capped = seam_offset(image, hole, SeamConfig(max_jump=0.1))
    free = seam_offset(image, hole, SeamConfig(max_jump=None))
    assert capped.abs().max() <= 0.1 + 1e-4
    assert free.abs().max() > 0.5


def test_a_whole_image_hole_or_no_hole_is_returned_unchanged():
    image, _ = _scene()
    whole = torch.ones(1, 1, *image.shape[-2:])
    assert torch.equal(correct_seam(image, whole), image)
    assert torch.equal(correct_seam(image, torch.zeros_like(whole)), image)


def test_batched_images_are_solved_independently():
    a, hole = _scene(step=0.3)
    b, _ = _scene(step=-0.2)
    both = correct_seam(torch.cat([a, b]), torch.cat([hole, hole]))
    torch.testing.assert_close(both[:1], correct_seam(a, hole), atol=1e-5, rtol=0)
    torch.testing.assert_close(both[1:], correct_seam(b, hole), atol=1e-5, rtol=0)


def test_config_values_and_option_meanings():
    assert seam_config(True) == SeamConfig() and seam_config(False) is None
    custom = SeamConfig(reach=4)
    assert seam_config(custom) is custom and seam_config(None) is None
    for bad in ({"reach": 0}, {"max_jump": -1}, {"colour_reach": 0}):
        with pytest.raises(ValueError, match="seam"):
            SeamConfig(**bad)


def test_colour_is_corrected_near_the_border_only_and_brightness_further_in():
    photo, hole = _scene(step=0.0)
    # a pure chroma step: redder and less green at the same luma
    tint = torch.tensor([0.3, -0.3 * 0.299 / 0.587, 0.0])[None, :, None, None] * hole
    tinted = photo + tint
    luma_only = SeamConfig(colour_reach=None)
    torch.testing.assert_close(correct_seam(tinted, hole, luma_only), tinted, atol=0.02, rtol=0)
    assert _border_step(correct_seam(tinted, hole), hole) < 0.5 * _border_step(tinted, hole)
    # the colour offset is short: the hole's centre keeps the network's colour
    def centre(config: SeamConfig) -> float:
        return float((correct_seam(tinted, hole, config) - tinted)[..., 20:28, 20:28].abs().max())

    assert centre(SeamConfig()) < 0.3 * centre(SeamConfig(colour_reach=16))
    # a brightness step is closed, and the colour differences inside stay the network's
    bright = photo + 0.3 * hole
    out = correct_seam(bright, hole, luma_only)
    assert _border_step(out, hole) < 0.2 * _border_step(bright, hole)
    differences = (out - bright)[:, 0] - (out - bright)[:, 1]
    assert differences.abs().max() < 1e-5
