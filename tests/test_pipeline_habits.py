"""The Python API's diffusers habits and the rough edges of issue 28: names, devices,
output types, diffusion-only arguments, caption warnings, the mask-size rule, grey in / grey
out, the feathered seam and the high-resolution strategies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers_inference import box_mask, noise_image
from textinpaint.caption_check import CaptionWarning, caption_warnings
from textinpaint.errors import UserError
from textinpaint.pipeline import InpaintPipeline


def smooth(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([60 + 120 * x / width, 80 + 100 * y / height, 150 + 0 * x], -1)
    return rgb.astype(np.uint8)


def test_a_shipped_name_loads_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipe = InpaintPipeline.from_pretrained("shapes-64")
    assert pipe.resolution == 64
    assert InpaintPipeline.from_pretrained("models/shapes-64").resolution == 64


def test_to_moves_and_refuses_a_missing_gpu(tiny_pipe, monkeypatch):
    assert tiny_pipe.to("cpu") is tiny_pipe and tiny_pipe.device.type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="device 'cuda'.*no usable CUDA.*--device cpu"):
        tiny_pipe.to("cuda")
    with pytest.raises(UserError, match="unknown device"):
        tiny_pipe.to("gpu0")


def test_num_images_per_prompt_and_output_types(tiny_pipe):
    image, hole = noise_image(40, 30), box_mask(40, 30, (10, 10, 30, 20))
    out = tiny_pipe(prompt=["red", "blue"], image=image, mask_image=hole,
                    num_images_per_prompt=2, output_type="np")
    assert out.images.shape == (4, 30, 40, 3) and out.images.dtype == np.float32
    assert 0 <= out.images.min() and out.images.max() <= 1
    np.testing.assert_array_equal(out.images[0], out.images[1])  # deterministic
    pt = tiny_pipe(prompt="red", image=image, mask_image=hole, output_type="pt").images
    assert tuple(pt.shape) == (1, 3, 30, 40)
    with pytest.raises(UserError, match="output_type"):
        tiny_pipe(prompt="red", image=image, mask_image=hole, output_type="latent")


@pytest.mark.parametrize("name", ["num_inference_steps", "strength", "negative_prompt"])
def test_diffusion_arguments_get_a_sentence_not_a_type_error(tiny_pipe, name):
    image, hole = noise_image(20, 20), box_mask(20, 20, (5, 5, 15, 15))
    with pytest.raises(UserError, match=f"'{name}' is a diffusion-sampling argument.*GAN"):
        tiny_pipe(prompt="red", image=image, mask_image=hole, **{name: 7.5})
    with pytest.raises(TypeError, match="unexpected keyword"):
        tiny_pipe(prompt="red", image=image, mask_image=hole, colour="red")


def test_guidance_scale_extrapolates_from_the_empty_caption_inside_the_hole_only(tiny_pipe):
    image, hole = noise_image(32, 32), box_mask(32, 32, (6, 6, 26, 26))
    inside = hole  # bool H×W, True in the hole

    def fill(prompt, **kw):
        return tiny_pipe(prompt=prompt, image=image, mask_image=hole, output_type="np",
                         **kw).images[0]

    plain, empty = fill("a red circle"), fill("")
    np.testing.assert_array_equal(fill("a red circle", guidance_scale=1.0), plain)
    np.testing.assert_allclose(fill("a red circle", guidance_scale=0.0), empty, atol=1 / 255)
    strong = fill("a red circle", guidance_scale=2.0)
    np.testing.assert_array_equal(strong[~inside], plain[~inside])  # known pixels kept
    # Twice the caption's effect (up to 8-bit rounding and the clip to [0, 1]).
    expected = np.clip(empty + 2.0 * (plain - empty), 0, 1)
    assert np.abs(strong - expected)[inside].mean() < 2 / 255
    assert np.abs(strong - empty)[inside].mean() > np.abs(plain - empty)[inside].mean()
    for bad in (-0.5, 9.0, float("nan"), "lots", True):
        with pytest.raises(UserError, match="guidance_scale must be a number from 0 to 4"):
            fill("a red circle", guidance_scale=bad)


def test_caption_warnings_name_unknown_cut_and_unreadable_words(tiny_pipe):
    vocab, limit = tiny_pipe.model.vocab, tiny_pipe.model.max_len
    assert caption_warnings("a red circle", vocab, limit) == []
    (unknown,) = caption_warnings("a red zebra", vocab, limit)
    assert "'zebra'" in unknown and "ignored" in unknown
    long = " ".join(["red"] * limit + ["circle", "square"])
    assert "reads only the first" in caption_warnings(long, vocab, limit)[0]
    assert "'circle', 'square'" in caption_warnings(long, vocab, limit)[0]
    assert "no word the model can read" in caption_warnings("🐦 鳥", vocab, limit)[0]
    assert "cannot guide the fill" in caption_warnings("zebra giraffe", vocab, limit)[0]
    image, hole = noise_image(20, 20), box_mask(20, 20, (5, 5, 15, 15))
    with pytest.warns(CaptionWarning, match="zebra"):
        out = tiny_pipe(prompt="a red zebra", image=image, mask_image=hole)
    assert "zebra" in out.warnings[0][0]


def test_one_mask_size_rule(tiny_pipe):
    image = noise_image(40, 30)
    half = box_mask(20, 15, (5, 5, 15, 10))
    with pytest.raises(UserError, match="the mask is 20×15 but the image is 40×30.*resize_mask"):
        tiny_pipe(prompt="", image=image, mask_image=half)
    with pytest.warns(UserWarning, match="stretched to the image's 40×30"):
        out = tiny_pipe(prompt="", image=image, mask_image=half, resize_mask=True)
    hole = box_mask(40, 30, (10, 10, 30, 20))
    np.testing.assert_array_equal(np.asarray(out.images[0])[~hole], image[~hole])


def test_grey_in_grey_out(tiny_pipe):
    grey = Image.fromarray(noise_image(48, 40, channels=1), mode="L")
    hole = box_mask(48, 40, (10, 10, 38, 30))
    out = np.asarray(tiny_pipe(prompt="a red circle", image=grey, mask_image=hole).images[0])
    assert out.shape == (40, 48, 3)
    spread = out.max(axis=2).astype(int) - out.min(axis=2)
    assert spread.max() == 0, f"colour spread {spread.max()} in a greyscale photo"
    # a black-and-white photo stored as an RGB JPEG (channels a level apart) is grey too
    rgb_jpeg = np.repeat(noise_image(48, 40, channels=1)[..., None], 3, axis=2)
    rgb_jpeg[::2, :, 0] = np.clip(rgb_jpeg[::2, :, 0].astype(int) + 1, 0, 255)
    out = np.asarray(tiny_pipe(prompt="a red circle", image=rgb_jpeg,
                               mask_image=hole).images[0]).astype(int)
    assert (out.max(axis=2) - out.min(axis=2))[hole].max() == 0
    colour = np.asarray(tiny_pipe(prompt="a red circle", image=noise_image(48, 40),
                                  mask_image=hole).images[0]).astype(int)
    assert (colour.max(axis=2) - colour.min(axis=2))[hole].max() > 0  # colour stays colour


def seam(result: np.ndarray, hole: np.ndarray) -> float:
    """Mean absolute step between each border hole pixel and its known neighbour."""
    steps = []
    for axis in (0, 1):
        for shift in (1, -1):
            known = np.roll(~hole, shift, axis=axis)
            border = hole & known
            neighbour = np.roll(result.astype(int), shift, axis=axis)
            steps.append(np.abs(result.astype(int) - neighbour)[border])
    return float(np.concatenate(steps).mean())


def test_feathered_band_softens_the_seam_and_keeps_known_pixels(tiny_pipe):
    image = smooth(400, 300)
    hole = box_mask(400, 300, (100, 75, 300, 225))
    hard = np.asarray(tiny_pipe(prompt="", image=image, mask_image=hole, feather=0).images[0])
    soft = np.asarray(tiny_pipe(prompt="", image=image, mask_image=hole).images[0])
    for result in (hard, soft):
        np.testing.assert_array_equal(result[~hole], image[~hole])
    assert seam(soft, hole) < 0.5 * seam(hard, hole)
    deep = box_mask(400, 300, (160, 135, 240, 165))  # far from the border: the model's fill
    np.testing.assert_array_equal(soft[deep], hard[deep])


def run_sides(pipe, monkeypatch, **kwargs) -> list[int]:
    sides = []
    real = pipe._run

    def spy(model, jobs, prompts):
        sides.extend(j.image.shape[0] for j in jobs)
        return real(model, jobs, prompts)

    monkeypatch.setattr(pipe, "_run", spy)
    image, hole = noise_image(200, 150), box_mask(200, 150, (20, 20, 40, 40))
    hole |= box_mask(200, 150, (150, 100, 170, 120))
    out = np.asarray(pipe(prompt="", image=image, mask_image=hole, **kwargs).images[0])
    np.testing.assert_array_equal(out[~hole], image[~hole])
    monkeypatch.undo()
    return sides


def test_high_resolution_strategies(tiny_pipe, monkeypatch):
    assert run_sides(tiny_pipe, monkeypatch) == [32, 32]  # crop: a window per hole, at 32
    assert run_sides(tiny_pipe, monkeypatch, hd_strategy="resize") == [32]  # whole image
    assert run_sides(tiny_pipe, monkeypatch, hd_strategy="original") == [64, 64]  # 40 -> 64
    with pytest.raises(UserError, match="hd_strategy"):
        run_sides(tiny_pipe, monkeypatch, hd_strategy="tile")
