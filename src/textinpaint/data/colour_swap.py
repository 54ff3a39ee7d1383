"""Counterfactual colour swaps: the same context, a bird of another colour, a caption that says so.

In CUB's 40 training classes a bird's colour is mostly predictable from what stays visible,
and some colours are rare or come with others: "yellow" birds there are yellow-headed
blackbirds, chats and olive flycatchers, so a network learns "yellow" as dark olive. A swap
takes a training caption's colour word (say "red"), moves the pixels of that colour, inside
the bird's box only, to another colour's hue, lightness and chroma (say yellow's), and writes
the other word into the caption. The surroundings keep their true colours, so only the
caption can tell the network which colour the hidden bird is: the pairs make the words
decisive (issue 26's counterfactual pairs; a whole-image hue rotation did not, because the
rotated background gives the rotation away).

A colour the bird's surroundings share is not swapped: a green bird among leaves or a yellow
one against sand would have the background of its box repainted too, a rectangle of the new
colour that the network then learns to paint around every bird (the first version did that
for a third of the yellow captions and an eighth of the green ones).

The pixel change is a soft selection in OKLab's lightness-chroma-hue form (Ottosson 2020):
a pixel counts as "red" by how near its hue is to red's and how colourful it is, and moves
towards the target by that weight, so edges and shading stay as the photo has them.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .colour_words import colour_table, oklab_to_srgb, srgb_to_oklab

# Colour words with a hue of their own, the ones a swap moves between. Pink shares red's hue
# and brown orange's (they differ in lightness and chroma), so neither is a swap target.
SWAP_COLOURS = ("red", "orange", "yellow", "green", "blue", "purple")
# A pixel's hue within this many radians of the source colour's counts fully, falling to
# nothing at HUE_OUTER: CUB's "red" birds span crimson to scarlet.
HUE_INNER, HUE_OUTER = np.radians(30.0), np.radians(55.0)
# OKLab chroma below which a pixel is grey, black or white and keeps its colour.
CHROMA_LOW, CHROMA_HIGH = 0.06, 0.11
# The bird's box grown by this fraction of its size on each side: wing tips and tails stick out.
BOX_GROW = 0.1
# The surroundings sampled in a band this wide (a fraction of the grown box's size) around
# the grown box; a colour covering more than RING_SHARE_MAX of that band is not the bird's own.
RING_WIDTH, RING_SHARE_MAX = 0.15, 0.1

@lru_cache(maxsize=1)
def _references() -> dict[str, tuple[float, float, float]]:
    """Each swap colour's (lightness, chroma, hue) in OKLab, from the xkcd survey's RGB."""
    table = colour_table()
    out = {}
    for name in SWAP_COLOURS:
        light, a, b = srgb_to_oklab(np.array(table[name]))
        out[name] = (float(light), float(np.hypot(a, b)), float(np.arctan2(b, a)))
    return out


def smoothstep(low: float, high: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def colour_words_in(caption: str) -> list[str]:
    """The swap colours the caption names, in order of first mention."""
    found = []
    for word in re.findall(r"[a-z]+", caption.lower()):
        if word in SWAP_COLOURS and word not in found:
            found.append(word)
    return found


def recolour(pixels: np.ndarray, source: str, target: str,
             box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Move the ``source``-coloured pixels (inside ``box``, x0 y0 x1 y1, grown by
    :data:`BOX_GROW`; the whole image without one) to ``target``'s hue, lightness and chroma.

    ``pixels`` is H×W×3 uint8; returns a new array of the same shape and dtype.
    """
    window = None if box is None else _box_window(pixels.shape[0], pixels.shape[1], box)
    return recolour_weighted(pixels, source, target, window)


def recolour_weighted(pixels: np.ndarray, source: str, target: str,
                      window: np.ndarray | None = None) -> np.ndarray:
    """:func:`recolour` under an H×W ``window`` of weights in 0..1 (None: the whole image):
    a pixel moves by its weight times how much it counts as ``source``."""
    ref = _references()
    (l_s, c_s, h_s), (l_t, c_t, h_t) = ref[source], ref[target]
    lab = srgb_to_oklab(pixels / 255.0)
    light, (chroma, hue) = lab[..., 0], _chroma_hue(lab)
    weight = _colour_weight(chroma, hue, source)
    if window is not None:
        weight *= window
    # The pixel keeps its offset from the source colour: a dark red becomes a dark yellow, but
    # red's mid lightness becomes yellow's high one (a hue turn alone paints yellow as mustard).
    new_light = light + weight * (l_t - l_s)
    new_chroma = chroma * (1 + weight * (c_t / max(c_s, 1e-6) - 1))
    new_hue = hue + weight * np.angle(np.exp(1j * (h_t - h_s)))
    out = np.stack([new_light, new_chroma * np.cos(new_hue), new_chroma * np.sin(new_hue)], -1)
    return np.round(oklab_to_srgb(out) * 255).astype(np.uint8)


def _chroma_hue(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OKLab pixels' chroma and hue angle."""
    return np.hypot(lab[..., 1], lab[..., 2]), np.arctan2(lab[..., 2], lab[..., 1])


def _colour_weight(chroma: np.ndarray, hue: np.ndarray, colour: str) -> np.ndarray:
    """How much each pixel (its OKLab chroma and hue) counts as ``colour``: near its hue
    and colourful (0..1)."""
    distance = np.abs(np.angle(np.exp(1j * (hue - _references()[colour][2]))))
    return (1 - smoothstep(HUE_INNER, HUE_OUTER, distance)) * smoothstep(
        CHROMA_LOW, CHROMA_HIGH, chroma)


def _in_box(height: int, width: int, box: tuple[float, float, float, float],
            grow: float) -> np.ndarray:
    """Boolean H×W: pixel centres inside ``box`` (x0 y0 x1 y1) grown by ``grow`` of its size."""
    x0, y0, x1, y1 = box
    gx, gy = grow * (x1 - x0), grow * (y1 - y0)
    ys, xs = np.arange(height)[:, None] + 0.5, np.arange(width)[None, :] + 0.5
    return (xs >= x0 - gx) & (xs <= x1 + gx) & (ys >= y0 - gy) & (ys <= y1 + gy)


def _box_window(height: int, width: int, box: tuple[float, float, float, float]) -> np.ndarray:
    return _in_box(height, width, box, BOX_GROW).astype(np.float64)


def _band_chroma_hue(pixels: np.ndarray, box: tuple[float, float, float, float] | None
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """Chroma and hue of the band around the bird's grown box; None without a box or band."""
    if box is None:
        return None
    h, w = pixels.shape[:2]
    band = _in_box(h, w, box, BOX_GROW + RING_WIDTH) & ~_in_box(h, w, box, BOX_GROW)
    return _chroma_hue(srgb_to_oklab(pixels[band] / 255.0)) if band.any() else None


def _share(band: tuple[np.ndarray, np.ndarray] | None, colour: str) -> float:
    return 0.0 if band is None else float(_colour_weight(*band, colour).mean())


def background_share(pixels: np.ndarray, colour: str,
                     box: tuple[float, float, float, float] | None) -> float:
    """How much of the band around the bird's grown box counts as ``colour`` (0..1): the
    share of it that a swap inside the box would also find in the box's background. 0 without
    a box or a band (nothing to compare with)."""
    return _share(_band_chroma_hue(pixels, box), colour)


def own_colours(pixels: np.ndarray, colours: list[str],
                box: tuple[float, float, float, float] | None) -> list[str]:
    """Those of ``colours`` that the band around the bird's grown box does not share
    (:func:`background_share` at most :data:`RING_SHARE_MAX`): a swap may move them without
    repainting the box's background. All of them without a box."""
    band = _band_chroma_hue(pixels, box) if colours else None  # converted once
    return [c for c in colours if _share(band, c) <= RING_SHARE_MAX]


def swap_caption(caption: str, source: str, target: str) -> str:
    """The caption with every whole-word ``source`` replaced by ``target`` (any case), and
    an "a"/"an" before it agreeing with the new word ("a red beak" → "an orange beak")."""
    article = "an" if target[0] in "aeiou" else "a"

    def agree(match: re.Match) -> str:
        word = article.capitalize() if match[1][0].isupper() else article
        return f"{word}{match[2]}{target}"

    swapped = re.sub(rf"\b{source}\b", target, caption, flags=re.IGNORECASE)
    return re.sub(rf"\b(an?)(\s+){target}\b", agree, swapped, flags=re.IGNORECASE)


def colour_swap(pixels: np.ndarray, caption: str, rng: np.random.Generator,
                box: tuple[float, float, float, float] | None = None
                ) -> tuple[np.ndarray, str]:
    """One counterfactual pair member: one of the caption's colour words, chosen at random,
    swapped for a colour it does not name, in the pixels (inside the bird's box) and in the
    words. Colours the box's surroundings share (:func:`background_share` above
    :data:`RING_SHARE_MAX`) are not chosen; a caption that names no other swap colour comes
    back unchanged with its pixels."""
    named = colour_words_in(caption)
    free = [c for c in SWAP_COLOURS if c not in named]
    own = own_colours(pixels, named, box) if free else []
    if not own or not free:
        return pixels, caption
    source = own[int(rng.integers(len(own)))]
    target = free[int(rng.integers(len(free)))]
    return recolour(pixels, source, target, box), swap_caption(caption, source, target)
