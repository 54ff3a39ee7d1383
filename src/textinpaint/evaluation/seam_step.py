"""Seam step: how visible the hole's outline is in the output.

A fill can carry the right content and still show the hole as a lighter or tinted patch
whose outline is the hole's. The seam step measures that edge: at every hole pixel with a
known 4-neighbour, the colour distance between the mean of the hole pixels and the mean of
the known pixels within ``BAND`` pixels (a (2·BAND+1)² window, each side averaged over its own
pixels only), averaged along the outline. Local means keep texture out and the step a person
sees in. The photo has a step of its own there (a hole's outline crosses real edges), so the
report gives the ratio of the output's mean step to the photo's: 1.0 = the outline is as
visible as in the photo, above 1 = a seam.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

BAND = 3  # pixels on each side of the outline


def seam_step(images: torch.Tensor, mask: torch.Tensor, band: int = BAND) -> torch.Tensor:
    """Per-image mean step across the hole's outline (B, float64; RGB in [0, 1], Euclidean
    over the channels); NaN where the hole has no outline (no hole, or the whole image).

    Args:
        images: B×3×H×W in [0, 1], composited (known pixels the photo's).
        mask: B×1×H×W, 1 = hole.
    """
    x = images.double()
    hole = (mask[:, :1] > 0.5).double()
    known = 1 - hole
    size = 2 * band + 1

    def local_mean(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        count = F.avg_pool2d(weight, size, stride=1, padding=band, count_include_pad=False)
        total = F.avg_pool2d(x * weight, size, stride=1, padding=band, count_include_pad=False)
        return total / count.clamp_min(1e-12), count

    inside, n_in = local_mean(hole)
    outside, n_out = local_mean(known)
    # hole pixels with a known 4-neighbour (zero padding: the image's border is no neighbour)
    cross = F.conv2d(F.pad(known, (1, 1, 1, 1)),
                     known.new_tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]])[None, None])
    outline = (hole > 0) & (cross > 0) & (n_in > 0) & (n_out > 0)
    step = (inside - outside).square().sum(1, keepdim=True).sqrt()
    w = outline.double()
    n = w.sum(dim=(1, 2, 3))
    mean = (step * w).sum(dim=(1, 2, 3)) / n.clamp_min(1)
    return torch.where(n > 0, mean, torch.full_like(mean, float("nan")))


def summarize(output_steps, photo_steps) -> dict | None:
    """Mean step of the output and of the photo over the images with an outline, and their
    ratio (1.0 = as visible as the photo's own edge there)."""
    out, photo = (np.asarray(v, dtype=np.float64) for v in (output_steps, photo_steps))
    ok = ~np.isnan(out) & ~np.isnan(photo)
    if not ok.any() or photo[ok].mean() <= 0:
        return None
    ratio = out[ok].mean() / photo[ok].mean()
    return {"output": float(out[ok].mean()), "photo": float(photo[ok].mean()),
            "ratio": float(ratio) if math.isfinite(ratio) else None, "n": int(ok.sum())}
