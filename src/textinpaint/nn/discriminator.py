"""PatchGAN discriminator with spectral normalisation and optional sentence projection.

MMFL's discriminator is a PatchGAN reading two images (the output and the masked input);
SN-PatchGAN (structure knowledge, DeepFill v2) spectral-normalises every layer instead of
normalising activations. Both input forms are offered. With ``use_sentence`` the logits get a
projection-discriminator term (Miyato & Koyama 2018): the inner product of the last feature
map with an embedding of the sentence, so D can judge whether the image fits the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import ConfigError, check_choice
from .unet import InputSizeError

INPUT_MODES = ("pair", "single")


@dataclass
class DiscriminatorConfig:
    """Knobs of :class:`PatchDiscriminator`.

    ``input_mode``: ``pair`` reads the image and the masked image (6 channels, MMFL);
    ``single`` reads the image and the mask (4 channels). ``n_layers`` stride-2 convolutions
    (from ``base_channels``, doubling up to ``max_channels``) then two stride-1 ones; inputs
    need sides of at least ``3 * 2**n_layers``. ``use_sentence`` adds the projection term for
    a ``sentence_dim`` sentence feature.
    """

    input_mode: str = "pair"
    base_channels: int = 64
    max_channels: int = 512
    n_layers: int = 3
    use_sentence: bool = False
    sentence_dim: int = 256

    def __post_init__(self) -> None:
        check_choice("input_mode", self.input_mode, INPUT_MODES)
        if not 1 <= self.n_layers <= 8:
            raise ConfigError(f"config key 'n_layers' must be between 1 and 8, got {self.n_layers}")


class PatchDiscriminator(nn.Module):
    """Spectral-normalised PatchGAN: ``(image, mask[, sentence]) -> logits B×1×h×w``."""

    def __init__(self, cfg: DiscriminatorConfig | None = None):
        super().__init__()
        cfg = self.cfg = cfg or DiscriminatorConfig()
        cin = 6 if cfg.input_mode == "pair" else 4
        layers: list[nn.Module] = []
        width = cfg.base_channels
        for i in range(cfg.n_layers + 1):
            stride = 2 if i < cfg.n_layers else 1
            layers += [spectral_norm(nn.Conv2d(cin, width, 4, stride, 1)), nn.LeakyReLU(0.2)]
            cin, width = width, min(width * 2, cfg.max_channels)
        self.features = nn.Sequential(*layers)
        self.to_logit = spectral_norm(nn.Conv2d(cin, 1, 4, 1, 1))
        self.embed = spectral_norm(nn.Linear(cfg.sentence_dim, cin)) if cfg.use_sentence else None

    def forward(self, image: Tensor, mask: Tensor, sentence: Tensor | None = None,
                features: bool = False) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Patch logits for ``image`` (``B×3×H×W``) inpainted in ``mask`` (``B×1×H×W``, 1 = hole).

        ``sentence`` (``B×sentence_dim``) is used only with ``use_sentence``; None skips the
        projection term (an image with no caption). ``features=True`` also returns every
        layer's activation (after its LeakyReLU), for the feature-matching loss.
        """
        smallest = 3 * 2**self.cfg.n_layers
        if min(image.shape[-2:]) < smallest:
            raise InputSizeError(
                f"the discriminator with n_layers {self.cfg.n_layers} needs images of at least "
                f"{smallest}×{smallest}, got {tuple(image.shape[-2:])}: use fewer layers"
            )
        mask = mask.to(image.dtype)
        second = image * (1 - mask) if self.cfg.input_mode == "pair" else mask
        h = torch.cat([image, second], dim=1)
        feats = []
        for layer in self.features:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(h)
        logits = self.to_logit(h)
        if self.embed is not None and sentence is not None:
            # Projection term per patch: <embed(s), h>; a 2×2 mean brings it to the logits' size
            # (to_logit's 4×4 stride-1 convolution shrinks each side by one). Both are linear,
            # so the mean comes after the channel sum: it pools one channel, not 512.
            projection = (self.embed(sentence)[:, :, None, None] * h).sum(1, keepdim=True)
            logits = logits + F.avg_pool2d(projection, kernel_size=2, stride=1)
        return (logits, feats) if features else logits
