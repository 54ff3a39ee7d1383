"""Colour words a model never read, steered like the basic colour word they look like.

A bird model's vocabulary is the words of its training captions (2,024 for CUB): a user who
writes "a cerulean crown" or "a vermilion belly" would otherwise have the colour word dropped
as unknown, and the fill would follow no colour at all. Colour names are a closed, well
documented set: matplotlib ships the 148 CSS4 colours and the 954 of the xkcd colour survey
(Munroe, 2010), each with its RGB value. An unknown word that is one of those names is read
as the *basic colour term* (Berlin & Kay's eleven: red, orange, yellow, green, blue, purple,
pink, brown, grey, black, white) nearest to it in OKLab, provided the model knows that term.

This is a lookup, not learned semantics: it covers colour names only. Pretrained word vectors
were measured for the same job and rejected (GloVe 6B 50-d nearest in-vocabulary neighbours:
cobalt -> copper, magenta -> chartreuse, cerulean -> dusky; see docs/EXPERIMENTS.md).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Berlin & Kay's eleven basic colour terms, the targets an unknown colour name is read as.
BASIC_TERMS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "grey",
               "black", "white")


# Linear sRGB -> LMS and LMS^(1/3) -> OKLab (Ottosson 2020). OKLab's hues stay put as
# lightness and chroma change, where CIELab's blues drift to purple: in CIELab "cerulean" and
# "cobalt" are nearer grey and purple than blue.
_LMS = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                 [0.2119034982, 0.6806995451, 0.1073969566],
                 [0.0883024619, 0.2817188376, 0.6299787005]])
_OKLAB = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                   [1.9779984951, -2.4285922050, 0.4505937099],
                   [0.0259040371, 0.7827717662, -0.8086757660]])
# Lightness counts half: a dark blue is still blue, not black.
LIGHTNESS_WEIGHT = 0.5


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (…×3) -> OKLab (…×3)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return np.cbrt(linear @ _LMS.T) @ _OKLAB.T


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """OKLab (…×3) -> sRGB in [0, 1] (…×3), out-of-gamut colours clipped."""
    lms = np.asarray(lab, dtype=np.float64) @ np.linalg.inv(_OKLAB).T
    linear = np.clip(lms ** 3 @ np.linalg.inv(_LMS).T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def _oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (N×3) -> OKLab (N×3), with L scaled by :data:`LIGHTNESS_WEIGHT`."""
    return srgb_to_oklab(rgb) * np.array([LIGHTNESS_WEIGHT, 1.0, 1.0])


@lru_cache(maxsize=1)
def colour_table() -> dict[str, tuple[float, float, float]]:
    """Every one-word colour name matplotlib knows -> sRGB in [0, 1]. The xkcd survey's value
    wins over CSS4's where both name a colour: it is what people call that name (CSS's
    "brown" is a dark red, its "green" a dark green)."""
    from matplotlib import colors

    table: dict[str, tuple[float, float, float]] = {}
    named = [(name.removeprefix("xkcd:"), code) for name, code in colors.XKCD_COLORS.items()]
    named += list(colors.CSS4_COLORS.items())
    for name, code in named:
        if name.isascii() and name.isalpha():  # one token, as the tokenizer splits words
            table.setdefault(name.lower(), colors.to_rgb(code))
    return table


@lru_cache(maxsize=64)
def _targets(known: frozenset[str]) -> tuple[tuple[str, ...], np.ndarray]:
    table = colour_table()
    terms = tuple(t for t in BASIC_TERMS if t in known and t in table)
    lab = _oklab(np.array([table[t] for t in terms])) if terms else np.zeros((0, 3))
    return terms, lab


def basic_colour_for(word: str, known: frozenset[str]) -> str | None:
    """The basic colour term (one of ``known``) that the colour name ``word`` is nearest to
    in OKLab, or None when ``word`` names no colour (or the model knows no basic term)."""
    rgb = colour_table().get(word.lower())
    terms, lab = _targets(known)
    if rgb is None or not terms:
        return None
    here = _oklab(np.array([rgb]))[0]
    return terms[int(np.argmin(((lab - here) ** 2).sum(axis=1)))]
