"""Per-image reconstruction metrics, on the whole image and on the hole alone.

Protocol (stated again in every report): images are RGB in [0, 1]; each metric is computed
per image, then averaged over images.

* ``l1``: mean absolute error over all pixels and channels.
* ``psnr``: ``10·log10(1 / MSE)`` over all pixels and channels (torchmetrics,
  ``data_range=1``), capped at :data:`PSNR_CAP` dB so that a perfect image (MSE 0, PSNR +inf)
  still gives a finite mean.
* ``ssim``: torchmetrics' SSIM (Gaussian window 11×11, σ = 1.5, ``data_range=1``, reflect
  padding, so the SSIM map has the image's size), the mean of its map.
* ``l1_hole``, ``psnr_hole``: the same over hole pixels only (MSE over hole pixels).
* ``ssim_hole``: the mean of the same SSIM map over hole pixels (the windows still see the
  known pixels around the hole: that is how the filled region fits its surroundings).

An image whose hole is empty has NaN hole metrics; averages skip NaN.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

PSNR_CAP = 100.0  # dB; MSE below 1e-10 (identical images) reads as 100 dB
SSIM_KERNEL = 11
SSIM_SIGMA = 1.5
METRICS = ("l1", "psnr", "ssim", "l1_hole", "psnr_hole", "ssim_hole")
LOWER_IS_BETTER = frozenset({"l1", "l1_hole"})


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Map a network image in [-1, 1] to [0, 1] (clamped)."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def _psnr_from_mse(mse: torch.Tensor) -> torch.Tensor:
    psnr = 10 * torch.log10(1.0 / mse.clamp_min(1e-30))
    return psnr.clamp(max=PSNR_CAP)


def image_metrics(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
                  ) -> dict[str, torch.Tensor]:
    """Every metric of :data:`METRICS` for each image of a batch.

    Args:
        pred: B×3×H×W in [0, 1], the method's (composited) output.
        target: B×3×H×W in [0, 1], the ground truth.
        mask: B×1×H×W, 1 = hole.

    Returns:
        ``{name: float64 tensor of B values}``.
    """
    pred, target = pred.double(), target.double()
    hole = (mask > 0.5).double().expand_as(pred)
    n_hole = hole.sum(dim=(1, 2, 3))
    no_hole = n_hole == 0
    err = (pred - target).abs()
    out = {"l1": err.mean(dim=(1, 2, 3))}
    # torchmetrics' PSNR returns +inf for identical images; the cap keeps means finite.
    psnr = peak_signal_noise_ratio(pred, target, data_range=1.0, reduction="none",
                                   dim=(1, 2, 3))
    out["psnr"] = torch.nan_to_num(psnr, posinf=PSNR_CAP).clamp(max=PSNR_CAP)
    # SSIM in float32: CPU convolutions in float64 are ~20x slower, and float32 keeps the
    # map accurate to ~1e-6.
    ssim, ssim_map = structural_similarity_index_measure(
        pred.float(), target.float(), gaussian_kernel=True, sigma=SSIM_SIGMA,
        kernel_size=SSIM_KERNEL, data_range=1.0, reduction="none", return_full_image=True)
    ssim_map = ssim_map.double()
    out["ssim"] = ssim.double()
    denom = n_hole.clamp_min(1)
    nan = torch.full_like(n_hole, math.nan)
    out["l1_hole"] = torch.where(no_hole, nan, (err * hole).sum(dim=(1, 2, 3)) / denom)
    mse_hole = (err.square() * hole).sum(dim=(1, 2, 3)) / denom
    out["psnr_hole"] = torch.where(no_hole, nan, _psnr_from_mse(mse_hole))
    out["ssim_hole"] = torch.where(no_hole, nan, (ssim_map * hole).sum(dim=(1, 2, 3)) / denom)
    return out


def hole_ratio(mask: torch.Tensor) -> torch.Tensor:
    """Fraction of hole pixels of each mask (B×1×H×W -> B)."""
    return (mask > 0.5).double().mean(dim=(1, 2, 3))


def ratio_bin(ratio: float, width: float = 0.1) -> str:
    """Label of the hole-ratio bin holding ``ratio``, e.g. ``"20-30%"`` (10% bins)."""
    k = min(int(ratio / width), int(round(1 / width)) - 1)
    lo, hi = round(k * width * 100), round((k + 1) * width * 100)
    return f"{lo}-{hi}%"


def bucket_order(labels) -> list[str]:
    """The distinct bucket labels (``"1-10%"``, ``"10-20%"``, ...) by their lower bound."""
    return sorted(set(labels), key=lambda s: float(s.split("-")[0]))


def mean(values) -> float:
    """Mean ignoring NaN (None where every value is NaN or there are none)."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else None


def gain(metric: str, with_true: float | None, with_other: float | None) -> float | None:
    """How much the true caption helps: positive = better with the true caption.

    ``true - other`` for higher-is-better metrics, ``other - true`` for L1.
    """
    if with_true is None or with_other is None:
        return None
    if metric in LOWER_IS_BETTER:
        return with_other - with_true
    return with_true - with_other
