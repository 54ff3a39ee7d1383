"""A classical first guess for the hole, which the generator then refines.

Filling the hole with zeros makes a freshly initialised generator start from a grey square
and spend its first thousands of images learning to carry the surrounding colours inward;
on a CPU budget it is still worse than OpenCV's fills after 7,000 images. A classical fill
does that part in closed form (``GeneratorConfig.prefill``):

* ``telea``: OpenCV's fast-marching fill (Telea 2004), run on the CPU image by image
  (about 3 ms per 128 px image). The best closed-form guess here (CUB centre holes, 128 px:
  hole L1 0.146 against 0.172 for ``pyramid``).
* ``ns``: OpenCV's Navier-Stokes fill (Bertalmio et al. 2001), same interface and cost;
  slightly better than Telea as a fill of its own on CUB (centre 0.1453 vs 0.1459, NVIDIA
  irregular 0.0700 vs 0.0715 hole L1) but not as ``full``'s guess: after 1,200 training
  images, centre hole L1 0.1432 against 0.1419 with ``telea``.
* ``pyramid``: push-pull in torch, on any device: *push* builds a pyramid of mask-weighted
  averages (a coarse pixel is the mean of the known pixels under it, weighted by the
  fraction known), *pull* walks back up filling each level's missing share from the level
  below, upsampled bilinearly. Smooth but blurry.

Known pixels always come back unchanged. Neither needs gradients: the guess is an input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..images import network_to_uint8

PREFILLS = ("none", "pyramid", "telea", "ns")
# Neighbourhood radius of cv2.inpaint in pixels. 3 is OpenCV's documented example value;
# at 128 px it is ~2% of the side, the scale of the textures the methods propagate.
INPAINT_RADIUS = 3


def opencv_inpaint(pixels: np.ndarray, hole: np.ndarray,
                   flag: int = cv2.INPAINT_TELEA) -> np.ndarray:
    """``cv2.inpaint`` of uint8 H×W×3 ``pixels`` where the bool ``hole`` is true (Telea by
    default, ``cv2.INPAINT_NS`` for Navier-Stokes), radius :data:`INPAINT_RADIUS`."""
    return cv2.inpaint(np.ascontiguousarray(pixels), hole.astype(np.uint8) * 255,
                       INPAINT_RADIUS, flag)


# The per-image OpenCV fills by name, shared by the prefills and the evaluation baselines.
OPENCV_FILLS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "telea": functools.partial(opencv_inpaint, flag=cv2.INPAINT_TELEA),
    "ns": functools.partial(opencv_inpaint, flag=cv2.INPAINT_NS),
}


def pyramid_fill(image: Tensor, mask: Tensor) -> Tensor:
    """Fill the holes of ``image`` (``B×C×H×W``) where ``mask`` (``B×1×H×W``) is 1.

    Returns ``image * (1 - mask) + fill * mask``: known pixels exact, the hole a smooth
    interpolation of the known ones. An image with no known pixel at all gets zeros.
    Not differentiable in any useful sense, and not meant to be: it is a fixed input.
    """
    weight = 1 - mask.to(image.dtype)
    levels = [(image * weight, weight)]  # (weighted sum, weight) per level, finest first
    while min(levels[-1][1].shape[-2:]) > 1:
        total, w = levels[-1]
        # ceil_mode keeps odd borders; both tensors pool alike, so the ratio is a true mean.
        levels.append((F.avg_pool2d(total, 2, ceil_mode=True),
                       F.avg_pool2d(w, 2, ceil_mode=True)))
    total, w = levels[-1]
    filled = total / w.clamp_min(1e-6)  # w == 0 here gives 0 (nothing known anywhere)
    for total, w in reversed(levels[:-1]):
        up = F.interpolate(filled, size=total.shape[-2:], mode="bilinear", align_corners=False)
        # total = w * mean: keep the known share, take the missing share from below.
        filled = total + (1 - w) * up
    return filled


@functools.lru_cache(maxsize=4)
def _fill_pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool kept for the process's lifetime (one per size asked for)."""
    return ThreadPoolExecutor(workers, thread_name_prefix="prefill")


@torch.no_grad()
def fill_each_image(image: Tensor, mask: Tensor,
                    fill: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Tensor:
    """Apply ``fill`` (uint8 H×W×3 pixels, bool H×W hole -> uint8 H×W×3) to every image of
    ``image`` (``B×3×H×W`` in [-1, 1]) where ``mask`` (``B×1×H×W``) is 1.

    Runs on the CPU in uint8 (the image is quantised to 1/255 for the fill only); returns
    ``image * (1 - mask) + fill * mask`` on ``image``'s device and dtype.
    """
    holes = (mask[:, 0] > 0.5).cpu().numpy()
    pixels = network_to_uint8(image)
    # OpenCV releases the GIL, so a batch fills in parallel on as many threads as torch may
    # use: on a GPU the serial fill of a batch of 16 at 256 px (~0.3 s) would outlast the
    # networks' step; a CPU run limited to one torch thread stays serial.
    workers = min(len(pixels), torch.get_num_threads())
    if workers > 1:
        filled = np.stack(list(_fill_pool(workers).map(fill, pixels, holes)))
    else:
        filled = np.stack([fill(p, h) for p, h in zip(pixels, holes)])
    out = torch.from_numpy(filled).to(image.device).permute(0, 3, 1, 2).to(image.dtype)
    hole = (mask > 0.5).to(image.dtype)
    return image * (1 - hole) + (out / 127.5 - 1) * hole


def prefill(kind: str, image: Tensor, mask: Tensor) -> Tensor:
    """``image`` with its hole filled by ``kind`` (one of :data:`PREFILLS`; ``none``: zeros)."""
    if kind == "pyramid":
        return pyramid_fill(image, mask)
    if kind in OPENCV_FILLS:
        return fill_each_image(image, mask, OPENCV_FILLS[kind])
    if kind == "none":
        return image * (1 - mask)
    raise ValueError(f"unknown prefill {kind!r}; use one of {', '.join(PREFILLS)}")
