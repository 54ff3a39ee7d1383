"""InpaintPipeline: a model folder in; any-size image + mask + caption in; image out.

Usage, in the diffusers convention::

    from textinpaint.pipeline import InpaintPipeline
    pipe = InpaintPipeline.from_pretrained("models/birds-128")
    out = pipe(prompt="this bird has a bright red crown and a white belly",
               image=Image.open("bird.jpg"), mask_image=Image.open("hole.png"))
    out.images[0].save("filled.png")

How an image of any size is filled (see :mod:`textinpaint.windows`): every cluster of hole
pixels gets its own square window (hole bounding box grown by 50 % on each side, at least
the model's resolution where the image is large enough, shifted inside the image, reflection
padding where the image is smaller); holes whose windows would overlap share one window.
Each window is resized to the model's resolution (area for the image, any-coverage +
1-pixel dilation for the mask so no hole pixel is lost), filled, resized back (bicubic) and
pasted into the hole pixels only. Pixels outside the hole are the input's, bit for bit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from PIL import Image

from .data.text import tokenize
from .errors import UserError
from .images import Pixels, to_hole, to_pixels
from .windows import Window, crop, paste_region
from .work import WorkLimits, plan_bounded

if TYPE_CHECKING:  # imported lazily at run time (from_pretrained)
    from .model_folder import InpaintModel


@dataclass
class InpaintOutput:
    """What :class:`InpaintPipeline` returns.

    ``images``: one PIL image per input, at the input's size; RGB (greyscale inputs come back
    as RGB whose known pixels repeat the grey value in all three channels), or RGBA with the
    input's alpha unchanged when the input had transparency.

    ``attention`` (only with ``return_attention=True``): per image, one dict per caption word
    ``{"word": str, "weight": float, "map": float32 H×W}``. ``weight`` is the word-demand
    module's weight for the word (hole-area-weighted mean over the image's windows; NaN if
    the model has none); ``map`` is the word's attention over the full image (each window's
    map resized to the window, zeros outside every window). The list is empty for an empty
    mask and for models that do not read text.
    """

    images: list[Image.Image]
    attention: list[list[dict[str, Any]]] | None = field(default=None)


def _resize(array: np.ndarray, side: int) -> np.ndarray:
    """Square resize: area averaging when shrinking, bicubic when growing."""
    if array.shape[0] == side:
        return array
    shrink = side < array.shape[0]
    return cv2.resize(array, (side, side), interpolation=cv2.INTER_AREA if shrink
                      else cv2.INTER_CUBIC)


def _model_mask(hole: np.ndarray, side: int) -> np.ndarray:
    """The hole at the model's resolution: every cell a hole pixel touches, grown by one cell."""
    cover = cv2.resize(hole.astype(np.float32), (side, side),
                       interpolation=cv2.INTER_AREA if side < hole.shape[0] else cv2.INTER_LINEAR)
    return cv2.dilate((cover > 1e-6).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def _as_list(value, name: str) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 4:
        return list(value)  # a B×C×H×W (or B×H×W×C) batch
    if value is None:
        raise UserError(f"{name} is required")
    return [value]


@dataclass
class _Job:
    """One window of one image, as the model sees it."""

    index: int
    window: Window
    image: np.ndarray  # R×R×3 uint8
    mask: np.ndarray  # R×R bool
    hole_pixels: int


class InpaintPipeline:
    """Text-guided inpainting of images of any size with a textinpaint model folder."""

    def __init__(self, model, batch_size: int = 8, limits: WorkLimits | None = None):
        """Wrap a loaded :class:`~textinpaint.model_folder.InpaintModel`.

        ``batch_size`` bounds how many windows go through the network at once; ``limits``
        what one image may cost (see :mod:`textinpaint.work`; None: unbounded).
        """
        self.model = model
        self.batch_size = batch_size
        self.limits = limits

    def with_limits(self, limits: WorkLimits | None) -> InpaintPipeline:
        """The same model (shared, not copied) under other work limits."""
        return InpaintPipeline(self.model, self.batch_size, limits)

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, device: str | torch.device = "cpu",
                        flip_ensemble: bool = False, **kwargs) -> InpaintPipeline:
        """Load the model folder ``model_dir`` (as written by ``textinpaint train``).

        ``flip_ensemble=True`` fills each window and its mirror image and averages the two
        fills: twice the time, a little less error (see
        :class:`~textinpaint.model_folder.InpaintModel`).
        """
        from .model_folder import load_model

        return cls(load_model(model_dir, device, flip_ensemble), **kwargs)

    @property
    def resolution(self) -> int:
        """The side of the square the network fills."""
        return self.model.resolution

    @property
    def name(self) -> str:
        return self.model.name

    def model_for(self, flip_ensemble: bool | None) -> InpaintModel:
        """The model a call with ``flip_ensemble`` runs (None: the pipeline's own); the same
        weights either way."""
        if flip_ensemble is None or bool(flip_ensemble) == self.model.flip_ensemble:
            return self.model
        return dataclasses.replace(self.model, flip_ensemble=bool(flip_ensemble))

    def __call__(self, prompt: str | list[str] | None = None, image=None, mask_image=None,
                 generator: torch.Generator | list[torch.Generator] | None = None,
                 return_attention: bool = False,
                 flip_ensemble: bool | None = None) -> InpaintOutput:
        """Fill the white part of ``mask_image`` in ``image`` so it agrees with ``prompt``.

        Args:
            prompt: the caption, or a list of captions for a batch. Words past the model's
                maximum caption length are ignored. ``None`` or ``""`` fills from the image
                alone.
            image: a PIL image, numpy array or torch tensor (see :mod:`textinpaint.images`),
                or a list of them (a 4-D tensor/array is a batch).
            mask_image: the same kinds, same size as the image; white (> 127, or true, or
                > 0.5 for floats) marks the hole. An empty mask returns the image unchanged.
            generator: accepted for diffusers compatibility and ignored: the network runs in
                eval mode and has no sampling noise, so the output is deterministic.
            return_attention: also return per-word attention maps and weights.
            flip_ensemble: fill each window and its mirror image and average the two fills
                (twice the time, a little less error); None keeps the model's setting
                (``from_pretrained(..., flip_ensemble=...)``).

        A list of length N in any of ``prompt``, ``image``, ``mask_image`` makes a batch of
        N; single values are repeated (one image with N prompts gives N variants).
        """
        del generator  # deterministic network: nothing to seed
        model = self.model_for(flip_ensemble)
        images, masks = _as_list(image, "image"), _as_list(mask_image, "mask_image")
        prompts = [prompt] if prompt is None or isinstance(prompt, str) else list(prompt)
        n = max(len(images), len(masks), len(prompts))
        for name, values in (("image", images), ("mask_image", masks), ("prompt", prompts)):
            if len(values) not in (1, n):
                raise UserError(f"{name} has {len(values)} entries but the batch has {n}; "
                                "pass one or as many as the batch")
        pixels = [to_pixels(im) for im in images]
        holes = [to_hole(m) for m in masks]
        pixels, holes = [pixels[i % len(pixels)] for i in range(n)], \
            [holes[i % len(holes)] for i in range(n)]
        prompts = [(prompts[i % len(prompts)] or "") for i in range(n)]
        for i, (p, h) in enumerate(zip(pixels, holes)):
            if h.shape != p.rgb.shape[:2]:
                raise UserError(f"mask {i} is {h.shape[1]}×{h.shape[0]} but its image is "
                                f"{p.size[0]}×{p.size[1]}; pass a mask of the image's size")

        # Every image is planned (and refused if too costly) before any window is cut out.
        plans = [plan_bounded(h, self.resolution, self.limits,
                              "the image" if n == 1 else f"image {i}")
                 for i, h in enumerate(holes)]
        jobs = [self._job(i, p, h, w) for i, (p, h, plan) in
                enumerate(zip(pixels, holes, plans)) for w in plan]
        outputs = [p.rgb.copy() for p in pixels]
        maps = [{} for _ in range(n)]
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start:start + self.batch_size]
            result = self._run(model, chunk, [prompts[j.index] for j in chunk])
            for k, job in enumerate(chunk):
                self._paste(job, result["final"][k], outputs[job.index], holes[job.index])
                if return_attention:
                    self._collect(job, result, k, maps[job.index], holes[job.index].shape)

        images_out = [Pixels(o, p.alpha).to_pil() for o, p in zip(outputs, pixels)]
        attention = None
        if return_attention:
            attention = [self._attention_list(prompts[i], maps[i]) for i in range(n)]
        return InpaintOutput(images_out, attention)

    def _job(self, index: int, pixels: Pixels, hole: np.ndarray, window: Window) -> _Job:
        r = self.resolution
        image = _resize(crop(pixels.rgb, window), r)
        mask = _model_mask(crop(hole, window), r)
        rows, cols, _, _ = paste_region(window, hole.shape[1], hole.shape[0])
        return _Job(index, window, image, mask, int(hole[rows, cols].sum()))

    @staticmethod
    def _run(model, jobs: list[_Job], prompts: list[str]) -> dict[str, Any]:
        device = model.device
        image = torch.from_numpy(np.stack([j.image for j in jobs])).to(device)
        image = image.permute(0, 3, 1, 2).float() / 127.5 - 1
        mask = torch.from_numpy(np.stack([j.mask for j in jobs])).to(device)
        mask = mask[:, None].float()
        tokens, lengths = model.encode_text(prompts)
        out = model(image * (1 - mask), mask, tokens, lengths)
        final = ((out["final"].float().clamp(-1, 1) + 1) * 127.5).permute(0, 2, 3, 1)
        result = {"final": final.cpu().numpy()}
        for key in ("word_attention", "word_weights"):
            value = out.get(key)
            result[key] = None if value is None else value.float().cpu().numpy()
        return result

    @staticmethod
    def _paste(job: _Job, fill: np.ndarray, output: np.ndarray, hole: np.ndarray) -> None:
        side = job.window.side
        if side != fill.shape[0]:
            fill = cv2.resize(fill, (side, side), interpolation=cv2.INTER_CUBIC
                              if side > fill.shape[0] else cv2.INTER_AREA)
        fill = np.clip(np.rint(fill), 0, 255).astype(np.uint8)
        rows, cols, wrows, wcols = paste_region(job.window, hole.shape[1], hole.shape[0])
        inside = hole[rows, cols]
        output[rows, cols][inside] = fill[wrows, wcols][inside]

    @staticmethod
    def _collect(job: _Job, result: dict, k: int, maps: dict, shape: tuple[int, int]) -> None:
        """Add window ``k``'s per-word maps and weights to the image's accumulators."""
        att, weights = result["word_attention"], result["word_weights"]
        if att is None:
            return
        side = job.window.side
        rows, cols, wrows, wcols = paste_region(job.window, shape[1], shape[0])
        for t in range(att.shape[1]):
            entry = maps.setdefault(t, {"map": np.zeros(shape, np.float32), "w": None, "n": 0})
            up = cv2.resize(att[k, t].astype(np.float32), (side, side),
                            interpolation=cv2.INTER_LINEAR)
            entry["map"][rows, cols] = up[wrows, wcols]  # windows are disjoint
            if weights is not None:
                entry["w"] = (entry["w"] or 0.0) + float(weights[k, t]) * job.hole_pixels
            entry["n"] += job.hole_pixels

    def _attention_list(self, prompt: str, maps: dict) -> list[dict[str, Any]]:
        words = tokenize(prompt)[: self.model.max_len]
        if not maps:
            return []
        out = []
        for t, word in enumerate(words):
            if t in maps:
                total, count = maps[t]["w"], maps[t]["n"]
                weight = float("nan") if total is None else total / max(count, 1)
                out.append({"word": word, "weight": weight, "map": maps[t]["map"]})
        return out
