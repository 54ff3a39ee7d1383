"""InpaintPipeline: a model folder in; any-size image + mask + caption in; image out.

Usage, in the diffusers convention::

    from textinpaint.pipeline import InpaintPipeline
    pipe = InpaintPipeline.from_pretrained("birds-128")  # a shipped name, or any model folder
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
That is the ``crop`` high-resolution strategy; ``resize`` and ``original`` are the other two
(see :mod:`textinpaint.windows`). A fill enlarged from the model's resolution is blended
into the photo over a feathered band just inside the hole (:mod:`textinpaint.blend`).

A greyscale input (all three channels equal) gets a grey fill: the luminance of the model's
colour fill, so no tint appears in a black-and-white photo.
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

from .blend import auto_band, feather_paste
from .caption_check import caption_warnings, warn_caption
from .data.text import tokenize
from .devices import check_device
from .errors import UserError
from .images import Pixels, fit_hole, is_grey, to_grey, to_hole, to_pixels
from .seam import SeamConfig
from .windows import HD_STRATEGIES, Window, crop, paste_region, plan_strategy
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

    ``warnings`` (one list per image): what the caption lost (unknown words, words past the
    model's limit, no readable word) and whether the mask was stretched; the same sentences
    are emitted as Python warnings (:class:`~textinpaint.caption_check.CaptionWarning`).

    With ``output_type="np"`` ``images`` is a float32 B×H×W×C array in [0, 1] (a list of
    arrays when the sizes differ); with ``"pt"`` a B×C×H×W tensor, as in diffusers.
    """

    images: Any
    attention: list[list[dict[str, Any]]] | None = field(default=None)
    warnings: list[list[str]] = field(default_factory=list)


OUTPUT_TYPES = ("pil", "np", "pt")
# diffusers arguments that steer a sampler; a GAN has none, so each gets a sentence, not a
# TypeError. Values: what to do instead.
DIFFUSION_ONLY = {
    "num_inference_steps": "the fill is one forward pass",
    "negative_prompt": "pass only the caption you want",
    "strength": "the hole is always filled from scratch",
    "eta": "there is no sampler", "latents": "there is no latent noise",
    "timesteps": "there is no sampler", "sigmas": "there is no sampler",
    "guidance_rescale": "there is no guidance", "denoising_end": "there is no sampler",
    "prompt_embeds": "pass the caption as prompt=",
    "negative_prompt_embeds": "pass only the caption you want",
    "cross_attention_kwargs": "there is no diffusion UNet",
    "clip_skip": "the text encoder is the model's own DAMSM encoder",
    "callback": "the fill is one forward pass", "callback_steps": "the fill is one forward pass",
    "callback_on_step_end": "the fill is one forward pass",
    "height": "the output always has the input image's size",
    "width": "the output always has the input image's size",
    "padding_mask_crop": "hd_strategy='crop' (the default) already crops around each hole",
}


def _refuse_unknown(kwargs: dict) -> None:
    for name in kwargs:
        if name in DIFFUSION_ONLY:
            raise UserError(f"'{name}' is a diffusion-sampling argument, but textinpaint is a "
                            f"GAN (one deterministic forward pass, no sampler): "
                            f"{DIFFUSION_ONLY[name]}; leave it out")
    if kwargs:
        raise TypeError(f"InpaintPipeline() got unexpected keyword argument(s) "
                        f"{', '.join(map(repr, kwargs))}; it takes prompt, image, mask_image, "
                        "generator, num_images_per_prompt, output_type, return_attention, "
                        "flip_ensemble, seam, guidance_scale, resize_mask, hd_strategy and "
                        "feather")


def _convert(images: list[Image.Image], output_type: str):
    if output_type == "pil":
        return images
    arrays = [np.asarray(im, dtype=np.float32) / 255 for im in images]
    if output_type == "pt":
        return [torch.from_numpy(a).permute(2, 0, 1) for a in arrays] \
            if len({a.shape for a in arrays}) > 1 else \
            torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return np.stack(arrays) if len({a.shape for a in arrays}) == 1 else arrays


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
    image: np.ndarray  # S×S×3 uint8, S = the side the network runs at
    mask: np.ndarray  # S×S bool
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
                        flip_ensemble: bool = False, seam: bool | None = None,
                        guidance_scale: float = 1.0, **kwargs) -> InpaintPipeline:
        """Load the model folder ``model_dir`` (as written by ``textinpaint train``).

        ``flip_ensemble=True`` fills each window and its mirror image and averages the two
        fills: twice the time, a little less error (see
        :class:`~textinpaint.model_folder.InpaintModel`). ``seam=True`` closes the colour
        step along each hole's border with a smooth offset (:mod:`textinpaint.seam`);
        ``None`` (the default) does what the model folder says (``config.json``'s
        ``inference.seam``; ``birds-128`` turns it on). ``guidance_scale``: how much the
        caption counts (1 = as trained; see :meth:`__call__`).

        ``model_dir`` may be a shipped model's name (``"birds-128"``, see
        ``textinpaint models``) or any model folder; ``device`` is checked first (a CUDA
        device on a CPU-only torch is one clear error, not a traceback).
        """
        from .model_folder import load_model
        from .shipped import resolve_model_dir

        device = check_device(device)
        return cls(load_model(resolve_model_dir(model_dir), device, flip_ensemble, seam,
                              guidance_scale), **kwargs)

    def to(self, device: str | torch.device) -> InpaintPipeline:
        """Move the networks to ``device`` (checked first, see :func:`check_device`), as
        ``pipe.to("cuda")`` does in diffusers; returns the pipeline."""
        device = check_device(device)
        for module in (self.model.generator, self.model.damsm.text_encoder,
                       self.model.damsm.image_encoder):
            module.to(device)
        return self

    @property
    def device(self) -> torch.device:
        """Where the networks are."""
        return self.model.device

    @property
    def resolution(self) -> int:
        """The side of the square the network fills."""
        return self.model.resolution

    @property
    def name(self) -> str:
        return self.model.name

    def model_for(self, flip_ensemble: bool | None, seam: bool | None = None,
                  guidance_scale: float | None = None) -> InpaintModel:
        """The model a call with ``flip_ensemble``, ``seam`` and ``guidance_scale`` runs
        (None: the pipeline's own setting); the same weights either way."""
        from .model_folder import check_guidance_scale

        flip = self.model.flip_ensemble if flip_ensemble is None else bool(flip_ensemble)
        had_seam = self.model.seam is not None
        seam_on = had_seam if seam is None else bool(seam)
        guide = self.model.guidance_scale if guidance_scale is None else \
            check_guidance_scale(guidance_scale)
        if (flip, seam_on, guide) == (self.model.flip_ensemble, had_seam,
                                      self.model.guidance_scale):
            return self.model
        return dataclasses.replace(self.model, flip_ensemble=flip, guidance_scale=guide,
                                   seam=(self.model.seam or SeamConfig()) if seam_on else None)

    def __call__(self, prompt: str | list[str] | None = None, image=None, mask_image=None,
                 generator: torch.Generator | list[torch.Generator] | None = None,
                 num_images_per_prompt: int = 1, output_type: str = "pil",
                 return_attention: bool = False, flip_ensemble: bool | None = None,
                 seam: bool | None = None, guidance_scale: float | None = None,
                 resize_mask: bool = False, hd_strategy: str = "crop",
                 feather: int | None = None, **kwargs) -> InpaintOutput:
        """Fill the white part of ``mask_image`` in ``image`` so it agrees with ``prompt``.

        Args:
            prompt: the caption, or a list of captions for a batch. Words past the model's
                maximum caption length and words not in its vocabulary are ignored, with a
                warning saying which. ``None`` or ``""`` fills from the image alone.
            image: a PIL image, numpy array or torch tensor (see :mod:`textinpaint.images`),
                or a list of them (a 4-D tensor/array is a batch).
            mask_image: the same kinds, same size as the image; white (> 127, or true, or
                > 0.5 for floats) marks the hole. An empty mask returns the image unchanged.
                A mask of another size is refused naming both sizes, unless ``resize_mask``.
            generator: accepted for diffusers compatibility and ignored: the network runs in
                eval mode and has no sampling noise, so the output is deterministic.
            num_images_per_prompt: results per input, as in diffusers; since the network
                is deterministic they are identical (kept so diffusers code runs unchanged).
            output_type: ``"pil"`` (default), ``"np"`` or ``"pt"`` (floats in [0, 1]).
            return_attention: also return per-word attention maps and weights.
            flip_ensemble: fill each window and its mirror image and average the two fills
                (twice the time, a little less error); None keeps the model's setting
                (``from_pretrained(..., flip_ensemble=...)``).
            seam: close the colour step along the hole's border with a smooth offset that
                fades into the hole (:mod:`textinpaint.seam`); None keeps the model's
                setting (``from_pretrained(..., seam=...)``).
            guidance_scale: how much the caption counts, as in diffusers but on the fill
                itself: ``fill(empty) + scale × (fill(prompt) − fill(empty))``. 1 is the
                model as trained (and the default), 0 the empty caption's fill; above 1 the
                caption's colour is stronger, at twice the time (0 to 4; for birds-128 1.25
                raised caption control and realism and lowered hole PSNR, see its card).
                None keeps the pipeline's setting (``from_pretrained(..., guidance_scale=...)``).
            resize_mask: stretch a mask of another size to the image (nearest-neighbour),
                with a warning, instead of refusing it.
            hd_strategy: ``"crop"`` (default: a window around each hole, resized to the
                model's resolution), ``"resize"`` (the whole image as one window) or
                ``"original"`` (the crop windows at the photo's own pixel scale); see
                :mod:`textinpaint.windows`.
            feather: width in pixels of the blend band inside the hole's border; None
                picks it from how much the fill is enlarged (0 at the model's own scale).

        Diffusion-only arguments (``num_inference_steps``, ``negative_prompt``, ...) are
        refused with a sentence saying this is a GAN.

        A list of length N in any of ``prompt``, ``image``, ``mask_image`` makes a batch of
        N; single values are repeated (one image with N prompts gives N variants).
        """
        del generator  # deterministic network: nothing to seed
        _refuse_unknown(kwargs)
        if output_type not in OUTPUT_TYPES:
            raise UserError(f"output_type must be one of {', '.join(OUTPUT_TYPES)}, "
                            f"not {output_type!r}")
        if hd_strategy not in HD_STRATEGIES:
            raise UserError(f"hd_strategy must be one of {', '.join(HD_STRATEGIES)}, "
                            f"not {hd_strategy!r}")
        if int(num_images_per_prompt) < 1:
            raise UserError("num_images_per_prompt must be at least 1")
        model = self.model_for(flip_ensemble, seam, guidance_scale)
        images, masks = _as_list(image, "image"), _as_list(mask_image, "mask_image")
        prompts = [prompt] if prompt is None or isinstance(prompt, str) else list(prompt)
        n = max(len(images), len(masks), len(prompts))
        for name, values in (("image", images), ("mask_image", masks), ("prompt", prompts)):
            if len(values) not in (1, n):
                raise UserError(f"{name} has {len(values)} entries but the batch has {n}; "
                                "pass one or as many as the batch")
        pixels = [to_pixels(im) for im in images]
        holes = [to_hole(m) for m in masks]
        repeat = int(num_images_per_prompt)
        order = [i for i in range(n) for _ in range(repeat)]  # diffusers' order: per input
        pixels = [pixels[i % len(pixels)] for i in order]
        holes = [holes[i % len(holes)] for i in order]
        prompts = [(prompts[i % len(prompts)] or "") for i in order]
        n = len(order)
        fitted = [fit_hole(h, *p.size, resize=resize_mask) for p, h in zip(pixels, holes)]
        holes = [h for h, _ in fitted]
        notes = [note for _, note in fitted]
        said = self._caption_notes(model, prompts)
        notes = [list(note) + said[text] for note, text in zip(notes, prompts)]
        warn_caption(list(dict.fromkeys(w for note in notes for w in note)))

        # Every image is planned (and refused if too costly) before any window is cut out.
        plans = [plan_bounded(h, self.resolution, self.limits,
                              "the image" if n == 1 else f"image {i}")
                 for i, h in enumerate(holes)]
        multiple = 2 ** int(getattr(model.generator.cfg, "num_levels", 5))
        jobs = [self._job(i, p, h, w, side)
                for i, (p, h, plan) in enumerate(zip(pixels, holes, plans))
                for w, side in plan_strategy(h, self.resolution, hd_strategy,
                                             max(32, multiple), windows=plan)]
        outputs = [p.rgb.copy() for p in pixels]
        maps = [{} for _ in range(n)]
        # Windows run in batches of one network side (the "original" strategy mixes sides).
        for side in sorted({j.image.shape[0] for j in jobs}):
            same = [j for j in jobs if j.image.shape[0] == side]
            for start in range(0, len(same), self.batch_size):
                chunk = same[start:start + self.batch_size]
                result = self._run(model, chunk, [prompts[j.index] for j in chunk])
                for k, job in enumerate(chunk):
                    self._paste(job, result["final"][k], outputs[job.index],
                                holes[job.index], feather)
                    if return_attention:
                        self._collect(job, result, k, maps[job.index],
                                      holes[job.index].shape)
        for out, p, h in zip(outputs, pixels, holes):
            if is_grey(p.rgb):  # grey in, grey out: the fill's luminance, no tint
                out[h] = to_grey(out[h])

        images_out = [Pixels(o, p.alpha).to_pil() for o, p in zip(outputs, pixels)]
        attention = None
        if return_attention:
            attention = [self._attention_list(prompts[i], maps[i]) for i in range(n)]
        return InpaintOutput(_convert(images_out, output_type), attention, notes)

    def _caption_notes(self, model, prompts: list[str]) -> dict[str, list[str]]:
        """What each distinct caption loses (nothing for a model that reads no text)."""
        if not model.uses_text:
            return {p: [] for p in prompts}
        return {p: caption_warnings(p, model.vocab, model.max_len) for p in set(prompts)}

    def _job(self, index: int, pixels: Pixels, hole: np.ndarray, window: Window,
             side: int) -> _Job:
        image = _resize(crop(pixels.rgb, window), side)
        mask = _model_mask(crop(hole, window), side)
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
    def _paste(job: _Job, fill: np.ndarray, output: np.ndarray, hole: np.ndarray,
               feather: int | None) -> None:
        side, run_side = job.window.side, fill.shape[0]
        if side != run_side:
            fill = cv2.resize(fill, (side, side), interpolation=cv2.INTER_CUBIC
                              if side > run_side else cv2.INTER_AREA)
        fill = np.clip(np.rint(fill), 0, 255).astype(np.uint8)
        rows, cols, wrows, wcols = paste_region(job.window, hole.shape[1], hole.shape[0])
        band = auto_band(side, run_side) if feather is None else int(feather)
        # writes hole pixels only (output[rows, cols] is a view into the image)
        feather_paste(output[rows, cols], fill[wrows, wcols], hole[rows, cols], band)

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
