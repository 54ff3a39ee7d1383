"""Captions whose colour word no longer fits the photo: negatives for a matching-aware critic.

The discriminator reads the caption's sentence feature (a projection term), but it only ever
sees real photos with their own captions and fills with theirs, so nothing asks it whether a
bird's colour agrees with the words: "green" and "yellow" fills that share one olive mode
pass alike. GAN-INT-CLS (Reed et al. 2016) adds real images with the wrong caption as a third
kind of fake. Here the wrong caption is the photo's own with one colour word changed to
another colour (every mention of it, so "yellow crown and yellow belly" becomes "green crown
and green belly"): the rest of the sentence still fits, and only the colour tells the two
apart, which is what the generator's colours have to answer to.
"""

from __future__ import annotations

import torch

from ..data.colour_swap import SWAP_COLOURS


def colour_token_ids(stoi: dict[str, int]) -> list[int]:
    """The vocabulary ids of the swap colours the vocabulary knows, in SWAP_COLOURS order."""
    return [stoi[word] for word in SWAP_COLOURS if word in stoi]


def colour_mismatched(tokens: torch.Tensor, lengths: torch.Tensor, colour_ids: list[int],
                      generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each caption with one of its colour words changed to another colour: ``(tokens, changed)``.

    ``tokens`` B×T and ``lengths`` B as the text encoder takes them. For each caption naming at
    least one of ``colour_ids`` (within its length), one named colour is drawn and every
    occurrence of it is replaced by a different colour of ``colour_ids``, drawn too; captions
    naming none are returned as they are. ``changed`` (bool B) says which were changed. All
    draws come from ``generator``, so a step's negatives are the same on a resumed run.
    """
    out = tokens.clone()
    changed = torch.zeros(tokens.shape[0], dtype=torch.bool)
    if len(colour_ids) < 2:
        return out, changed
    for row, length in enumerate(lengths.tolist()):
        words = out[row, :length]  # a view: writing to it changes the caption in ``out``
        named = [c for c in colour_ids if bool((words == c).any())]
        if not named:
            continue
        source = named[int(torch.randint(len(named), (1,), generator=generator))]
        others = [c for c in colour_ids if c != source]
        words[words == source] = others[int(torch.randint(len(others), (1,),
                                                          generator=generator))]
        changed[row] = True
    return out, changed
