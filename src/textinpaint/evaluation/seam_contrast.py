"""Seam contrast: how much the hole's outline stands out as an edge of its own.

A fill with the right content can still show the hole as a lighter or tinted patch whose
outline is the hole's. In a photo the outline is an arbitrary line: the colour changes
across it as much as across any parallel line a few pixels further in or out. A seam makes
the outline itself an edge. So the colour step (Euclidean over RGB in [0, 1], after a
Gaussian blur of σ = 1 px so single-pixel texture does not count) is averaged over the
neighbour pairs that cross the outline, and over the pairs that cross the lines ``OFFSET``
pixels inside and outside it (chessboard distance); the seam contrast is the first over the
mean of the other two, as a ratio of means over the images. The photo scores about 1.0; a
visible seam scores above it; a smear across real edges could score below.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .detail import eroded_hole

OFFSET = 3  # pixels from the outline to the reference lines


def _levels(hole: torch.Tensor, depth: int) -> torch.Tensor:
    """Per pixel: 0, 1, ... for hole pixels by their chessboard distance to the nearest known
    pixel minus one (0 on the hole's outer ring), −1, −2, ... for known pixels by theirs to
    the hole; clipped at ±``depth``."""
    inside = sum(eroded_hole(hole, n).double() for n in range(1, depth + 1))
    outside = sum(eroded_hole(1 - hole, n).double() for n in range(1, depth + 1))
    return torch.where(hole[:, 0] > 0.5, inside, -1 - outside)[:, None]


def seam_steps(images: torch.Tensor, mask: torch.Tensor,
               offset: int = OFFSET) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image (B each, float64): the mean colour step across the hole's outline, and the
    mean over the lines ``offset`` px inside and outside it; NaN where a line has no pairs
    (no hole, a hole covering the image, a hole thinner than the offset).

    Args:
        images: B×3×H×W in [0, 1], composited (known pixels the photo's).
        mask: B×1×H×W, 1 = hole.
    """
    from kornia.filters import gaussian_blur2d

    x = gaussian_blur2d(images.double(), (5, 5), (1.0, 1.0), border_type="replicate")
    level = _levels((mask[:, :1] > 0.5).double(), offset + 2)
    sums = {c: 0.0 for c in (0, offset, -offset)}
    counts = dict(sums)
    for dy, dx in ((0, 1), (1, 0)):  # each neighbour pair once
        h, w = x.shape[-2] - dy, x.shape[-1] - dx
        a, b = level[..., :h, :w], level[..., dy:, dx:]
        step = (x[..., :h, :w] - x[..., dy:, dx:]).square().sum(1, keepdim=True).sqrt()
        crossing = torch.maximum(a, b)  # the pair crosses the line between c − 1 and c
        for c in sums:
            pairs = (((a - b).abs() == 1) & (crossing == c)).double()
            sums[c] = sums[c] + (step * pairs).sum(dim=(1, 2, 3))
            counts[c] = counts[c] + pairs.sum(dim=(1, 2, 3))
    mean = {c: torch.where(counts[c] > 0, sums[c] / counts[c].clamp_min(1),
                           torch.full_like(sums[c], float("nan"))) for c in sums}
    return mean[0], (mean[offset] + mean[-offset]) / 2


def summarize(outline, reference, photo_outline, photo_reference) -> dict | None:
    """Seam contrast of the output and of the photo over the images where all four are
    defined: mean outline step over mean reference step."""
    v = [np.asarray(a, dtype=np.float64) for a in (outline, reference, photo_outline,
                                                    photo_reference)]
    ok = np.all([~np.isnan(a) for a in v], axis=0)
    if not ok.any() or v[1][ok].mean() <= 0 or v[3][ok].mean() <= 0:
        return None
    ratio, photo = v[0][ok].mean() / v[1][ok].mean(), v[2][ok].mean() / v[3][ok].mean()
    return {"contrast": float(ratio) if math.isfinite(ratio) else None,
            "photo": float(photo) if math.isfinite(photo) else None, "n": int(ok.sum())}
