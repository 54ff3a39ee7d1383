"""Counterfactual part swaps: one part of the bird recoloured, one phrase of the caption with it.

A whole-bird colour swap (:mod:`.colour_swap`) teaches that the caption decides the bird's
colour, but not which part a colour word belongs to: every word of the swapped colour moves
together. Asked for "a bright red head and a bright blue belly", a model trained so paints
one blob of one colour, mostly the stronger or the later word's
(``benchmarks/part_colours.py``). In CUB's training
classes the colour of the head follows from the colour of the body, so nothing forces the
words that name a part to act on that part. A part swap takes a caption's colour word that
describes a part ("a **red** crown", "its **yellow** breast"), moves that colour's pixels to
another colour's only around the part's CUB points (the head's crown, forehead, eyes, beak and
nape; the belly's belly, breast and throat; ...), and writes the new word in that phrase
alone: "a blue crown and red wings" over a bird with a blue head and red wings. Only the
phrase can tell the network that the head changed and the wings did not.
"""

from __future__ import annotations

import re

import numpy as np

from .colour_swap import SWAP_COLOURS, colour_words_in, own_colours, recolour_weighted, smoothstep
from .masks import visible_parts

# Caption nouns -> the CUB part points (parts/parts.txt names) around which a swap recolours.
PART_WORDS: dict[str, tuple[str, ...]] = {
    "head": ("crown", "forehead", "left eye", "right eye", "beak", "nape"),
    "belly": ("belly", "breast", "throat"),
    "wings": ("left wing", "right wing"),
    "back": ("back",),
    "tail": ("tail",),
}
NOUNS: dict[str, str] = {
    **dict.fromkeys(("head", "crown", "forehead", "nape", "cheek", "cheeks", "face", "crest",
                     "hood", "eyebrow", "eyebrows", "eyering", "eyerings"), "head"),
    **dict.fromkeys(("belly", "breast", "chest", "abdomen", "throat", "underbelly", "underside",
                     "underparts", "stomach"), "belly"),
    **dict.fromkeys(("wing", "wings", "wingbar", "wingbars", "secondaries", "primaries",
                     "coverts"), "wings"),
    **dict.fromkeys(("back", "mantle"), "back"),
    **dict.fromkeys(("tail", "rectrices", "retrices"), "tail"),
}
# A colour word describes the first part noun at most this many words after it ("a bright red
# and black crown"), within one clause (no comma, full stop or "with" in between).
MAX_GAP = 3
# The recoloured region: discs around the part's points, full weight within INNER × the image
# side and none beyond OUTER × the side, so the repaint fades instead of ending in an edge.
INNER, OUTER = 0.08, 0.12

_WORD = re.compile(r"[a-z]+")


def colour_phrases(caption: str, colours: tuple[str, ...] = SWAP_COLOURS
                   ) -> list[tuple[str, str, tuple[int, int]]]:
    """(colour, part, (start, end) of the colour word in ``caption``) for every word of
    ``colours`` (the swap colours by default) that describes a part noun:
    ``"a red crown and blue wings"`` ->
    ``[("red", "head", (2, 5)), ("blue", "wings", (15, 19))]``."""
    text = caption.lower()
    words = list(_WORD.finditer(text))
    found = []
    for i, word in enumerate(words):
        if word[0] not in colours:
            continue
        for later in words[i + 1:i + 2 + MAX_GAP]:
            between = text[word.end():later.start()]
            if any(mark in between for mark in ",.;") or later[0] == "with":
                break
            if later[0] in NOUNS:
                found.append((word[0], NOUNS[later[0]], word.span()))
                break
    return found


def part_window(height: int, width: int, points: list[tuple[float, float]]) -> np.ndarray:
    """H×W weights (0..1): 1 near any of ``points`` (x, y), fading to 0 (:data:`INNER` ..
    :data:`OUTER` of the image side)."""
    ys, xs = np.arange(height)[:, None] + 0.5, np.arange(width)[None, :] + 0.5
    side = max(height, width)
    window = np.zeros((height, width))
    for x, y in points:
        distance = np.hypot(xs - (x + 0.5), ys - (y + 0.5)) / side
        window = np.maximum(window, 1 - smoothstep(INNER, OUTER, distance))
    return window


def part_swap(pixels: np.ndarray, caption: str, rng: np.random.Generator, meta: dict | None
              ) -> tuple[np.ndarray, str] | None:
    """One part of the bird recoloured and its phrase rewritten, or None where the caption
    names no colour of a part whose points are visible (or only colours the bird's
    surroundings share, or every swap colour): the caller then falls back to a whole swap.

    ``pixels`` H×W×3 uint8; ``meta`` the item's ``bbox`` and visible ``parts`` in pixels.
    """
    parts = visible_parts(meta)
    named = colour_words_in(caption)
    free = [c for c in SWAP_COLOURS if c not in named]
    phrases = [p for p in colour_phrases(caption) if any(q in parts for q in PART_WORDS[p[1]])]
    if not free or not phrases:
        return None
    own = own_colours(pixels, sorted({p[0] for p in phrases}), meta.get("bbox"))
    phrases = [p for p in phrases if p[0] in own]
    if not phrases:
        return None
    source, part, (start, end) = phrases[int(rng.integers(len(phrases)))]
    target = free[int(rng.integers(len(free)))]
    points = [parts[q] for q in PART_WORDS[part] if q in parts]
    window = part_window(pixels.shape[0], pixels.shape[1], points)
    recoloured = recolour_weighted(pixels, source, target, window)
    return recoloured, _rewrite(caption, start, end, target)


def _rewrite(caption: str, start: int, end: int, target: str) -> str:
    """``caption`` with the word at [start, end) replaced by ``target`` and a directly
    preceding "a"/"an" made to agree with it."""
    head = caption[:start]
    article = re.search(r"\b(an?)(\s+)$", head, flags=re.IGNORECASE)
    if article:
        word = "an" if target[0] in "aeiou" else "a"
        word = word.capitalize() if article[1][0].isupper() else word
        head = head[:article.start()] + word + article[2]
    return head + target + caption[end:]
