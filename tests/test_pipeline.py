"""InpaintPipeline: window planning, exact compositing at any size and mode, batches,
attention maps, empty masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers_inference import box_mask, noise_image
from textinpaint.data.text import tokenize
from textinpaint.errors import UserError
from textinpaint.windows import crop, plan_windows, window_for_box

R = 32  # the tiny model's resolution


# ------------------------------------------------------------------ windows (no model)

def _check_plan(hole: np.ndarray, min_side: int = R):
    windows = plan_windows(hole, min_side)
    height, width = hole.shape
    covered = np.zeros_like(hole, dtype=int)
    for w in windows:
        x0, y0, x1, y1 = w.clipped(width, height)
        covered[y0:y1, x0:x1] += 1
        assert w.side >= min(min_side, max(width, height))
        # inside the image wherever the image is long enough
        if width >= w.side:
            assert 0 <= w.x0 and w.x0 + w.side <= width
        if height >= w.side:
            assert 0 <= w.y0 and w.y0 + w.side <= height
    assert (covered <= 1).all(), "windows overlap"
    assert (covered[hole] == 1).all(), "a hole pixel is outside every window"
    return windows


def test_far_apart_holes_get_their_own_windows():
    hole = box_mask(400, 300, (10, 10, 30, 30), (350, 250, 380, 290))
    windows = _check_plan(hole)
    assert len(windows) == 2


def test_close_holes_share_one_window():
    hole = box_mask(400, 300, (100, 100, 140, 140), (150, 100, 190, 140))
    assert len(_check_plan(hole)) == 1


def test_window_grows_the_hole_and_respects_the_model_resolution():
    w = window_for_box((100, 100, 140, 120), 400, 300, min_side=R)
    assert w.side == 80  # 40 px hole side, grown by 50 % each way
    assert window_for_box((100, 100, 104, 104), 400, 300, min_side=R).side == R


@pytest.mark.parametrize("seed", range(8))
def test_random_masks_are_covered_by_disjoint_windows(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(5, 300, 2)
    hole = rng.random((height, width)) > 0.995
    hole[rng.integers(0, height), rng.integers(0, width)] = True
    _check_plan(hole, min_side=int(rng.choice([8, 32, 128])))


def test_crop_pads_by_reflection_where_the_image_is_short():
    image = np.arange(10 * 4).reshape(10, 4)  # 4 wide, 10 tall
    window = window_for_box((1, 2, 3, 5), 4, 10, min_side=8)
    assert window.side == 8 and window.x0 < 0
    patch = crop(image, window)
    assert patch.shape == (8, 8)
    inside = patch[:, -window.x0:-window.x0 + 4]
    np.testing.assert_array_equal(inside, image[window.y0:window.y0 + 8])


def test_one_pixel_wide_image_is_padded_too():
    window = window_for_box((0, 3, 1, 5), 1, 9, min_side=8)
    assert crop(np.ones((9, 1, 3)), window).shape == (8, 8, 3)


# ------------------------------------------------------------------ the pipeline

def _assert_known_exact(out: np.ndarray, image: np.ndarray, hole: np.ndarray):
    assert out.shape[:2] == hole.shape
    np.testing.assert_array_equal(out[~hole], image[~hole])


def test_odd_size_rgb_composite_is_exact(tiny_pipe):
    image, hole = noise_image(333, 517), box_mask(333, 517, (100, 200, 180, 260))
    out = tiny_pipe(prompt="this bird has a red crown", image=Image.fromarray(image),
                    mask_image=Image.fromarray(hole.astype(np.uint8) * 255))
    result = np.asarray(out.images[0])
    assert out.images[0].mode == "RGB" and out.images[0].size == (333, 517)
    _assert_known_exact(result, image, hole)
    assert (result[hole] != image[hole]).any()


def test_greyscale_input_comes_back_rgb_with_the_grey_replicated(tiny_pipe):
    grey, hole = noise_image(101, 77, channels=1), box_mask(101, 77, (40, 30, 60, 50))
    out = tiny_pipe(prompt="a bird", image=Image.fromarray(grey), mask_image=hole).images[0]
    assert out.mode == "RGB"
    _assert_known_exact(np.asarray(out), np.repeat(grey[:, :, None], 3, axis=2), hole)


def test_rgba_input_keeps_its_alpha(tiny_pipe):
    rgba, hole = noise_image(90, 64, channels=4), box_mask(90, 64, (10, 10, 30, 40))
    out = tiny_pipe(prompt="a bird", image=Image.fromarray(rgba), mask_image=hole).images[0]
    assert out.mode == "RGBA"
    result = np.asarray(out)
    np.testing.assert_array_equal(result[:, :, 3], rgba[:, :, 3])
    _assert_known_exact(result, rgba, hole)


def test_several_far_apart_holes_are_all_filled(tiny_pipe):
    boxes = [(5, 5, 25, 25), (300, 20, 330, 40), (150, 400, 170, 500), (200, 200, 201, 201)]
    image, hole = noise_image(333, 517), box_mask(333, 517, *boxes)
    result = np.asarray(tiny_pipe(prompt="a bird", image=image, mask_image=hole).images[0])
    _assert_known_exact(result, image, hole)
    for x0, y0, x1, y1 in boxes:
        assert (result[y0:y1, x0:x1] != image[y0:y1, x0:x1]).any()


def test_numpy_and_torch_inputs(tiny_pipe):
    image, hole = noise_image(48, 40), box_mask(48, 40, (10, 10, 20, 20))
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    by_tensor = tiny_pipe(prompt="a bird", image=tensor, mask_image=torch.from_numpy(hole))
    by_numpy = tiny_pipe(prompt="a bird", image=image, mask_image=hole.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(by_tensor.images[0]), np.asarray(by_numpy.images[0]))
    _assert_known_exact(np.asarray(by_numpy.images[0]), image, hole)


def test_image_smaller_than_the_model_resolution(tiny_pipe):
    image, hole = noise_image(20, 13), box_mask(20, 13, (5, 4, 9, 8))
    result = np.asarray(tiny_pipe(prompt="", image=image, mask_image=hole).images[0])
    _assert_known_exact(result, image, hole)


def test_batches_of_images_and_prompts(tiny_pipe):
    images = [noise_image(64, 64, seed=1), noise_image(120, 50, seed=2)]
    holes = [box_mask(64, 64, (20, 20, 40, 40)), box_mask(120, 50, (60, 10, 90, 30))]
    out = tiny_pipe(prompt=["a red bird", "a blue bird"], image=images, mask_image=holes)
    assert [im.size for im in out.images] == [(64, 64), (120, 50)]
    for result, image, hole in zip(out.images, images, holes):
        _assert_known_exact(np.asarray(result), image, hole)
    one = tiny_pipe(prompt="a blue bird", image=images[1], mask_image=holes[1]).images[0]
    # batched convolutions may round differently: equal up to one grey level
    diff = np.abs(np.asarray(one, np.int16) - np.asarray(out.images[1], np.int16))
    assert diff.max() <= 1
    variants = tiny_pipe(prompt=["a", "b", "c"], image=images[0], mask_image=holes[0])
    assert len(variants.images) == 3
    with pytest.raises(UserError, match="entries"):
        tiny_pipe(prompt=["a", "b"], image=images * 3, mask_image=holes[0])


def test_attention_maps_cover_the_image_and_vanish_outside_the_windows(tiny_pipe):
    image, hole = noise_image(200, 150), box_mask(200, 150, (20, 20, 30, 30), (170, 120, 190, 140))
    prompt = "this bird has a bright red crown"
    out = tiny_pipe(prompt=prompt, image=image, mask_image=hole, return_attention=True)
    entries = out.attention[0]
    assert [e["word"] for e in entries] == tokenize(prompt)
    inside = np.zeros(hole.shape, bool)
    for w in plan_windows(hole, R):
        x0, y0, x1, y1 = w.clipped(200, 150)
        inside[y0:y1, x0:x1] = True
    for e in entries:
        assert e["map"].shape == (150, 200) and e["map"].dtype == np.float32
        assert (e["map"][~inside] == 0).all() and e["map"][inside].max() > 0
        assert np.isfinite(e["weight"])
    assert tiny_pipe(prompt=prompt, image=image, mask_image=hole).attention is None


def test_empty_mask_returns_the_input(tiny_pipe):
    image = noise_image(50, 30)
    out = tiny_pipe(prompt="a bird", image=image, mask_image=np.zeros((30, 50), bool),
                    return_attention=True)
    np.testing.assert_array_equal(np.asarray(out.images[0]), image)
    assert out.attention == [[]]


def test_mask_of_another_size_is_refused(tiny_pipe):
    with pytest.raises(UserError, match="the mask is 10×10 but the image is 20×20"):
        tiny_pipe(prompt="a", image=noise_image(20, 20), mask_image=np.ones((10, 10), bool))


def test_generator_is_accepted_and_the_result_is_deterministic(tiny_pipe):
    image, hole = noise_image(40, 40), box_mask(40, 40, (10, 10, 30, 30))
    a = tiny_pipe(prompt="a bird", image=image, mask_image=hole,
                  generator=torch.Generator().manual_seed(0)).images[0]
    b = tiny_pipe(prompt="a bird", image=image, mask_image=hole,
                  generator=torch.Generator().manual_seed(1)).images[0]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sixteen_bit_greyscale_is_scaled_to_eight_bits(tiny_pipe):
    grey16 = (noise_image(40, 30, channels=1).astype(np.uint16) * 257)
    hole = box_mask(40, 30, (10, 10, 20, 20))
    out = tiny_pipe(prompt="a bird", image=Image.fromarray(grey16), mask_image=hole).images[0]
    expected = np.repeat((grey16 // 257).astype(np.uint8)[:, :, None], 3, axis=2)
    _assert_known_exact(np.asarray(out), expected, hole)


# ------------------------------------------------------------------ flip self-ensemble

def test_flip_ensemble_is_the_mean_of_the_fill_and_its_mirrored_fill(tiny_pipe):
    import dataclasses

    plain = tiny_pipe.model
    flip = dataclasses.replace(plain, flip_ensemble=True)
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, R, R, generator=gen) * 2 - 1
    mask = torch.zeros(2, 1, R, R)
    mask[0, :, 8:20, 4:14] = 1
    mask[1, :, 20:30, 10:28] = 1
    captions = ["a red circle on the left", "a blue square at the right of a circle"]
    tokens, lengths = plain.encode_text(captions)
    out = flip(image, mask, tokens, lengths)
    direct = plain(image, mask, tokens, lengths)
    # The mirror pass reads the caption of the mirror image: left and right swapped.
    mirror_tokens, _ = plain.encode_text(["a red circle on the right",
                                          "a blue square at the left of a circle"])
    assert "left" in plain.vocab and "right" in plain.vocab
    assert torch.equal(plain.mirror_tokens(tokens), mirror_tokens)
    assert not torch.equal(tokens, mirror_tokens)
    mirrored = plain(image.flip(-1), mask.flip(-1), mirror_tokens, lengths)
    torch.testing.assert_close(out["final"], (direct["final"] + mirrored["final"].flip(-1)) / 2)
    torch.testing.assert_close(out["word_weights"],
                               (direct["word_weights"] + mirrored["word_weights"]) / 2)
    assert not torch.allclose(out["final"], direct["final"])  # the mirror pass counts
    known = (1 - mask).expand_as(image).bool()
    torch.testing.assert_close(out["final"][known], image[known])
    assert flip.name == plain.name + "+flip"


def test_flip_ensemble_of_a_mirror_symmetric_input_is_exactly_symmetric(tiny_pipe):
    import dataclasses

    flip = dataclasses.replace(tiny_pipe.model, flip_ensemble=True)
    half = torch.rand(1, 3, R, R // 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    image = torch.cat([half, half.flip(-1)], dim=-1)
    mask = torch.zeros(1, 1, R, R)
    mask[..., 6:26, 9:23] = 1
    tokens, lengths = flip.encode_text(["a white circle in the centre"])
    out = flip(image, mask, tokens, lengths)
    torch.testing.assert_close(out["final"], out["final"].flip(-1), rtol=0, atol=0)
    torch.testing.assert_close(out["word_attention"], out["word_attention"].flip(-1),
                               rtol=0, atol=0)


@pytest.mark.parametrize("option, suffix", [("flip_ensemble", "+flip"), ("seam", "+seam")])
def test_inference_option_keeps_known_pixels_and_is_chosen_per_call(tiny_model_dir, tiny_pipe,
                                                                    option, suffix):
    from textinpaint.pipeline import InpaintPipeline

    pipe = InpaintPipeline.from_pretrained(tiny_model_dir, **{option: True})
    image, hole = noise_image(45, 37), box_mask(45, 37, (5, 6, 30, 25))
    out = np.asarray(pipe(prompt="a bird", image=image, mask_image=hole).images[0])
    _assert_known_exact(out, image, hole)
    plain = np.asarray(tiny_pipe(prompt="a bird", image=image, mask_image=hole).images[0])
    assert (out[hole] != plain[hole]).any()
    assert pipe.name.endswith(suffix) and not tiny_pipe.name.endswith(suffix)
    # per call: the option overrides the pipeline's setting either way
    per_call = tiny_pipe(prompt="a bird", image=image, mask_image=hole, **{option: True})
    np.testing.assert_array_equal(np.asarray(per_call.images[0]), out)
    off = pipe(prompt="a bird", image=image, mask_image=hole, **{option: False})
    np.testing.assert_array_equal(np.asarray(off.images[0]), plain)


def test_a_model_folder_sets_its_own_seam_default(seam_model_dir, tiny_pipe):
    """config.json's inference.seam is what a caller gets unless the call or the loader
    says otherwise; the same weights as the folder without it."""
    from textinpaint.pipeline import InpaintPipeline

    image, hole = noise_image(45, 37), box_mask(45, 37, (5, 6, 30, 25))
    pipe = InpaintPipeline.from_pretrained(seam_model_dir)
    assert pipe.model.seam is not None and pipe.name == "tiny+seam"
    out = np.asarray(pipe(prompt="a bird", image=image, mask_image=hole).images[0])
    seamed = tiny_pipe(prompt="a bird", image=image, mask_image=hole, seam=True)
    np.testing.assert_array_equal(out, np.asarray(seamed.images[0]))
    plain = np.asarray(tiny_pipe(prompt="a bird", image=image, mask_image=hole).images[0])
    off = pipe(prompt="a bird", image=image, mask_image=hole, seam=False)
    np.testing.assert_array_equal(np.asarray(off.images[0]), plain)
    assert InpaintPipeline.from_pretrained(seam_model_dir, seam=False).model.seam is None


def test_both_inference_options_at_once(tiny_pipe):
    both = tiny_pipe.model_for(True, True)
    assert both.name.endswith("+flip+seam") and tiny_pipe.model_for(None, None) is tiny_pipe.model
