"""Conditioning augmentation (StackGAN/AttnGAN): a sentence feature becomes a sampled code.

The sentence feature is mapped to the mean and log-variance of a Gaussian and the code is
sampled from it while training, which smooths the text manifold the generator sees; at
evaluation the mean is used, so inference is deterministic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ConditioningAugmentation(nn.Module):
    """Sentence ``B×sentence_dim`` -> ``(c, mu, logvar)``, each ``B×cond_dim``.

    As in AttnGAN, a linear layer followed by a gated linear unit gives ``mu`` and ``logvar``.
    """

    def __init__(self, sentence_dim: int = 256, cond_dim: int = 100):
        super().__init__()
        self.cond_dim = cond_dim
        self.fc = nn.Linear(sentence_dim, cond_dim * 4)

    def forward(self, sentence: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return ``(c, mu, logvar)``; ``c = mu`` in eval mode, a reparameterised sample else."""
        mu, logvar = F.glu(self.fc(sentence), dim=1).chunk(2, dim=1)
        if not self.training:
            return mu, mu, logvar
        c = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return c, mu, logvar


def kl_loss(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL divergence of ``N(mu, exp(logvar))`` from ``N(0, I)``, averaged over elements."""
    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
