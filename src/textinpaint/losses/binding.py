"""The part-binding loss: hidden positions read the colour word of the part they paint."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..nn.fusion import resize_mask


def part_binding_loss(attentions: list[Tensor], own: Tensor, other: Tensor, mask: Tensor,
                      eps: float = 1e-6) -> Tensor:
    """Cross-entropy of the word attention against the maps of
    :func:`~textinpaint.data.part_binding.binding_maps`, inside the hole, averaged over the
    attention layers.

    ``attentions``: word-attention maps ``B×T×h×w`` (they sum to 1 over the real words);
    ``own``, ``other``: ``B×T×s×s`` targets (area-resized to each map); ``mask``:
    ``B×1×H×W``, 1 = hole. Where ``own`` is set, ``-log a`` (the part reads its colour word);
    where ``other`` is set, ``-log(1 - a)`` (other parts do not), each the weighted mean over
    the batch. A batch without targets in its holes gives 0 (with a graph, for a uniform step).
    """
    total = attentions[0].new_zeros(()).float()
    for attn in attentions:
        attn = attn.float()
        size = tuple(attn.shape[-2:])
        hole = resize_mask(mask.float(), size)
        for target, log_p in ((own, torch.log(attn + eps)),
                              (other, torch.log1p(-attn.clamp(max=1 - eps)))):
            weight = F.adaptive_avg_pool2d(target.float(), size) * hole
            total = total - (weight * log_p).sum() / weight.sum().clamp_min(1.0)
    return total / len(attentions)
