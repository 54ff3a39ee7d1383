"""Seam correction: a smooth colour offset that closes the step at the hole's border.

A generated fill can meet the known pixels with a visible step: a slightly lighter or
tinted patch whose outline is the hole's. Poisson image editing (Pérez et al. 2003; the
post-processing of Iizuka et al. 2017) removes such a step by solving for the fill whose
gradients are the network's and whose border values are the photo's. Solved plainly it
shifts the *whole* fill towards the border's colours, which would undo the caption (a red
crown inside a brown head would turn brown). So the correction here is *screened*: an
offset ``o`` added to the fill, smooth inside the hole, equal to the border's step at the
border, and fading with distance to the border over about ``reach`` pixels:

    minimise  sum over hole-hole neighbours (o_p - o_q)^2
            + sum over hole-known neighbours (o_p - clamp(x_q - f_p, ±max_jump))^2
            + sum over hole pixels o_p^2 / reach^2

for each image and channel, with 4-neighbours (no wrap-around at the image's border). The
normal equations are a sparse symmetric positive-definite system, solved matrix-free by
conjugate gradients preconditioned by its diagonal, batched over images and channels on the
tensor's device. ``max_jump`` caps each border pair's pull, so a real edge that the hole's
outline happens to follow (a bird against the sky) is not smeared into the fill. A hole
pixel with no known pixel within reach gets no offset, and a hole covering the whole image
none at all. Only hole pixels change.

Brightness and colour are corrected apart (one system for the luma, one for each colour
difference), colour over a shorter reach: with colour corrected as far as brightness, the fills
of small holes (a bird's head) drifted towards the surrounding colours and the caption decided
the colour less often (birds-128, 272 CUB test birds: head control 0.928 → 0.888; over 2 px,
0.926; ``benchmarks/seam_sweep.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# (dy, dx) of the four neighbours.
_SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))
# ITU-R BT.601 luma weights: adding one offset to R, G and B moves the luma by that offset
# and leaves both colour differences (Cb, Cr) as they were.
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class SeamConfig:
    """How far the correction reaches into the hole and how big a step it closes.

    ``reach``: pixels (at the model's resolution) over which the offset fades, about by
    ``exp(-distance / reach)``. ``max_jump``: the largest border step (in the [-1, 1] pixel
    range) one pair pulls with; None = no cap. Brightness (BT.601 luma) and colour (the two
    colour differences B − Y, R − Y) are corrected apart: ``colour_reach`` is the reach of
    the colour offset, short by default so the fill's colour, which the caption chooses,
    stays the network's a few pixels in; None = brightness only (the same offset added to
    R, G and B). ``iterations`` and ``tolerance`` bound the solver (relative residual).
    """

    reach: float = 16.0
    max_jump: float | None = 0.25
    colour_reach: float | None = 2.0
    iterations: int = 200
    tolerance: float = 1e-3

    def __post_init__(self) -> None:
        if not self.reach > 0:
            raise ValueError(f"seam reach must be positive, got {self.reach}")
        if self.colour_reach is not None and not self.colour_reach > 0:
            raise ValueError(f"seam colour_reach must be positive or None, "
                             f"got {self.colour_reach}")
        if self.max_jump is not None and not self.max_jump > 0:
            raise ValueError(f"seam max_jump must be positive or None, got {self.max_jump}")


def seam_config(seam: bool | SeamConfig | None) -> SeamConfig | None:
    """The configuration an option's value means: True = the defaults, False/None = off."""
    if isinstance(seam, SeamConfig):
        return seam
    return SeamConfig() if seam else None


def _neighbours(x: torch.Tensor) -> list[torch.Tensor]:
    """``x`` at each of the four neighbours (y+dy, x+dx) of every pixel, in ``_SHIFTS``'
    order; zero beyond the image's border."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1))
    return [padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in _SHIFTS]


def seam_offset(image: torch.Tensor, hole: torch.Tensor,
                config: SeamConfig = SeamConfig()) -> torch.Tensor:
    """The screened-Poisson offset (B×C×H×W, zero outside the hole) of each channel of
    ``image``, with ``config.reach`` (``colour_reach`` is :func:`correct_seam`'s).

    ``image``: B×C×H×W, the fill composited into the photo (hole pixels the network's,
    others the photo's). ``hole``: B×1×H×W, 1 where the fill is.
    """
    x = image.float()
    h = (hole > 0.5).to(x.dtype).expand_as(x)
    k = 1 - h
    screen = 1.0 / float(config.reach) ** 2
    # Right-hand side and diagonal: every known neighbour pulls o_p towards its step.
    rhs = torch.zeros_like(x)
    diagonal = torch.full_like(x, screen)
    for known_q, x_q, hole_q in zip(_neighbours(k), _neighbours(x), _neighbours(h)):
        step = x_q - x
        if config.max_jump is not None:
            step = step.clamp(-config.max_jump, config.max_jump)
        rhs += known_q * step
        diagonal += known_q + hole_q
    rhs = rhs * h
    diagonal = torch.where(h > 0, diagonal, torch.ones_like(diagonal))

    def apply(o: torch.Tensor) -> torch.Tensor:  # A o, for o zero outside the hole
        return (diagonal * o - sum(_neighbours(o))) * h

    # Jacobi-preconditioned conjugate gradients, one system per (image, channel).
    dims = (-2, -1)
    o = torch.zeros_like(x)
    r = rhs.clone()
    z = r / diagonal
    p = z.clone()
    rz = (r * z).sum(dims, keepdim=True)
    goal = config.tolerance * rhs.square().sum(dims, keepdim=True).sqrt()
    # A system stops moving once it has converged, so an image's result does not depend on
    # which other images share its batch.
    active = r.square().sum(dims, keepdim=True).sqrt() > goal
    for _ in range(config.iterations):
        if not bool(active.any()):
            break
        ap = apply(p)
        pap = (p * ap).sum(dims, keepdim=True)
        alpha = torch.where(active & (pap > 0), rz / pap.clamp_min(1e-30), 0.0)
        o = o + alpha * p
        r = r - alpha * ap
        active = active & (r.square().sum(dims, keepdim=True).sqrt() > goal)
        z = r / diagonal
        rz_next = (r * z).sum(dims, keepdim=True)
        p = z + (rz_next / rz.clamp_min(1e-30)) * p
        rz = rz_next
    return (o * h).to(image.dtype)


def correct_seam(image: torch.Tensor, hole: torch.Tensor,
                 config: SeamConfig = SeamConfig()) -> torch.Tensor:
    """``image`` (B×3×H×W RGB) with the seam offset added in the hole (clamped to [-1, 1]);
    the known pixels are returned bit for bit."""
    r, g, b = image.unbind(1)
    luma = LUMA[0] * r + LUMA[1] * g + LUMA[2] * b
    offset = seam_offset(luma[:, None], hole, config).expand_as(image)
    if config.colour_reach is not None:
        differences = torch.stack([b - luma, r - luma], 1)  # (Cb, Cr) up to scale
        d_cb, d_cr = seam_offset(differences, hole, dataclasses.replace(
            config, reach=config.colour_reach)).unbind(1)
        # back to RGB: this offset leaves the luma unchanged
        d_g = -(LUMA[0] * d_cr + LUMA[2] * d_cb) / LUMA[1]
        offset = offset + torch.stack([d_cr, d_g, d_cb], 1)
    corrected = (image + offset).clamp(-1, 1)
    return torch.where(hole > 0.5, corrected, image)
