"""Structure knowledge losses: Sobel gradient maps and the pyramid structure loss.

"Learning to Incorporate Structure Knowledge for Image Inpainting" (AAAI 2020) has the
generator predict the image's gradient maps at several scales and penalises them with an L1
term plus an edge-priority term that weighs pixels near edges (Canny edges blurred twice by a
5×5 Gaussian) far more than flat areas.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from kornia.color import rgb_to_grayscale
from kornia.filters import canny, gaussian_blur2d, spatial_gradient
from torch import Tensor

from ..nn.fusion import resize_image


def sobel_gradients(img: Tensor) -> Tensor:
    """Normalised Sobel gradients of each channel: ``B×C×H×W -> B×2C×H×W``.

    Channels are ordered (c0 dx, c0 dy, c1 dx, c1 dy, ...), so an RGB image gives 6 maps; for
    images in [-1, 1] the values lie in [-1, 1].
    """
    grad = spatial_gradient(img, mode="sobel", order=1, normalized=True)  # B×C×2×H×W
    return grad.flatten(1, 2)


def track_weak_edges(edges: Tensor) -> Tensor:
    """Canny's hysteresis on a CPU: ``B×1×H×W`` maps of strong (1) and weak (0.5) edges ->
    1 where an edge pixel is 8-connected to a strong one through edge pixels, else 0.

    It gives what kornia's ``canny(..., hysteresis=True)`` gives, whose loop grows the strong
    edges by one pixel per round: on CUB birds at 128 px that took 120 ms a batch of 8 on
    the 2-core CPU; OpenCV's connected components take a few milliseconds.
    """
    tracked = []
    for edge in edges[:, 0].numpy():
        _, labels = cv2.connectedComponents((edge > 0).astype(np.uint8), connectivity=8)
        tracked.append(np.isin(labels, labels[edge == 1]) & (edge > 0))
    return torch.from_numpy(np.stack(tracked)[:, None]).to(edges.dtype)


@torch.no_grad()
def edge_priority_map(img: Tensor) -> Tensor:
    """Edge-priority weights ``B×1×H×W`` in [0, 1] for an RGB image in [-1, 1].

    Canny edges of the grey image, blurred twice by a 5×5 Gaussian (σ = 1), divided by each
    image's maximum (an image without edges gives zeros).
    """
    grey = rgb_to_grayscale((img.float() + 1) / 2)
    if grey.device.type == "cpu":  # same edges; kornia's tracking loop is slow on CPUs
        edges = track_weak_edges(canny(grey, hysteresis=False)[1])
    else:
        _, edges = canny(grey)
    for _ in range(2):
        edges = gaussian_blur2d(edges, (5, 5), (1.0, 1.0))
    return (edges / edges.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)).to(img.dtype)


def pyramid_structure_loss(
    preds: list[Tensor], target: Tensor, grad_alpha: float = 0.1, edge_alpha: float = 20.0
) -> Tensor:
    """Pyramid structure loss over predicted gradient maps (``B×6×h×w`` each), mean over scales.

    Per scale, with ``g = sobel_gradients(target area-resized to h×w)`` and ``e`` the
    :func:`edge_priority_map` of the full-size target area-resized to h×w and renormalised to
    a maximum of 1::

        grad_alpha * mean|pred - g|  +  edge_alpha * mean(e * |pred - g|)

    The paper states the edge term as an L1 restricted to (blurred) edges; reading it as the
    same L1 weighted by the edge map keeps both terms on one scale, so the defaults (0.1 and
    20, the paper's GRAD_ALPHA and EDGE_ALPHA) balance flat areas against edges. Edges are
    found once at full size, where Canny is meaningful, rather than on maps as small as 1×1.
    An empty list gives 0.
    """
    if not preds:
        return target.new_zeros(())
    full_edges = edge_priority_map(target)
    losses = []
    for pred in preds:
        size = tuple(pred.shape[-2:])
        err = (pred - sobel_gradients(resize_image(target, size))).abs()
        edges = resize_image(full_edges, size)
        edges = edges / edges.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
        losses.append(grad_alpha * err.mean() + edge_alpha * (edges * err).mean())
    return torch.stack(losses).mean()
