"""Inpainting baselines that need no model: OpenCV's Telea and Navier-Stokes, a mean fill
and a push-pull pyramid fill.

Each baseline is called like a model on a batch in the network convention (images B×3×H×W in
[-1, 1], masks B×1×H×W with 1 = hole) and returns the composited result
``image * (1 - mask) + fill * mask``, so known pixels come back bit for bit. Captions are
ignored: these are the image-only floor a text-guided model has to beat.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..errors import UserError
from ..nn.prefill import INPAINT_RADIUS, OPENCV_FILLS, fill_each_image, pyramid_fill

DEFAULT_BASELINES = ("telea", "ns", "mean")


def _mean_fill(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Every hole pixel takes the mean colour of the image's known pixels (grey if none)."""
    known = pixels[~hole]
    colour = known.mean(axis=0) if known.size else np.full(3, 127.5)
    out = pixels.copy()
    out[hole] = np.round(colour).astype(np.uint8)
    return out


def _pyramid_fill(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Push-pull interpolation of the known pixels (one of the generator's prefills)."""
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float()
    mask = torch.from_numpy(hole)[None, None].float()
    filled = pyramid_fill(image, mask)[0].permute(1, 2, 0).round().clamp(0, 255)
    return filled.to(torch.uint8).numpy()


class Baseline:
    """A fill function on uint8 H×W×3 pixels + bool hole, run image by image on a batch."""

    uses_text = False

    def __init__(self, name: str, fill: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 description: str):
        self.name = name
        self.fill = fill
        self.description = description

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Composited fill of a batch: B×3×H×W in [-1, 1] and B×1×H×W masks -> B×3×H×W."""
        return fill_each_image(image, mask, self.fill)

    def __repr__(self) -> str:
        return f"Baseline({self.name!r})"


BASELINES: dict[str, Baseline] = {
    "telea": Baseline("telea", OPENCV_FILLS["telea"],
                      f"OpenCV cv2.inpaint, Telea's fast marching method, radius {INPAINT_RADIUS}"),
    "ns": Baseline("ns", OPENCV_FILLS["ns"],
                   f"OpenCV cv2.inpaint, Navier-Stokes method, radius {INPAINT_RADIUS}"),
    "mean": Baseline("mean", _mean_fill, "mean colour of the image's known pixels"),
    "pyramid": Baseline("pyramid", _pyramid_fill,
                        "push-pull pyramid interpolation of the known pixels "
                        "(textinpaint.nn.prefill)"),
}


def get_baseline(name: str) -> Baseline:
    """The baseline registered under ``name`` (telea, ns, mean)."""
    try:
        return BASELINES[name.strip().lower()]
    except KeyError:
        raise UserError(
            f"unknown baseline '{name}'; choose from {', '.join(BASELINES)}"
        ) from None


def parse_baselines(spec: str | None) -> list[Baseline]:
    """Baselines from a comma list such as ``telea,ns,mean``; empty or ``none`` gives none."""
    if spec is None:
        return [BASELINES[n] for n in DEFAULT_BASELINES]
    names = [n for n in spec.split(",") if n.strip()]
    if [n.strip().lower() for n in names] == ["none"]:
        return []
    out = []
    for n in names:
        b = get_baseline(n)
        if b not in out:
            out.append(b)
    return out
