"""GAN losses: relativistic average LSGAN (MMFL), hinge (SN-PatchGAN), feature matching.

Every GAN function takes the discriminator's logits on real and on fake images, in that
order, so the training loop can call either pair the same way; ``get_gan_loss(name)`` picks
one. :func:`feature_matching_l1` compares the discriminator's activations instead.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

from ..errors import UserError

LossFn = Callable[[Tensor, Tensor], Tensor]


def ralsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """RaLSGAN discriminator loss: real should beat the average fake by 1, and vice versa."""
    return (((real - fake.mean() - 1) ** 2).mean() + ((fake - real.mean() + 1) ** 2).mean()) / 2


def ralsgan_g_loss(real: Tensor, fake: Tensor) -> Tensor:
    """RaLSGAN generator loss: the discriminator loss with the roles of real and fake swapped."""
    return (((fake - real.mean() - 1) ** 2).mean() + ((real - fake.mean() + 1) ** 2).mean()) / 2


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge discriminator loss: ``mean(relu(1 - real)) + mean(relu(1 + fake))``."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge generator loss: ``-mean(fake)`` (``real`` is unused; kept for a common signature)."""
    del real
    return -fake.mean()


def feature_matching_l1(fake: list[Tensor], real: list[Tensor]) -> Tensor:
    """Mean over the discriminator's layers of the L1 between its activations on the fill and
    on the real image, each relative to the real activations' mean magnitude (pix2pixHD's
    feature matching; ``real`` should be detached).

    An inpainting fill has its photo, so the discriminator's features of the two can be
    compared where they are: early layers ask for the photo's edges and texture statistics,
    deep ones for its parts, without the one blurred optimum a pixel L1 has. Spectral
    normalisation keeps the activations small and shrinking with depth (mean |a| 0.09 in the
    first layer of a CUB-trained discriminator, 0.02 in the last): relative to their own
    scale, every layer counts alike and the weight does not depend on the discriminator's.
    """
    if len(fake) != len(real) or not fake:
        raise ValueError(f"feature lists differ: {len(fake)} fake, {len(real)} real layers")
    terms = [F.l1_loss(f.float(), r.float()) / r.float().abs().mean().clamp_min(1e-6)
             for f, r in zip(fake, real)]
    return sum(terms) / len(terms)


GAN_LOSSES: dict[str, tuple[LossFn, LossFn]] = {
    "ralsgan": (ralsgan_d_loss, ralsgan_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
}


def get_gan_loss(name: str) -> tuple[LossFn, LossFn]:
    """Return ``(d_loss_fn, g_loss_fn)`` for ``name`` (``ralsgan`` or ``hinge``)."""
    if name not in GAN_LOSSES:
        raise UserError(f"unknown GAN loss {name!r}: choose one of {', '.join(GAN_LOSSES)}")
    return GAN_LOSSES[name]
