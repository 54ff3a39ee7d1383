"""DFNet's fusion block: a completion at a decoder scale, blended with the known pixels.

DFNet (ACM MM 2019) turns a decoder feature into an RGB guess, learns a per-pixel alpha from
the guess and the damaged image, and blends the two, so every decoder scale yields an image
that can be supervised. DFNet's masks are 1 = known; here, as everywhere in textinpaint,
1 = hole.

Images and masks are brought to a coarser scale with :func:`resize_image` (area average)
and :func:`resize_mask` (a coarse pixel is a hole if any of its pixels is); the multi-scale
losses resize their targets the same way, so the known pixels of every scale agree exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def resize_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Area-average ``image`` (``B×C×H×W``) down to ``size``; unchanged at its own size."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="area")


def resize_mask(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """Downsample a hole mask to ``size``: a coarse pixel is a hole if any of its pixels is."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.adaptive_max_pool2d(mask, size)


class FusionBlock(nn.Module):
    """Decoder feature -> completion at the feature's scale.

    ``raw = tanh(conv1×1(feature))`` (DFNet's sigmoid, mapped to our [-1, 1] images);
    ``alpha = sigmoid(convnet(masked image, hole fraction, raw))`` at that scale;
    ``blend = alpha * raw + (1 - alpha) * masked image``. The masked image and the hole
    fraction are area averages, so a pixel on the hole border still carries what is known of
    it and alpha learns how much of that to keep. The completion is composited with the binary
    mask at that scale, so fully known pixels equal the area-averaged input exactly.

    Args:
        in_channels: channels of the decoder feature.
        hidden: width of the alpha network.
    """

    def __init__(self, in_channels: int, hidden: int = 16):
        super().__init__()
        self.to_rgb = nn.Conv2d(in_channels, 3, kernel_size=1)
        self.alpha = nn.Sequential(
            nn.Conv2d(3 + 1 + 3, hidden, kernel_size=3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, 1, kernel_size=3, padding=1),
            nn.Sigmoid(),
        )

    def forward(
        self, feature: Tensor, masked_image: Tensor, mask: Tensor, offset: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return ``(completion, alpha, raw, blend)`` at the feature's spatial size.

        Args:
            feature: decoder feature ``B×C×h×w``.
            masked_image: full-size ``image * (1 - mask)``, ``B×3×H×W``, or the generator's
                classical first guess of the hole (``GeneratorConfig.prefill``).
            mask: full-size hole mask ``B×1×H×W`` (1 = hole).
            offset: ``B×3×h×w`` added to the completion before its ``tanh`` (the generator's
                word-colour head), or None.
        """
        size = tuple(feature.shape[-2:])
        known = resize_image(masked_image, size)
        logits = self.to_rgb(feature)
        raw = torch.tanh(logits if offset is None else logits + offset)
        alpha = self.alpha(torch.cat([known, resize_image(mask, size), raw], dim=1))
        blend = alpha * raw + (1 - alpha) * known
        hole = resize_mask(mask, size)
        return known * (1 - hole) + blend * hole, alpha, raw, blend
