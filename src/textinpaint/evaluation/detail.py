"""Detail: how much of the photo's fine structure the fill carries.

``detail ratio`` = mean |Laplacian| of the fill's luminance inside the hole, divided by the
same of the ground truth. The hole is first eroded by :data:`ERODE` pixels so the seam (the
step between fill and context) and the Laplacian's 3×3 footprint never reach the known
pixels. 1.0 is as detailed as the photo; a blurred average of the surroundings goes towards 0;
noise alone would raise it above 1, which is why the report shows it beside realism (KID).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

ERODE = 3  # pixels
MIN_PIXELS = 16  # fewer eroded hole pixels than this: no ratio (NaN)
MIN_ENERGY = 1e-4  # a flat ground truth (mean |Laplacian| below this, luminance in [0, 1])


def eroded_hole(mask: torch.Tensor, pixels: int = ERODE) -> torch.Tensor:
    """B×H×W bool: hole pixels at least ``pixels`` away from every known pixel."""
    known = (mask[:, :1] <= 0.5).float()
    near = F.max_pool2d(known, 2 * pixels + 1, stride=1, padding=pixels) if pixels else known
    return near[:, 0] < 0.5


def laplacian_energy(images: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Mean |Laplacian| of luminance (B×3×H×W in [0, 1]) over ``where`` (B×H×W bool)."""
    from kornia.color import rgb_to_grayscale
    from kornia.filters import laplacian

    lap = laplacian(rgb_to_grayscale(images.float()), kernel_size=3).abs()[:, 0].double()
    w = where.double()
    return (lap * w).sum(dim=(1, 2)) / w.sum(dim=(1, 2)).clamp_min(1)


def detail_ratio(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                 erode: int = ERODE) -> torch.Tensor:
    """Per-image detail ratio (B, float64); NaN where the eroded hole is too small or the
    ground truth is flat there.

    Args:
        pred, target: B×3×H×W in [0, 1].
        mask: B×1×H×W, 1 = hole.
    """
    inner = eroded_hole(mask, erode)
    fill, truth = laplacian_energy(pred, inner), laplacian_energy(target, inner)
    ok = (inner.sum(dim=(1, 2)) >= MIN_PIXELS) & (truth > MIN_ENERGY)
    return torch.where(ok, fill / truth.clamp_min(MIN_ENERGY),
                       torch.full_like(fill, float("nan")))


def summarize(values) -> dict | None:
    """Median, quartiles, mean, share in the photo-like band 0.6-1.2, and n (NaN left out)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    q25, median, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75),
            "mean": float(v.mean()), "in_0.6_1.2": float(((v >= 0.6) & (v <= 1.2)).mean()),
            "n": int(v.size)}
