"""Where each of a caption's part-colour words should be read: targets for ``loss.part_binding``.

Asked for "a bright red head and a bright blue belly", a model whose every hidden position
reads the same mixture of words paints one blob (``benchmarks/part_colours.py``: each colour
word held 8.3 % of the word attention at both parts). Part swaps alone did not change that:
the image losses score one blob about as well as two coloured parts. These maps say directly
which words a position should read: the colour word of a phrase like "a **red** crown" near
that part's CUB points (``own``), and not near the points of the bird's other parts
(``other``). :func:`textinpaint.losses.binding.part_binding_loss` holds the word attention to
them inside the hole.
"""

from __future__ import annotations

import numpy as np

from .colour_words import BASIC_TERMS
from .masks import visible_parts
from .part_swap import PART_WORDS, colour_phrases, part_window
from .text import tokenize

# The colour words whose parts are bound: the basic terms and CUB's usual spelling of grey
# ("a white belly" matters as much as "a red crown").
BINDING_COLOURS = (*BASIC_TERMS, "gray")


def binding_maps(caption: str, meta: dict | None, resolution: int, size: int, max_len: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(own, other)``, each ``max_len×size×size`` float32 in 0..1, for an item of
    ``resolution`` pixels with ``meta`` (its ``parts`` in pixels, after any flip).

    ``own[t]`` is the window around the part that the colour word (:data:`BINDING_COLOURS`)
    at token position ``t``
    describes; ``other[t]`` the windows of the bird's other visible parts, less ``own[t]``.
    A part another phrase gives the same colour counts as neither (its reading of that word
    is right too). Both are zero for tokens that name no part's colour, and everywhere for
    captions without such a phrase or items without part points.
    """
    own = np.zeros((max_len, size, size), np.float32)
    other = np.zeros_like(own)
    parts = visible_parts(meta)
    if not parts:
        return own, other
    scale = size / resolution
    windows = {}
    for group, names in PART_WORDS.items():
        points = [(parts[n][0] * scale, parts[n][1] * scale) for n in names if n in parts]
        if points:
            windows[group] = part_window(size, size, points)
    tokens = tokenize(caption)
    bound = [(colour, part, len(tokenize(caption[:start])))
             for colour, part, (start, _) in colour_phrases(caption, BINDING_COLOURS)
             if part in windows]
    for colour, part, position in bound:
        if position >= min(max_len, len(tokens)) or tokens[position] != colour:
            # cut off by max_len, or a word the tokenizer reads otherwise ("2red", "naïve")
            continue
        same_colour = {p for c, p, _ in bound if c == colour}
        own[position] = np.maximum(own[position], windows[part])
        for group, window in windows.items():
            if group not in same_colour:
                other[position] = np.maximum(other[position], window)
    other *= 1 - own
    return own, other
