"""Caption control: does the caption decide the fill?

A *control task* hides what a caption describes (a CUB bird's box, its head, a ``shapes``
target) and fills every image once per caption of a colour palette ("this bird is bright
red all over ...", "... yellow ...", ...). Two numbers come out per image:

* **control accuracy**: for each palette colour c, is the fill made for c, among that image's
  K fills, the one furthest towards c? "Towards c" is measured in CIELab a*b*: each fill's
  mean a*b* over the hole, minus the mean of the image's K fills (so what the context alone
  decides cancels), projected on c's direction (the palette colours' a*b*, centred the same
  way). Ties share the credit, so a method whose K fills are identical scores exactly the
  chance level 1/K, for every colour.
* **caption effect**: the mean CIELab ΔE (CIE76) between the fills of two different captions,
  over hole pixels and all K(K-1)/2 pairs: how much the caption changes the hole at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
import torch

from ..data.colour_words import colour_table
from ..errors import UserError

# Reference colours as they look on birds (plumage, not pure sRGB primaries): their a*b*
# directions are what "towards red" means. Colours shapes' palette knows too, so the same
# palette works for both datasets.
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (200, 35, 35), "yellow": (235, 205, 40), "blue": (40, 95, 205),
    "green": (45, 150, 60), "orange": (235, 125, 30), "purple": (130, 50, 170),
    "brown": (125, 85, 50), "pink": (230, 130, 160),
}
DEFAULT_PALETTE = ("red", "yellow", "blue", "green")
# The caption of each task; {colour} is the palette word. shapes' "object" task instead swaps
# the colour word of the item's own caption (its shape and place stay true).
DEFAULT_TEMPLATES = {
    "box": "this bird is bright {colour} all over with a {colour} head and {colour} wings",
    "head": "this bird has a bright {colour} crown and a {colour} head",
    "object": None,
}
# The hole of each task: the central 70 % of the bird's box, the head's part box, the target.
TASK_MASKS = {"box": "object:-0.15", "head": "part:head", "object": "object"}
TASK_WORDS = {"box": "bird box (central 70 %)", "head": "CUB head parts",
              "object": "shapes target object"}


@dataclass(frozen=True)
class ControlTask:
    """One control task: its hole, its palette and how to write a palette caption."""

    kind: str
    palette: tuple[str, ...]
    template: str | None
    # (name, RGB) of each palette colour: a --palette name=#rrggbb or xkcd name is no
    # entry of COLOUR_RGB
    rgb: tuple[tuple[str, tuple[int, int, int]], ...] = ()

    @property
    def masks(self) -> str:
        return TASK_MASKS[self.kind]

    def captions(self, caption: str, target: dict | None) -> list[str]:
        """The K palette captions for an item (its own caption and shapes target)."""
        if self.template is not None:
            return [self.template.format(colour=c) for c in self.palette]
        from ..data.shapes import recolor_caption

        return [recolor_caption(caption, target["color"], c) for c in self.palette]


def parse_palette(text: str | None) -> tuple[tuple[str, ...], dict[str, tuple[int, int, int]]]:
    """``"red,yellow,blue,green"`` or ``"red,teal=#20a0a0"`` -> (names, name -> RGB)."""
    names, rgb = [], {}
    for part in (text or ",".join(DEFAULT_PALETTE)).split(","):
        name, _, hex_code = part.strip().partition("=")
        name = name.strip().lower()
        if not name:
            continue
        if hex_code:
            code = hex_code.strip().lstrip("#")
            if len(code) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in code):
                raise UserError(f"--palette: '{part}' needs a colour as #rrggbb")
            rgb[name] = tuple(int(code[i:i + 2], 16) for i in (0, 2, 4))
        elif name in COLOUR_RGB:
            rgb[name] = COLOUR_RGB[name]
        elif name in colour_table():  # any one-word CSS4/xkcd colour name, e.g. cobalt
            rgb[name] = tuple(round(255 * c) for c in colour_table()[name])
        else:
            raise UserError(f"--palette: unknown colour '{name}'; use a colour name (red, "
                            f"cobalt, vermillion, ...: CSS4 or xkcd) or name=#rrggbb")
        names.append(name)
    if len(names) < 2 or len(set(names)) != len(names):
        raise UserError(f"--palette needs at least two different colours, got {names}")
    return tuple(names), rgb


def build_tasks(kinds: list[str], palette: str | None = None,
                templates: dict[str, str] | None = None) -> list[ControlTask]:
    """Control tasks for ``kinds`` (box, head, object), with their palette and templates."""
    names, rgb = parse_palette(palette)
    out = []
    for kind in kinds:
        if kind not in TASK_MASKS:
            raise UserError(f"--control: unknown task '{kind}'; use {', '.join(TASK_MASKS)}, "
                            "auto or none")
        template = (templates or {}).get(kind, DEFAULT_TEMPLATES[kind])
        if template is not None and "{colour}" not in template:
            raise UserError(f"--template {kind}: the template must contain {{colour}}, got "
                            f"{template!r}")
        out.append(ControlTask(kind, names, template, tuple(rgb.items())))
    return out


def auto_kinds(dataset_spec: str) -> list[str]:
    """The control tasks a dataset supports: CUB box and head, shapes object, else none."""
    name = dataset_spec.partition(":")[0].strip().lower()
    return {"cub": ["box", "head"], "shapes": ["object"]}.get(name, [])


def to_lab(images: torch.Tensor) -> torch.Tensor:
    """CIELab (L 0-100, a*, b*) of B×3×H×W RGB in [0, 1] (kornia, D65)."""
    from kornia.color import rgb_to_lab

    return rgb_to_lab(images.float().clamp(0, 1))


def directions(palette: tuple[str, ...], rgb: dict[str, tuple[int, int, int]] | None = None
               ) -> np.ndarray:
    """K×2 unit a*b* directions of the palette colours, centred on their mean."""
    rgb = rgb or COLOUR_RGB
    colours = torch.tensor([rgb[c] for c in palette], dtype=torch.float32) / 255
    ab = to_lab(colours[:, :, None, None])[:, 1:, 0, 0].double().numpy()
    ab = ab - ab.mean(axis=0)
    return ab / np.linalg.norm(ab, axis=1, keepdims=True).clip(1e-9)


def hole_ab(lab: torch.Tensor, hole: torch.Tensor) -> np.ndarray:
    """Mean a*b* over the hole of each image: B×3×H×W Lab, B×H×W bool -> B×2."""
    w = hole[:, None].double()
    return ((lab[:, 1:].double() * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1)).numpy()


def control_hits(ab: np.ndarray, dirs: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Credit per (image, colour): 1 if the fill for colour c is the one furthest towards c
    among the image's fills, split evenly among ties (so identical fills give 1/K).

    Args:
        ab: N×K×2, mean hole a*b* of each image's fill for each palette colour.
        dirs: K×2 unit directions (:func:`directions`).

    Returns:
        N×K credits in [0, 1].
    """
    centred = ab - ab.mean(axis=1, keepdims=True)
    proj = np.einsum("nkd,cd->nck", centred, dirs)  # N × colour asked × fill
    best = proj.max(axis=2, keepdims=True)
    tied = proj >= best - tol
    k = np.arange(dirs.shape[0])
    return tied[:, k, k] / tied.sum(axis=2)


def caption_effect(labs: list[torch.Tensor], hole: torch.Tensor) -> np.ndarray:
    """Mean CIELab ΔE76 over hole pixels between every pair of an image's K fills (B)."""
    w = hole.double()
    total = torch.zeros(hole.shape[0], dtype=torch.float64)
    pairs = 0
    for i in range(len(labs)):
        for j in range(i + 1, len(labs)):
            de = (labs[i].double() - labs[j].double()).norm(dim=1)
            total += (de * w).sum(dim=(1, 2)) / w.sum(dim=(1, 2)).clamp_min(1)
            pairs += 1
    return (total / max(pairs, 1)).numpy()


def top2_credit(weights: np.ndarray, colour_positions: list[int], tol: float = 1e-3) -> float:
    """Probability that a colour word is among the two highest word weights, ties broken at
    random (so all-equal weights give the chance level, not a hit). Weights within ``tol``
    count as tied: the explain view shows two decimals, and a saturated module's 1e-13
    differences mean nothing.

    Args:
        weights: the caption's real words' weights (T).
        colour_positions: indices of the colour word in the caption.
    """
    if not colour_positions or len(weights) < 2:
        return float("nan")
    wc = max(weights[p] for p in colour_positions)
    greater = int((weights > wc + tol).sum())
    slots = 2 - greater
    if slots <= 0:
        return 0.0
    tied = np.abs(weights - wc) <= tol
    n_tied = int(tied.sum())
    colour_tied = sum(1 for p in colour_positions if tied[p])
    slots = min(slots, n_tied)
    return 1.0 - comb(n_tied - colour_tied, slots) / comb(n_tied, slots)


def top2_chance(length: int, occurrences: int) -> float:
    """:func:`top2_credit` of uniformly random weights: 1 - C(T-o, 2) / C(T, 2)."""
    if length < 2 or occurrences < 1:
        return float("nan")
    return 1.0 - comb(length - occurrences, 2) / comb(length, 2)


def attention_concentration(attn: torch.Tensor, hole_cells: torch.Tensor) -> torch.Tensor:
    """How much more of a word's attention falls in the hole than a uniform map would put
    there: (share of the map's mass inside the hole) / (hole fraction). 1 = uniform.

    Args:
        attn: B×h×w, one word's attention map per image.
        hole_cells: B×h×w, the hole fraction of each attention cell.

    Returns:
        B values (NaN where the map is all zero or the hole is empty).
    """
    mass = attn.double().sum(dim=(1, 2))
    inside = (attn.double() * hole_cells.double()).sum(dim=(1, 2))
    frac = hole_cells.double().mean(dim=(1, 2))
    out = (inside / mass.clamp_min(1e-12)) / frac.clamp_min(1e-12)
    return torch.where((mass > 0) & (frac > 0), out, torch.full_like(out, float("nan")))
