"""Reconstruction losses: region-weighted L1, DFNet's multi-scale L1, MMFL's text-guided L1,
the seam-weighted and the hole-chroma L1."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from kornia.color import rgb_to_lab
from torch import Tensor

from ..nn.fusion import resize_image, resize_mask


def masked_l1(
    pred: Tensor, target: Tensor, mask: Tensor, hole_weight: float = 1.0,
    valid_weight: float = 1.0, per_image: bool = False,
) -> Tensor:
    """``hole_weight * L1(hole) + valid_weight * L1(known)``, each the mean over its own region.

    Normalising each term by its own area makes the weights mean what they say whatever the
    hole's size; an empty region contributes 0. ``mask`` is ``B×1×H×W``, 1 = hole.
    ``per_image``: each region's mean is taken per image and then averaged over the batch, as
    the evaluation scores (a thin stroke then weighs as much as a half-image hole); otherwise
    over all the batch's pixels of the region, where large holes dominate.
    """
    err = (pred - target).abs()
    mask = mask.to(err.dtype).expand_as(err)
    dims = (1, 2, 3) if per_image else (0, 1, 2, 3)
    hole = ((err * mask).sum(dims) / mask.sum(dims).clamp_min(1.0)).mean()
    valid = ((err * (1 - mask)).sum(dims) / (1 - mask).sum(dims).clamp_min(1.0)).mean()
    return hole_weight * hole + valid_weight * valid


def seam_weights(mask: Tensor, scale_px: float) -> Tensor:
    """Per-pixel weight ``exp(-(d - 1) / scale_px)`` inside the hole, 0 outside.

    ``d`` is the chessboard distance to the nearest known pixel (1 on the hole's rim), cut
    off at ``3 * scale_px`` where the weight has fallen below 5 %. It is grown by 3×3 max
    pooling of the known region, a dozen cheap passes at the usual scale: kornia's
    ``distance_transform`` is Euclidean but runs one convolution per pixel of image size
    (0.4 s per 128-px batch here, half a training step).
    """
    hole = mask.float()
    weight = torch.zeros_like(hole)
    known = 1 - hole
    for d in range(1, max(1, int(3 * scale_px)) + 1):
        grown = F.max_pool2d(known, 3, stride=1, padding=1)
        weight = weight + (grown - known) * math.exp(-(d - 1) / scale_px)
        known = grown
    return weight * hole


def seam_l1(pred: Tensor, target: Tensor, mask: Tensor, scale_px: float) -> Tensor:
    """L1 over the hole weighted by :func:`seam_weights`: the weighted mean error near its rim.

    DeepFill's spatially discounted L1 (Yu et al. 2018) in a steeper form. A hole pixel next
    to known ones is predictable from them, a pixel deep inside a bird-box hole is the
    caption's to decide: the plain hole L1 weighs both alike, so a weight high enough to make
    thin strokes and hole edges match their surroundings would also pull the box's inside to
    the blurred average. This term weighs only the rim (all of a thin stroke).
    """
    weight = seam_weights(mask, scale_px).to(pred.dtype)
    err = (pred - target).abs().mean(dim=1, keepdim=True)
    return (err * weight).sum() / weight.sum().clamp_min(1.0)


def multiscale_l1(scales: list[Tensor], target: Tensor) -> Tensor:
    """DFNet's multi-scale constraint: mean over scales of the L1 to the area-resized target.

    The target is resized exactly as the generator resizes the known image
    (:func:`textinpaint.nn.fusion.resize_image`), so known pixels cost nothing at any scale.
    """
    losses = [F.l1_loss(s, resize_image(target, tuple(s.shape[-2:]))) for s in scales]
    return torch.stack(losses).mean()


def raw_completion_l1(raws: list[Tensor], target: Tensor, mask: Tensor) -> Tensor:
    """Mean over scales of the hole L1 of the fusion blocks' completions before blending.

    A fusion block's output is ``alpha * raw + (1 - alpha) * base``; supervised only through
    it, ``raw`` learns at the rate alpha lets through, and alpha closes wherever ``raw`` is
    still worse than the base — a gate that can starve its own branch. Supervising ``raw``
    directly keeps it learning whatever alpha does (on CUB at 128 px it did not make the
    final fill better per image: README, probes of 2026-11-22). Targets and holes are resized
    as the generator resizes them (:mod:`textinpaint.nn.fusion`); each scale's term is the
    mean over its hole pixels (0 where a scale has none).
    """
    losses = []
    for raw in raws:
        size = tuple(raw.shape[-2:])
        hole = resize_mask(mask, size).to(raw.dtype).expand_as(raw)
        err = (raw - resize_image(target, size)).abs() * hole
        losses.append(err.sum() / hole.sum().clamp_min(1.0))
    return torch.stack(losses).mean()


def text_guided_attention_loss(
    pred: Tensor, target: Tensor, word_attention: Tensor | None, word_mask: Tensor | None = None
) -> Tensor:
    """MMFL's text-guided attention loss: L1 weighted by where the words look.

    The word-attention maps (``B×T×h×w``) are averaged over each caption's real words,
    upsampled to the image size and normalised to a maximum of 1 per image, giving ``w``; the
    loss is ``mean |pred·w − target·w|``. ``w`` is detached: as a weight it should say which
    pixels matter, and letting gradients through would let the generator lower the loss by
    looking away from the hole (``pred`` is composited, so the known region costs nothing).
    Captions of length 0, or no maps at all, give 0.
    """
    if word_attention is None or word_attention.shape[1] == 0:
        return pred.new_zeros(())
    attn = word_attention.detach()
    if word_mask is None:
        word_mask = torch.ones(attn.shape[:2], dtype=torch.bool, device=attn.device)
    real = word_mask.to(device=attn.device, dtype=attn.dtype)[:, :, None, None]
    count = real.sum(dim=1, keepdim=True).clamp_min(1.0)
    w = (attn * real).sum(dim=1, keepdim=True) / count  # B×1×h×w
    w = F.interpolate(w, size=pred.shape[-2:], mode="bilinear", align_corners=False)
    w = w / w.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return (pred * w - target * w).abs().mean()


def chroma_l1(pred: Tensor, target: Tensor, mask: Tensor, cell: int = 16) -> Tensor:
    """L1 between the hole's low-frequency chroma in the fill and in the photo.

    Both images (network range, [-1, 1]) go to CIELab; a* and b* are averaged over the hole
    pixels of each ``cell``×``cell`` square, and the squares at least half hole are compared
    (ΔE of chroma / 100, so a red-for-green error is about 1). Hue and saturation only:
    lightness and texture are left to the other terms, and a fill whose feathers sit a few
    pixels off the photo's is not punished for it as it is by the pixel L1. Where a colour
    swap recoloured the photo it is the caption's colour; elsewhere it is mostly the
    context's, so on CUB birds it weakened caption control (docs/EXPERIMENTS.md, 2026-12-07).
    """
    def ab(x: Tensor) -> Tensor:
        return rgb_to_lab(((x.float() + 1) / 2).clamp(0, 1))[:, 1:]

    hole = mask.float()
    area = F.avg_pool2d(hole, cell)
    keep = (area >= 0.5).float()
    denom = area.clamp_min(1e-6)
    mean_pred = F.avg_pool2d(ab(pred) * hole, cell) / denom
    mean_true = F.avg_pool2d(ab(target) * hole, cell) / denom
    err = (mean_pred - mean_true).norm(dim=1, keepdim=True) / 100
    return (err * keep).sum() / keep.sum().clamp_min(1.0)
