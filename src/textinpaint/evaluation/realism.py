"""Realism offline: KID and FID of hole crops in the frozen evaluation encoder's space.

Real crops are the ground truth's hole boxes, fake crops the same boxes of a method's
composited output (:func:`.encoder.hole_crops`), one pair per image. KID is the unbiased
squared MMD (the U-statistic over pairs of different images, since an image's real and fake
crops share their context and are not independent) with KID's cubic polynomial kernel
``k(x, y) = (x·y / d + 1)^3`` on all crops at once; its 95 % interval comes from a bootstrap
over images (an image's two crops resampled together), where pairs of one image with itself
stay left out, so every resample is an unbiased estimate too. (torchmetrics' KID gives a mean and
spread over random subsets, not an interval.) FID is torchmetrics' on the same features.

These numbers compare models of this project with each other; they are not the Inception
FID/KID of papers.
"""

from __future__ import annotations

import numpy as np
import torch

RESAMPLES = 1000
LEVEL = 0.95


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def _mmd2(kxx, kyy, kxy, counts: np.ndarray) -> float:
    """Unbiased MMD² with image ``i`` taken ``counts[i]`` times; every pair of an image with
    itself (x_i with x_i, and x_i with its own fill y_i) is left out."""
    c = counts.astype(np.float64)
    pairs = c.sum() ** 2 - (c ** 2).sum()
    if pairs == 0:  # a resample of one image only: no pair of different images
        return float("nan")

    def between_images(k):
        return (c @ k @ c - (c ** 2 * np.diag(k)).sum()) / pairs

    return float(between_images(kxx) + between_images(kyy) - 2 * between_images(kxy))


def kid(real: torch.Tensor, fake: torch.Tensor, seed: int = 0,
        resamples: int = RESAMPLES) -> dict | None:
    """KID of paired N×D feature sets with a bootstrap interval: ``{kid, lo, hi, n}``."""
    x, y = real.double().numpy(), fake.double().numpy()
    n = len(x)
    if n < 3 or len(y) != n:
        return None
    kxx, kyy, kxy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    point = _mmd2(kxx, kyy, kxy, np.ones(n))
    rng = np.random.default_rng(seed)
    boot = [_mmd2(kxx, kyy, kxy, np.bincount(rng.integers(0, n, n), minlength=n))
            for _ in range(resamples)]
    boot = np.asarray(boot)
    lo, hi = np.quantile(boot[np.isfinite(boot)], [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return {"kid": point, "lo": float(lo), "hi": float(hi), "n": n}


def fid(real: torch.Tensor, fake: torch.Tensor) -> float | None:
    """torchmetrics' FID between two N×D feature sets (None for N ≤ D or a non-finite value)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from .fid import _Identity

    if min(len(real), len(fake)) <= real.shape[1]:
        return None  # fewer crops than feature dimensions: the covariances are singular
    metric = FrechetInceptionDistance(feature=_Identity(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    value = float(metric.compute())
    return value if np.isfinite(value) else None


def realism(real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> dict:
    """``{"kid": {kid, lo, hi, n}, "fid": float}`` of one method's hole crops."""
    return {"kid": kid(real, fake, seed), "fid": fid(real, fake)}
