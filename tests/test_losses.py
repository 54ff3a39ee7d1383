"""Reconstruction, structure and adversarial losses on cases that can be checked by hand."""

from __future__ import annotations

import math

import pytest
import torch
from kornia.filters import canny, gaussian_blur2d

from textinpaint.errors import UserError
from textinpaint.losses.adversarial import feature_matching_l1, get_gan_loss
from textinpaint.losses.damsm import hole_word_demand, swap_word_demand, word_demand_loss
from textinpaint.losses.reconstruction import (
    chroma_l1,
    masked_l1,
    multiscale_l1,
    raw_completion_l1,
    seam_l1,
    seam_weights,
    text_guided_attention_loss,
)
from textinpaint.losses.structure import (
    edge_priority_map,
    pyramid_structure_loss,
    sobel_gradients,
    track_weak_edges,
)
from textinpaint.nn.fusion import resize_image


def half_mask(size=8):
    mask = torch.zeros(2, 1, size, size)
    mask[:, :, : size // 4] = 1  # a quarter of the image is hole
    return mask


def test_masked_l1_weights_each_region_by_its_own_area():
    target = torch.zeros(2, 3, 8, 8)
    pred = torch.full_like(target, 0.5)
    pred[:, :, :2] = 0.25  # error 0.25 in the hole, 0.5 in the known region
    mask = half_mask()
    loss = masked_l1(pred, target, mask, hole_weight=6.0, valid_weight=1.0)
    assert torch.isclose(loss, torch.tensor(6 * 0.25 + 0.5))
    empty = masked_l1(pred, target, torch.zeros_like(mask), hole_weight=6.0)
    assert torch.isclose(empty, torch.tensor(0.5 * 48 / 64 + 0.25 * 16 / 64))
    full = masked_l1(pred, target, torch.ones_like(mask), hole_weight=2.0, valid_weight=3.0)
    assert torch.isfinite(full) and torch.isclose(
        full, torch.tensor(2 * (0.5 * 48 / 64 + 0.25 * 16 / 64))
    )


def test_masked_l1_per_image_weighs_small_holes_like_large_ones():
    target = torch.zeros(2, 1, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[0, 0, 0, 0] = 1  # image 0: a one-pixel hole filled with error 1
    mask[1, 0, :2, :2] = 1  # image 1: a four-pixel hole filled exactly
    pred = target.clone()
    pred[0, 0, 0, 0] = 1.0
    by_pixels = masked_l1(pred, target, mask, valid_weight=0.0)
    by_images = masked_l1(pred, target, mask, valid_weight=0.0, per_image=True)
    assert torch.isclose(by_pixels, torch.tensor(1 / 5))
    assert torch.isclose(by_images, torch.tensor((1 + 0) / 2))
    # no hole in one image: its hole term is 0, its known pixels still count
    pred[1] = 0.5
    mask[1] = 0
    both = masked_l1(pred, target, mask, hole_weight=1.0, valid_weight=1.0, per_image=True)
    assert torch.isclose(both, torch.tensor((1 + 0) / 2 + (0 + 0.5) / 2))


def test_multiscale_l1_compares_each_scale_to_the_resized_target():
    target = torch.rand(2, 3, 16, 16) * 2 - 1
    scales = [resize_image(target, (s, s)) for s in (4, 8, 16)]
    assert multiscale_l1(scales, target) == 0
    shifted = [s + 0.3 for s in scales]
    assert torch.isclose(multiscale_l1(shifted, target), torch.tensor(0.3))


def test_raw_completion_l1_counts_only_each_scales_hole():
    target = torch.zeros(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :2, :2] = 1  # one pixel of the 4×4 scale, four of the 8×8 scale
    raws = [torch.full((1, 3, 4, 4), 0.2), torch.full((1, 3, 8, 8), 0.6)]
    raws[0][..., 1:, 1:] = 9.0  # errors outside the hole cost nothing
    raws[1][..., 4:, 4:] = 9.0
    assert torch.isclose(raw_completion_l1(raws, target, mask), torch.tensor(0.4))
    assert raw_completion_l1(raws, target, torch.zeros_like(mask)) == 0


def test_seam_weights_fall_from_the_rim_and_are_zero_outside_the_hole():
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    w = seam_weights(mask, 2.0)
    assert w[mask == 0].abs().max() == 0
    assert torch.allclose(w[0, 0, 8, 8:24], torch.ones(16))  # the rim weighs fully
    assert w[0, 0, 9, 12] == pytest.approx(math.exp(-0.5))
    assert w[0, 0, 16, 16] == 0  # 8 px in: beyond the cut-off at 3 * scale


def test_seam_l1_sees_rim_errors_but_hardly_the_inside_of_a_large_hole():
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 8:56, 8:56] = 1
    target = torch.zeros(1, 3, 64, 64)
    inside = target.clone()
    inside[..., 20:44, 20:44] = 1.0  # wrong deep inside the hole only
    rim = target.clone()
    rim[..., 8:10, 8:56] = 1.0  # wrong on two rows at the hole's edge
    assert seam_l1(inside, target, mask, 4.0) < 1e-6
    # the rim error weighs more than twice what the plain hole L1 gives it
    assert seam_l1(rim, target, mask, 4.0) > 2 * masked_l1(rim, target, mask, 1.0, 0.0)
    # a thin stroke is all rim: every pixel of it counts fully
    stroke = torch.zeros(1, 1, 64, 64)
    stroke[..., 30:32, 4:60] = 1
    assert seam_l1(torch.ones(1, 3, 64, 64), target, stroke, 4.0) == pytest.approx(1.0)
    assert seam_l1(target, target, torch.zeros_like(stroke), 4.0) == 0


def test_text_guided_attention_loss():
    target = torch.zeros(2, 3, 8, 8)
    pred = torch.full_like(target, 0.5, requires_grad=True)
    # Word 0 looks at the left half only, word 1 (padding for image 1) everywhere.
    attn = torch.zeros(2, 2, 4, 4)
    attn[:, 0, :, :2] = 1
    attn[:, 1] = 5.0
    word_mask = torch.tensor([[True, False], [True, False]])
    loss = text_guided_attention_loss(pred, target, attn, word_mask)
    # w is 1 on the left half after bilinear upsampling except a blurred border column pair.
    w = torch.nn.functional.interpolate(attn[:, :1], size=(8, 8), mode="bilinear")
    assert torch.isclose(loss, (0.5 * w).mean())
    loss.backward()
    assert pred.grad.abs().sum() > 0
    # Uniform attention over real words: plain L1.
    uniform = text_guided_attention_loss(pred, target, torch.full((2, 3, 4, 4), 1 / 16))
    assert torch.isclose(uniform, torch.tensor(0.5))


@pytest.mark.parametrize("attn", [torch.zeros(2, 0, 4, 4), None, torch.rand(2, 3, 4, 4)])
def test_text_guided_attention_loss_is_zero_without_words(attn):
    pred, target = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    word_mask = torch.zeros(2, 0 if attn is None else attn.shape[1], dtype=torch.bool)
    loss = text_guided_attention_loss(pred, target, attn, word_mask)
    assert loss == 0 and torch.isfinite(loss)


def test_sobel_gradients_of_a_ramp():
    ramp = torch.linspace(-1, 1, 8).expand(1, 3, 8, 8)
    grad = sobel_gradients(ramp)
    assert grad.shape == (1, 6, 8, 8)
    inner = grad[..., 1:-1, 1:-1]
    assert torch.allclose(inner[:, 0::2], torch.full_like(inner[:, 0::2], 2 / 7), atol=1e-6)
    assert torch.allclose(inner[:, 1::2], torch.zeros_like(inner[:, 1::2]), atol=1e-6)


def test_edge_priority_map():
    flat = torch.zeros(1, 3, 16, 16)
    assert edge_priority_map(flat).abs().sum() == 0
    step = flat.clone()
    step[..., 8:] = 1
    edges = edge_priority_map(step)
    assert edges.shape == (1, 1, 16, 16) and edges.max() == 1 and edges.min() >= 0
    assert edges[..., 7:9].mean() > edges[..., :3].mean()


def test_pyramid_structure_loss():
    target = torch.zeros(2, 3, 32, 32)
    target[..., 10:20, 5:25] = 1
    preds = [sobel_gradients(resize_image(target, (s, s))) for s in (4, 8, 16)]
    assert pyramid_structure_loss(preds, target) == 0
    assert pyramid_structure_loss([], target) == 0
    noisy = [(p + 0.1).requires_grad_(True) for p in preds]
    loss = pyramid_structure_loss(noisy, target)
    loss.backward()
    assert loss > 0.1 * 0.1 and all(p.grad.abs().sum() > 0 for p in noisy)


def test_ralsgan_on_constant_logits():
    d_loss, g_loss = get_gan_loss("ralsgan")
    real, fake = torch.full((2, 1, 3, 3), 2.0), torch.full((2, 1, 3, 3), -1.0)
    assert d_loss(real, fake) == 4.0  # ((2 + 1 - 1)² + (-1 - 2 + 1)²) / 2
    assert g_loss(real, fake) == 16.0  # ((-1 - 2 - 1)² + (2 + 1 + 1)²) / 2
    assert d_loss(torch.ones(4), torch.zeros(4)) == 0
    assert g_loss(torch.zeros(4), torch.ones(4)) == 0


def test_hinge_on_constant_logits():
    d_loss, g_loss = get_gan_loss("hinge")
    real, fake = torch.full((4,), 0.5), torch.full((4,), -0.5)
    assert d_loss(real, fake) == 1.0
    assert g_loss(real, fake) == 0.5
    assert d_loss(torch.full((4,), 2.0), torch.full((4,), -3.0)) == 0


def test_feature_matching_is_zero_on_the_photo_and_pulls_only_the_fill():
    torch.manual_seed(0)
    real = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)]
    assert feature_matching_l1([r.clone() for r in real], real) == 0
    fake = [(r + 0.5).requires_grad_(True) for r in real]
    loss = feature_matching_l1(fake, real)
    # each layer's mean |difference| relative to its real activations' scale, averaged
    assert loss.item() == pytest.approx(sum(0.5 / r.abs().mean() for r in real).item() / 2)
    assert feature_matching_l1([10 * f for f in fake], [10 * r for r in real]).item() == \
        pytest.approx(loss.item())  # the discriminator's scale does not matter
    loss.backward()
    assert all(f.grad is not None and (f.grad > 0).all() for f in fake)
    with pytest.raises(ValueError, match="differ"):
        feature_matching_l1(fake[:1], real)


def test_unknown_gan_loss_is_a_user_error():
    with pytest.raises(UserError, match="ralsgan"):
        get_gan_loss("wgan")


def test_hole_word_demand_finds_the_word_of_the_hidden_region():
    # Two regions side by side (1×2 grid); word 0 matches the left one, word 1 the right one.
    local = torch.zeros(1, 2, 1, 2)
    local[0, 0, 0, 0] = local[0, 1, 0, 1] = 4.0
    words = torch.eye(2)[None]  # B×D×T: word t is axis t
    words = torch.cat([words, torch.zeros(1, 2, 1)], dim=2)  # a padding word
    word_mask = torch.tensor([[True, True, False]])
    left = torch.zeros(1, 1, 8, 16)
    left[..., :8] = 1
    target = hole_word_demand(local, words, word_mask, left)
    assert target[0, 2] == 0 and target.sum() == pytest.approx(1.0)
    assert target[0, 0] > 0.9 > 0.1 > target[0, 1]
    assert hole_word_demand(local, words, word_mask, left.flip(-1))[0, 1] > 0.9
    # The loss is 0 at the target and grows away from it; no valid caption gives 0.
    assert word_demand_loss(target, target, word_mask) == pytest.approx(0, abs=1e-5)
    wrong = torch.tensor([[0.1, 0.9, 0.0]])
    assert word_demand_loss(wrong, target, word_mask) > 1.0
    assert word_demand_loss(wrong, target, torch.tensor([[True, False, False]])) == 0


def test_contrast_word_demand_discounts_words_every_region_is_about():
    # Three regions in a row; word 0 ("a") matches all of them alike, word 1 only the left one
    # (the hole), word 2 only the others. p(word | hole) favours word 0, the contrast word 1.
    local = torch.zeros(1, 3, 1, 3)
    local[0, 0] = 3.0
    local[0, 1, 0, 0] = 2.5
    local[0, 2, 0, 1:] = 3.0
    words = torch.eye(3)[None]
    word_mask = torch.tensor([[True, True, True]])
    left = torch.zeros(1, 1, 6, 18)
    left[..., :6] = 1
    plain = hole_word_demand(local, words, word_mask, left)
    contrast = hole_word_demand(local, words, word_mask, left, target="contrast")
    assert plain[0].argmax() == 0 and contrast[0].argmax() == 1
    assert contrast.sum() == pytest.approx(1.0)
    # A hole over the whole image has no context to contrast with: p(word | hole) is kept.
    whole = torch.ones(1, 1, 6, 18)
    assert torch.allclose(hole_word_demand(local, words, word_mask, whole, target="contrast"),
                          hole_word_demand(local, words, word_mask, whole))
    with pytest.raises(ValueError, match="contrast"):
        hole_word_demand(local, words, word_mask, left, target="ratio")


def test_swap_word_demand_moves_target_to_the_swapped_words_by_the_recoloured_share():
    target = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.4, 0.4, 0.2, 0.0]])
    word_mask = torch.tensor([[True, True, True, False]] * 2)
    swapped = torch.tensor([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    out = swap_word_demand(target, swapped, torch.tensor([0.25, 0.9]), word_mask, 2.0)
    # Half of row 0 moves to its swapped word; row 1 has none and stays as it was.
    assert out[0].tolist() == pytest.approx([0.25, 0.15, 0.6, 0.0])
    assert torch.equal(out[1], target[1])
    # The share saturates: a wholly recoloured hole needs only its colour word.
    full = swap_word_demand(target, swapped, torch.tensor([1.0, 0.0]), word_mask, 2.0)
    assert full[0].tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0])
    # A swapped word past the caption's end (truncated) counts for nothing.
    past = swap_word_demand(target, torch.tensor([[0.0, 0.0, 0.0, 1.0]] * 2),
                            torch.ones(2), word_mask, 2.0)
    assert torch.equal(past, target)


def test_chroma_l1_weighs_hue_in_the_hole_not_lightness_or_texture():
    g = torch.Generator().manual_seed(0)
    photo = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., :16, 4:32] = 1  # one cell of 16 px all hole, one three quarters
    assert chroma_l1(photo, photo, mask) == pytest.approx(0, abs=1e-6)
    # Zero-mean noise (texture) leaves each 16-px cell's mean chroma nearly as it was...
    noise = photo + 0.1 * torch.randn(photo.shape, generator=g)
    recoloured = photo.clone()
    recoloured[:, 0] = recoloured[:, 0] + 0.5  # ...a redder hole does not
    assert chroma_l1(noise, photo, mask) < 0.02 < 0.1 < chroma_l1(recoloured, photo, mask)
    # The known region and cells mostly outside the hole are not compared.
    outside = photo.clone()
    outside[..., 16:, :] = 1.0  # the known half
    outside[..., :8, :4] = 1.0  # the known quarter of the first cell
    assert chroma_l1(outside, photo, mask) == pytest.approx(0, abs=1e-6)
    speck = torch.zeros_like(mask)
    speck[..., 16:20, :4] = 1  # a sixteenth of its cell: too little to judge its colour
    assert chroma_l1(recoloured, photo, speck) == 0


def test_weak_edge_tracking_matches_kornias_hysteresis():
    # Blurred noise: long chains of weak edges, some reaching a strong one, some not.
    grey = gaussian_blur2d(torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(0)),
                           (7, 7), (2.0, 2.0))
    grey = (grey - grey.amin()) / (grey.amax() - grey.amin())
    _, expected = canny(grey, low_threshold=0.05, high_threshold=0.15)
    split = canny(grey, low_threshold=0.05, high_threshold=0.15, hysteresis=False)[1]
    assert (split == 0.5).sum() > (expected - (split == 1).float()).sum() > 0  # some joined
    assert torch.equal(track_weak_edges(split), expected)
