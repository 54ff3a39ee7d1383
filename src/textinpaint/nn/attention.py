"""Attention layers of the generator: word attention, word demand and non-local attention.

* :class:`WordAttention` lets every image position read the caption (AttnGAN's global
  attention): image features query the words, padding is masked out.
* :class:`WordDemand` is MMFL's image-adaptive word demand module, read as the paper describes
  it: the damaged image decides how much each word matters, one weight per word.
* :class:`NonLocalAttention` is the attention layer of "Learning to Incorporate Structure
  Knowledge for Image Inpainting": a pooled non-local block that can borrow features from the
  known region.

Word features are ``B×D×T``; ``word_mask`` is bool ``B×T``, True where a real word is. A
caption of length 0 (an all-False row) is legal and gives zeros, never NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def full_word_mask(words: Tensor, word_mask: Tensor | None) -> Tensor:
    """``word_mask`` as a bool ``B×T`` tensor; None means every position is a real word."""
    if word_mask is None:
        return torch.ones(words.shape[0], words.shape[2], dtype=torch.bool, device=words.device)
    return word_mask.to(device=words.device, dtype=torch.bool)


def masked_softmax(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` where ``mask`` (broadcastable bool) is True; exactly 0 elsewhere.

    A slice with no True entry comes out all zeros instead of NaN: masked scores get the
    dtype's most negative finite value (so such a slice is a harmless uniform softmax), and
    the product with the mask then zeroes it.
    """
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=dim) * mask


# The parameters ``WordAttention(position=True)`` adds, as a pattern over a network's names:
# a trained generator without them can be loaded into one with them (they start at zero).
POSITION_PARAMS = r"\.where\."


def hole_position(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """Where each position of a ``size`` grid lies in its image's hole: ``B×3×h×w``, the
    row and column across the hole's bounding box (-1 at its top/left edge, +1 at its
    bottom/right, beyond outside it, clipped to ±2) and whether the position is in the hole.

    ``mask`` is ``B×1×H×W`` with 1 = hole; an image without a hole counts its whole frame as
    the box.
    """
    from .fusion import resize_mask

    height, width = mask.shape[-2:]
    hole = mask[:, 0] > 0.5
    axes = []
    for along, full, cells in ((hole.any(dim=2), height, size[0]), (hole.any(dim=1), width,
                                                                     size[1])):
        index = torch.arange(full, device=mask.device)
        first = torch.where(along, index, full).amin(dim=1).float()
        last = torch.where(along, index, -1).amax(dim=1).float() + 1
        empty = last <= first
        first, last = torch.where(empty, 0.0, first), torch.where(empty, float(full), last)
        centres = (torch.arange(cells, device=mask.device) + 0.5) * full / cells
        axes.append(((centres[None] - (first + last)[:, None] / 2)
                     / ((last - first)[:, None] / 2)).clamp(-2, 2))
    rows, cols = axes
    grid = torch.stack([rows[:, :, None].expand(-1, -1, size[1]),
                        cols[:, None, :].expand(-1, size[0], -1)], dim=1)
    return torch.cat([grid.to(mask.dtype), resize_mask(mask, size)], dim=1)


class WordAttention(nn.Module):
    """AttnGAN's word attention: each image position attends over the caption's words.

    Words (``B×D×T``) are projected to the image channels by a 1×1 convolution; the score of a
    word at a position is the dot product with the image feature there, scaled by
    ``1/sqrt(C)`` (AttnGAN leaves it unscaled; the scaling keeps the softmax out of saturation
    at initialisation for wide features), softmax over the real words.

    With ``position``, a 1×1 convolution of the position's place in the hole
    (:func:`hole_position`) is added to each query, so that the top of a hidden bird can read
    other words than its bottom: features inside a hole all come from the same surroundings
    and otherwise read the same words everywhere (``benchmarks/part_colours.py``). It starts at
    zero, so a trained model fine-tuned with it begins as it was.

    Args:
        image_channels: C, channels of the image feature that queries.
        word_dim: D, channels of the word features.
        position: add the hole-position term to the queries.
    """

    def __init__(self, image_channels: int, word_dim: int, position: bool = False):
        super().__init__()
        self.project = nn.Conv1d(word_dim, image_channels, kernel_size=1, bias=False)
        self.scale = 1.0 / math.sqrt(image_channels)
        self.where = None
        if position:
            self.where = nn.Conv2d(3, image_channels, kernel_size=1)
            nn.init.zeros_(self.where.weight)
            nn.init.zeros_(self.where.bias)

    def forward(
        self, image: Tensor, words: Tensor, word_mask: Tensor | None = None,
        where: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Return ``(context B×C×H×W, attention B×T×H×W)``; ``where`` is
        :func:`hole_position` at the image's size (used with ``position`` only).

        ``attention`` sums to 1 over the real words at every position and is exactly 0 on
        padding; for a caption of length 0 both outputs are zeros.
        """
        b, c, h, w = image.shape
        mask = full_word_mask(words, word_mask)
        keys = self.project(words)  # B×C×T
        query_map = image if self.where is None or where is None else image + self.where(where)
        queries = query_map.flatten(2).transpose(1, 2)  # B×HW×C
        attn = masked_softmax(torch.bmm(queries, keys) * self.scale, mask[:, None, :])  # B×HW×T
        context = torch.bmm(keys, attn.transpose(1, 2)).view(b, c, h, w)
        return context, attn.transpose(1, 2).reshape(b, -1, h, w)


WORD_DEMAND_NORMS = ("sigmoid", "softmax")


class WordDemand(nn.Module):
    """MMFL's image-adaptive word demand module: one weight per word, chosen by the image.

    The paper weights each word by how well it matches the damaged image, using local and
    global image features. Here each projected word first looks over the local features
    (softmax over positions) to find the region it talks about; its score is the dot product
    of the word with (that attended local feature + the mean-pooled global feature), and
    ``w = sigmoid(score)``. The words are rescaled in residual form::

        words_out = words * (1 + gamma * (2 * w - 1)),   gamma initialised to 0,

    so the module starts as the identity (as MMFL's ``γ·A·W + W`` does) and learns how far to
    amplify (w > ½) or damp (w < ½) each word. Padding words get weight 0 and are zeroed.

    ``normalize="softmax"`` makes the words compete for the image's demand instead:
    ``w = softmax(score)`` over the caption's real words (they sum to 1) and, with ``n`` real
    words, ``words_out = words * (1 + gamma * (n * w - 1))``: a caption weighed uniformly is
    left as it is, and a word can only be amplified at the others' expense. Independent
    sigmoids saturated in training (every word's weight 1 or every one 0, in both shipped
    birds models), which left nothing to read from them.

    Args:
        image_channels: channels of the local image feature.
        word_dim: D, channels of the word features.
        hidden: width of the joint space (defaults to ``image_channels``).
        normalize: ``sigmoid`` (independent weights) or ``softmax`` (competing weights).
    """

    def __init__(self, image_channels: int, word_dim: int, hidden: int | None = None,
                 normalize: str = "sigmoid"):
        super().__init__()
        if normalize not in WORD_DEMAND_NORMS:
            raise ValueError(f"normalize must be one of {WORD_DEMAND_NORMS}, got '{normalize}'")
        self.normalize = normalize
        hidden = hidden or image_channels
        self.word_proj = nn.Conv1d(word_dim, hidden, kernel_size=1)
        self.local_proj = nn.Conv2d(image_channels, hidden, kernel_size=1)
        self.global_proj = nn.Linear(image_channels, hidden)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.scale = 1.0 / math.sqrt(hidden)

    def forward(
        self, image: Tensor, words: Tensor, word_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Return ``(reweighted words B×D×T, weights B×T)``; weights are 0 on padding."""
        mask = full_word_mask(words, word_mask)
        q = self.word_proj(words)  # B×K×T
        local = self.local_proj(image).flatten(2)  # B×K×N
        where = torch.softmax(torch.bmm(q.transpose(1, 2), local) * self.scale, dim=-1)  # B×T×N
        attended = torch.bmm(local, where.transpose(1, 2))  # B×K×T
        pooled = self.global_proj(image.mean(dim=(2, 3)))[:, :, None]  # B×K×1
        score = (q * (attended + pooled)).sum(dim=1) * self.scale  # B×T
        if self.normalize == "softmax":
            weights = masked_softmax(score, mask)
            count = mask.sum(dim=1, keepdim=True).to(weights.dtype)
            factor = (1 + self.gamma * (count * weights - 1)) * mask
        else:
            weights = torch.sigmoid(score) * mask
            factor = (1 + self.gamma * (2 * weights - 1)) * mask
        return words * factor[:, None, :], weights


class NonLocalAttention(nn.Module):
    """Pooled non-local attention with a zero-initialised residual gate.

    ``f`` (keys), ``g`` (queries) and ``h`` (values) are 1×1 convolutions to
    ``max(C // reduction, min_inner)`` channels; keys and values are 2×2 max-pooled, which
    quarters the cost. ``out = gamma * conv(softmax(g·fᵀ)·h) + x`` with gamma starting at 0,
    so the layer is the identity at initialisation.

    When a hole mask (``B×1×H×W`` at the feature's size, 1 = hole) is given, only keys drawn
    entirely from the known region are attended — the point of the layer in inpainting is to
    copy from what is known. An image whose keys are all hole attends to every key instead.
    """

    def __init__(self, channels: int, reduction: int = 16, min_inner: int = 8):
        super().__init__()
        inner = max(channels // reduction, min_inner)
        self.f = nn.Conv2d(channels, inner, kernel_size=1)
        self.g = nn.Conv2d(channels, inner, kernel_size=1)
        self.h = nn.Conv2d(channels, inner, kernel_size=1)
        self.out = nn.Conv2d(inner, channels, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.scale = 1.0 / math.sqrt(inner)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Return ``x`` plus the gated attention output (same shape as ``x``)."""
        b, _, height, width = x.shape
        pool = height >= 2 and width >= 2  # a 1×1 map has nothing to pool
        keys, values = self.f(x), self.h(x)
        if pool:
            keys, values = F.max_pool2d(keys, 2), F.max_pool2d(values, 2)
        queries = self.g(x).flatten(2).transpose(1, 2)  # B×N×K
        scores = torch.bmm(queries, keys.flatten(2)) * self.scale  # B×N×M
        if mask is None:
            attn = torch.softmax(scores, dim=-1)
        else:
            hole = F.max_pool2d(mask, 2) if pool else mask
            known = hole.flatten(1) < 0.5  # B×M
            known = known | ~known.any(dim=1, keepdim=True)  # all hole: fall back to all keys
            attn = masked_softmax(scores, known[:, None, :])
        read = torch.bmm(values.flatten(2), attn.transpose(1, 2)).view(b, -1, height, width)
        return x + self.gamma * self.out(read)
