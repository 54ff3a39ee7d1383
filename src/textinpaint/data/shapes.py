"""``shapes``: synthetic captioned scenes generated on the fly (no files needed).

Each scene holds one to three coloured shapes in the cells of a 3×3 grid (with jitter) on a
muted gradient, stripe or noise background, and a caption from a small grammar such as
"a large red circle at the top left and a small blue square below it". The first object
the caption mentions is the *target*: it is always named with its colour and shape, no other
object of the scene shares that colour+shape pair, and ``meta["bbox"]`` is its box plus a
small margin, so the ``object`` mask hides it completely. What belongs in the hole can then
be known only from the text, which is what makes this the dataset that proves text matters.

A scene is a pure function of (seed, split, index); train and test draw from different seed
streams. Scenes live in resolution-free unit coordinates and are rendered antialiased at any
resolution, so the same scene can be shown at 32 or 256 px. Every sample carries the ground
truth of all its objects (``objects``), and :func:`score_fill` decides whether an inpainted
target has the colour (and shape) the caption asked for — evaluation's caption accuracy.

Background tones are low-saturation mid greys and the object palette is saturated or
near-white/black, so a pixel's class (background or which palette colour) is decidable from
its RGB value alone.
"""

from __future__ import annotations

import functools
import itertools
import math

import cv2
import numpy as np
from torch.utils.data import Dataset

from ..errors import UserError
from .base import make_sample
from .text import DEFAULT_MAX_LEN, Vocabulary, tokenize

__all__ = [
    "BACKGROUND", "COLORS", "DEFAULT_LENGTHS", "POSITIONS", "SHAPES", "SIZES", "ShapesDataset",
    "all_caption_words", "caption_claims", "caption_fits", "caption_for", "classify_color",
    "describe", "object_alpha", "recolor_caption", "render_scene", "sample_scene",
    "scene_objects", "score_fill", "target_bbox", "true_captions",
]  # fmt: skip

# Object palette: far apart in RGB (closest pair, red/orange, ~100 apart) and far from the
# muted background tones.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (215, 25, 35),
    "green": (30, 170, 50),
    "blue": (30, 70, 225),
    "yellow": (240, 225, 40),
    "purple": (140, 40, 185),
    "orange": (245, 120, 15),
    "white": (248, 248, 248),
    "black": (18, 18, 18),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond")
# Side of the object's (square) box as a fraction of the image side.
SIZES: dict[str, float] = {"small": 0.15, "medium": 0.21, "large": 0.27}
# The 3×3 grid cells, row-major; cell i is row i // 3, column i % 3.
POSITIONS: tuple[str, ...] = (
    "top left", "top", "top right", "left", "centre", "right",
    "bottom left", "bottom", "bottom right",
)  # fmt: skip
BACKGROUND = "background"  # score_fill's colour name when nothing object-like was painted
DEFAULT_LENGTHS = {"train": 20_000, "test": 1_000}
SPLITS = ("train", "test", "all")
_SPLIT_CODE = {"train": 1, "test": 2}  # separate seed streams: train and test never share one

_PALETTE = np.array(list(COLORS.values()), dtype=np.float32)
_COLOR_NAMES = tuple(COLORS)
_COLOR_JITTER = 12  # per-channel jitter of an object's colour around its palette entry
_CELL = 1.0 / 3.0
_POS_JITTER = 0.05  # of the image side, around the cell centre
_BORDER = 0.02  # objects keep this far from the image edge
_MIN_GAP = 0.06  # between the boxes of two objects (so the target's hole holds no other)
_PIXEL_NOISE = 2.5  # sensor-like noise (std, grey levels) over the whole image
_NOISE_TILE = 512

# -- grammar ------------------------------------------------------------------------------
_SIZE_WORDS = {"small": ("small", "little"), "medium": ("medium",), "large": ("large", "big")}
_POSITION_PHRASES: tuple[tuple[str, ...], ...] = (
    ("at the top left", "in the top left", "in the top left corner", "at the upper left"),
    ("at the top", "at the top centre", "at the top center", "in the top middle"),
    ("at the top right", "in the top right", "in the top right corner", "at the upper right"),
    ("on the left", "at the left", "on the left side"),
    ("in the centre", "in the center", "in the middle", "at the centre", "at the center"),
    ("on the right", "at the right", "on the right side"),
    ("at the bottom left", "in the bottom left", "in the bottom left corner",
     "at the lower left"),
    ("at the bottom", "at the bottom centre", "at the bottom center", "in the bottom middle"),
    ("at the bottom right", "in the bottom right", "in the bottom right corner",
     "at the lower right"),
)  # fmt: skip
# Where another object is relative to the target: (row sign, column sign) -> phrases.
_RELATIONS: dict[tuple[int, int], tuple[str, ...]] = {
    (0, 1): ("to the right of it", "to its right", "right of it"),
    (0, -1): ("to the left of it", "to its left", "left of it"),
    (-1, 0): ("above it", "over it"),
    (1, 0): ("below it", "under it", "beneath it"),
    (-1, 1): ("to its upper right", "above it to the right"),
    (-1, -1): ("to its upper left", "above it to the left"),
    (1, 1): ("to its lower right", "below it to the right"),
    (1, -1): ("to its lower left", "below it to the left"),
}
_PREFIXES = ("there is ", "a picture of ", "an image of ", "a scene with ")


# --------------------------------------------------------------------------------------------
# scenes


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def sample_scene(rng: np.random.Generator) -> dict:
    """Draw one scene (resolution-free) from ``rng``.

    Returns ``{"objects": [...], "background": {...}}``. Objects are dicts with ``color``,
    ``shape``, ``size``, ``rgb`` (the jittered colour actually drawn), ``cell`` (0-8, see
    :data:`POSITIONS`), ``cx``, ``cy``, ``half`` (centre and half side in units of the image
    side) and ``target``; ``objects[0]`` is the target.
    """
    n = int(rng.choice(3, p=(0.3, 0.4, 0.3))) + 1
    cells = rng.choice(9, size=n, replace=False)
    objects = []
    for i, cell in enumerate(cells):
        color, shape = _pick(rng, _COLOR_NAMES), _pick(rng, SHAPES)
        # The caption must single out the target: no other object repeats its colour+shape.
        while i > 0 and (color, shape) == (objects[0]["color"], objects[0]["shape"]):
            color, shape = _pick(rng, _COLOR_NAMES), _pick(rng, SHAPES)
        size = _pick(rng, tuple(SIZES))
        jitter = rng.integers(-_COLOR_JITTER, _COLOR_JITTER + 1, size=3)
        rgb = np.clip(np.array(COLORS[color]) + jitter, 0, 255)
        objects.append({
            "color": color, "shape": shape, "size": size, "rgb": [int(v) for v in rgb],
            "cell": int(cell), "half": SIZES[size] / 2, "target": i == 0,
        })  # fmt: skip
    _place(objects, rng)
    return {"objects": objects, "background": _sample_background(rng)}


def _place(objects: list[dict], rng: np.random.Generator, tries: int = 20) -> None:
    """Jitter each object around its cell centre, rejecting layouts whose boxes come closer
    than ``_MIN_GAP``; the last try uses no jitter, which always fits (cells are 1/3 wide and
    the largest box is 0.27 + gap 0.06 ≤ 1/3)."""
    for attempt in range(tries):
        scale = _POS_JITTER if attempt < tries - 1 else 0.0
        for obj in objects:
            row, col = divmod(obj["cell"], 3)
            lo, hi = obj["half"] + _BORDER, 1 - obj["half"] - _BORDER
            obj["cx"] = float(np.clip((col + 0.5) * _CELL + rng.uniform(-scale, scale), lo, hi))
            obj["cy"] = float(np.clip((row + 0.5) * _CELL + rng.uniform(-scale, scale), lo, hi))
        if _separated(objects):
            return


def _separated(objects: list[dict]) -> bool:
    for i, a in enumerate(objects):
        for b in objects[i + 1:]:
            gap_x = abs(a["cx"] - b["cx"]) - a["half"] - b["half"]
            gap_y = abs(a["cy"] - b["cy"]) - a["half"] - b["half"]
            if max(gap_x, gap_y) < _MIN_GAP:
                return False
    return True


def _muted_tone(rng: np.random.Generator, grey: float) -> list[float]:
    # Low saturation (tint ±15 around a mid grey): never mistaken for a palette colour.
    return [float(v) for v in np.clip(grey + rng.uniform(-15, 15, size=3), 70, 190)]


def _sample_background(rng: np.random.Generator) -> dict:
    grey = rng.uniform(90, 170)
    other = float(np.clip(grey + rng.choice((-1, 1)) * rng.uniform(20, 50), 85, 175))
    return {
        "kind": _pick(rng, ("gradient", "stripes", "noise")),
        "tones": [_muted_tone(rng, grey), _muted_tone(rng, other)],
        "angle": float(rng.uniform(0, math.pi)),
        "period": float(rng.uniform(0.12, 0.3)),  # stripes, in image sides
        "phase": float(rng.uniform(0, 2 * math.pi)),
        "grid": int(rng.integers(3, 7)),  # noise texture: random values on a grid×grid lattice
        "seed": int(rng.integers(2**31)),  # texture and pixel noise
    }


# --------------------------------------------------------------------------------------------
# rendering


def _unit_polygon(shape: str) -> np.ndarray:
    """The outline of ``shape`` filling the box [-1, 1]² exactly (y points down)."""
    if shape == "circle":
        t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if shape == "square":
        return np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64)
    if shape == "diamond":
        return np.array([(0, -1), (1, 0), (0, 1), (-1, 0)], dtype=np.float64)
    if shape == "triangle":
        return np.array([(0, -1), (1, 1), (-1, 1)], dtype=np.float64)
    if shape == "star":
        t = -math.pi / 2 + np.arange(10) * math.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.5)  # a fat star stays a star at 32 px
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
        lo, hi = pts.min(0), pts.max(0)
        return (pts - lo) / (hi - lo) * 2 - 1  # stretch to fill the box
    raise ValueError(f"unknown shape '{shape}'")


_POLYGONS = {s: _unit_polygon(s) for s in SHAPES}


def _shape_alpha(shape: str, box, height: int, width: int) -> np.ndarray:
    """Antialiased coverage (float32 H×W in [0, 1]) of ``shape`` stretched over ``box``
    = (x0, y0, x1, y1) in continuous pixel coordinates (pixel i spans [i, i + 1))."""
    x0, y0, x1, y1 = box
    unit = _POLYGONS[shape]
    xs = x0 + (unit[:, 0] + 1) / 2 * (x1 - x0)
    ys = y0 + (unit[:, 1] + 1) / 2 * (y1 - y0)
    # OpenCV puts pixel centres on integers; 4 fractional bits give subpixel placement.
    pts = np.round((np.stack([xs, ys], 1) - 0.5) * 16).astype(np.int32)
    canvas = np.zeros((height, width), np.uint8)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _box_px(obj: dict, resolution: int) -> list[float]:
    c = np.array([obj["cx"], obj["cy"]]) * resolution
    h = obj["half"] * resolution
    return [float(c[0] - h), float(c[1] - h), float(c[0] + h), float(c[1] + h)]


def _roi(box, height: int, width: int, pad: int = 1) -> tuple[int, int, int, int]:
    """Integer (c0, r0, c1, r1) window holding every pixel ``box`` touches, plus ``pad``."""
    c0 = min(max(int(math.floor(box[0])) - pad, 0), width - 1)
    r0 = min(max(int(math.floor(box[1])) - pad, 0), height - 1)
    c1 = max(min(int(math.ceil(box[2])) + pad, width), c0 + 1)
    r1 = max(min(int(math.ceil(box[3])) + pad, height), r0 + 1)
    return c0, r0, c1, r1


def _alpha_in(shape: str, box, window) -> np.ndarray:
    """Coverage of ``shape`` over ``box`` (image pixels) inside the (c0, r0, c1, r1) window."""
    c0, r0, c1, r1 = window
    local = (box[0] - c0, box[1] - r0, box[2] - c0, box[3] - r0)
    return _shape_alpha(shape, local, r1 - r0, c1 - c0)


def object_alpha(obj: dict, resolution: int) -> np.ndarray:
    """Coverage (float32 R×R in [0, 1]) of one scene object rendered at ``resolution``."""
    box = _box_px(obj, resolution)
    c0, r0, c1, r1 = window = _roi(box, resolution, resolution)
    alpha = np.zeros((resolution, resolution), np.float32)
    alpha[r0:r1, c0:c1] = _alpha_in(obj["shape"], box, window)
    return alpha


def _background(bg: dict, resolution: int, rng: np.random.Generator) -> np.ndarray:
    r = resolution
    coords = (np.arange(r, dtype=np.float32) + 0.5) / r
    ca, sa = math.cos(bg["angle"]), math.sin(bg["angle"])
    u = coords[None, :] * ca + coords[:, None] * sa  # distance along the angle, H×W
    if bg["kind"] == "gradient":
        span = abs(ca) + abs(sa)
        t = (u - (min(0, ca) + min(0, sa))) / span
    elif bg["kind"] == "stripes":
        t = 0.5 + 0.5 * np.sin(u * (2 * math.pi / bg["period"]) + bg["phase"])
    else:
        lattice = rng.random((bg["grid"], bg["grid"])).astype(np.float32)
        t = np.clip(cv2.resize(lattice, (r, r), interpolation=cv2.INTER_CUBIC), 0, 1)
    a, b = bg["tones"]
    # Channel by channel: numpy broadcasts over a trailing axis of 3 several times slower.
    return cv2.merge([(a[c] + (b[c] - a[c]) * t).astype(np.float32) for c in range(3)])


@functools.lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    """A fixed field of Gaussian noise; images take a random window of it (drawing fresh
    normals costs more than the rest of a 256 px render)."""
    return np.random.default_rng(20201012).standard_normal((_NOISE_TILE, _NOISE_TILE, 3),
                                                           dtype=np.float32)


def _pixel_noise(rng: np.random.Generator, resolution: int) -> np.ndarray:
    if resolution > _NOISE_TILE:
        return rng.standard_normal((resolution, resolution, 3), dtype=np.float32)
    y, x = rng.integers(_NOISE_TILE - resolution + 1, size=2)
    return _noise_tile()[y:y + resolution, x:x + resolution]


def render_scene(scene: dict, resolution: int) -> np.ndarray:
    """Render ``scene`` as uint8 ``resolution``×``resolution``×3 RGB, antialiased."""
    rng = np.random.default_rng(scene["background"]["seed"])
    img = _background(scene["background"], resolution, rng)
    for obj in scene["objects"]:
        # Drawn in a window around the object only: a third of the time at 256 px.
        box = _box_px(obj, resolution)
        c0, r0, c1, r1 = window = _roi(box, resolution, resolution)
        alpha = _alpha_in(obj["shape"], box, window)[..., None]
        patch = img[r0:r1, c0:c1]
        patch += (np.asarray(obj["rgb"], np.float32) - patch) * alpha
    img += _pixel_noise(rng, resolution) * _PIXEL_NOISE
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _margin(box) -> float:
    # Covers the antialiased rim (≤ 1 px) plus a little slack; stays below half the gap
    # between objects at every resolution ≥ 32.
    return max(1.5, 0.05 * (box[2] - box[0]))


def _grown(box, resolution: int) -> tuple[float, float, float, float]:
    m = _margin(box)
    x0, y0, x1, y1 = box
    return (max(0.0, x0 - m), max(0.0, y0 - m), min(float(resolution), x1 + m),
            min(float(resolution), y1 + m))


def target_bbox(scene: dict, resolution: int) -> tuple[float, float, float, float]:
    """The target's box plus a small margin, in output pixels: the ``object`` mask's hole."""
    return _grown(_box_px(scene["objects"][0], resolution), resolution)


def scene_objects(scene: dict, resolution: int) -> list[dict]:
    """Ground truth of every object at ``resolution`` (a sample's ``objects``): ``color``,
    ``shape``, ``size``, ``position`` (grid word), ``box`` [x0, y0, x1, y1] (tight, output
    pixels), ``rgb`` and ``target``."""
    return [
        {"color": o["color"], "shape": o["shape"], "size": o["size"],
         "position": POSITIONS[o["cell"]], "box": _box_px(o, resolution),
         "rgb": list(o["rgb"]), "target": bool(o["target"])}
        for o in scene["objects"]
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# captions


def _noun_phrase(obj: dict, rng: np.random.Generator, sizes: bool, color: bool = True) -> str:
    words = []
    if sizes and rng.random() < 0.5:
        words.append(_pick(rng, _SIZE_WORDS[obj["size"]]))
    if color:
        words.append(obj["color"])
    words.append(obj["shape"])
    article = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([article, *words])


def _relation(target: dict, other: dict, rng: np.random.Generator) -> str:
    (tr, tc), (orow, oc) = divmod(target["cell"], 3), divmod(other["cell"], 3)
    key = (int(np.sign(orow - tr)), int(np.sign(oc - tc)))
    return _pick(rng, _RELATIONS[key])


def _compose(scene: dict, rng: np.random.Generator, prefix: bool, sizes: bool,
             others: bool) -> str:
    target, rest = scene["objects"][0], list(scene["objects"][1:])
    head = _noun_phrase(target, rng, sizes)  # always colour + shape: the text-critical part
    placed = not rest or rng.random() < 0.85
    if placed:
        head += " " + _pick(rng, _POSITION_PHRASES[target["cell"]])
    if prefix and rng.random() < 0.3:
        head = _pick(rng, _PREFIXES) + head
    k = int(rng.integers(len(rest) + 1)) if others and rest else 0
    mentioned = [rest[i] for i in rng.permutation(len(rest))[:k]]
    if k == 0:
        return head
    # Other objects: mostly colour + shape, sometimes only the shape.
    nps = [_noun_phrase(o, rng, sizes, color=rng.random() < 0.85) for o in mentioned]
    if k == 1:
        # Without the target's own position, "a red circle and a blue square at the top"
        # would read as both at the top: only the relative forms then.
        form = int(rng.integers(3 if placed else 2))
        joint = "with" if form == 1 else "and"
        where = (_relation(target, mentioned[0], rng) if form < 2
                 else _pick(rng, _POSITION_PHRASES[mentioned[0]["cell"]]))
        return f"{head} {joint} {nps[0]} {where}"
    form = int(rng.integers(3))
    if form == 0:
        return f"{head} with {nps[0]} and {nps[1]}"
    first = (_relation(target, mentioned[0], rng) if form == 1
             else _pick(rng, _POSITION_PHRASES[mentioned[0]["cell"]]))
    second = _pick(rng, _POSITION_PHRASES[mentioned[1]["cell"]])
    return f"{head}, {nps[0]} {first} and {nps[1]} {second}"


def caption_for(scene: dict, rng: np.random.Generator, max_len: int = DEFAULT_MAX_LEN) -> str:
    """A caption for ``scene`` from the grammar, at most ``max_len`` tokens where possible.

    The target (``objects[0]``) comes first and always with its colour and shape; too long
    a draw is redrawn without a prefix, then without size words, then without other objects.
    """
    for level in range(4):
        caption = _compose(scene, rng, prefix=level < 1, sizes=level < 2, others=level < 3)
        if len(tokenize(caption)) <= max_len:
            break
    return caption


def recolor_caption(caption: str, old: str, new: str) -> str:
    """Swap the colour word ``old`` for ``new`` (fixing "a"/"an"), e.g. to show that the
    fill follows the text: ``recolor_caption("an orange star", "orange", "blue")`` gives
    ``"a blue star"``."""
    words = caption.split(" ")
    for i, word in enumerate(words):
        if word.strip(",.") == old:
            words[i] = word.replace(old, new)
            if i > 0 and words[i - 1].lower() in ("a", "an"):
                words[i - 1] = "an" if new[0] in "aeiou" else "a"
    return " ".join(words)


def all_caption_words() -> list[str]:
    """Phrases that together hold every word the grammar can produce (the vocabulary's
    source for ``shapes``)."""
    phrases = [f"a {c} {s}" for c in COLORS for s in SHAPES]
    phrases += ["an " + " ".join(ws) for ws in _SIZE_WORDS.values()]
    phrases += [p for cell in _POSITION_PHRASES for p in cell]
    phrases += [p for rel in _RELATIONS.values() for p in rel]
    phrases += [p.strip() for p in _PREFIXES]
    phrases += ["and", "with"]
    return phrases


# --------------------------------------------------------------------------------------------
# reading captions back: is a caption true of a scene?

_SIZE_OF_WORD = {w: size for size, words in _SIZE_WORDS.items() for w in words}
# (words, ("cell", i) | ("relation", (row sign, column sign))), longest first so that
# "at the top left" wins over "at the top".
_PLACE_PHRASES = sorted(
    [(p.split(), ("cell", cell)) for cell, ps in enumerate(_POSITION_PHRASES) for p in ps]
    + [(p.split(), ("relation", key)) for key, ps in _RELATIONS.items() for p in ps],
    key=lambda item: -len(item[0]),
)


def caption_claims(caption: str) -> list[dict]:
    """What a grammar caption says, one dict per object it mentions, in order (the first is
    the target): ``shape``, ``color`` and ``size`` (None when not said) and ``where``:
    None, ``("cell", 0-8)`` or ``("relation", (row sign, column sign))`` relative to the
    first object."""
    words = caption.lower().replace(",", " ").split()
    claims = []
    for i, word in enumerate(words):
        if word not in SHAPES:
            continue
        claim = {"shape": word, "color": None, "size": None, "where": None}
        j = i - 1
        while j >= 0 and words[j] not in ("a", "an"):  # the words of this noun phrase
            claim["color"] = words[j] if words[j] in COLORS else claim["color"]
            claim["size"] = _SIZE_OF_WORD.get(words[j], claim["size"])
            j -= 1
        for phrase, where in _PLACE_PHRASES:
            if words[i + 1:i + 1 + len(phrase)] == phrase:
                claim["where"] = where
                break
        claims.append(claim)
    return claims


def _claim_holds(claim: dict, obj: dict, anchor: dict | None) -> bool:
    """Whether ``obj`` (an entry of a sample's ``objects``) is what ``claim`` describes;
    relations are read from the cell of ``anchor``, the object the caption is about."""
    if obj["shape"] != claim["shape"] or claim["color"] not in (None, obj["color"]):
        return False
    if claim["size"] not in (None, obj["size"]):
        return False
    if claim["where"] is None:
        return True
    kind, value = claim["where"]
    cell = POSITIONS.index(obj["position"])
    if kind == "cell":
        return cell == value
    if anchor is None:
        return False
    (row, col), (anchor_row, anchor_col) = divmod(cell, 3), divmod(
        POSITIONS.index(anchor["position"]), 3)
    return (int(np.sign(row - anchor_row)), int(np.sign(col - anchor_col))) == value


def caption_fits(caption: str, objects: list[dict]) -> bool:
    """Whether everything ``caption`` says is true of a scene with these ``objects`` (a
    sample's ``objects``): each mentioned object matches a different object of the scene.

    Captions name only some objects, so another scene's caption can be true of this one
    ("a blue star on the left" of a scene whose target is a red circle but which also has a
    blue star on the left). Such a caption is no mismatched caption: DAMSM training and
    R-precision use this to keep it out of the negatives.
    """
    return _claims_fit(caption_claims(caption), objects)


def _claims_fit(claims: list[dict], objects: list[dict]) -> bool:
    """:func:`caption_fits` on a caption already read by :func:`caption_claims`."""
    if not claims or len(claims) > len(objects):
        return False
    for chosen in itertools.permutations(objects, len(claims)):
        if all(_claim_holds(c, o, chosen[0] if k else None)
               for k, (c, o) in enumerate(zip(claims, chosen))):
            return True
    return False


def true_captions(captions: list[str], objects: list[list[dict]]) -> np.ndarray:
    """Bool N×N: ``[i, j]`` is True when caption ``j`` is true of scene ``i``
    (:func:`caption_fits`); the diagonal is True for grammar captions."""
    claims = [caption_claims(c) for c in captions]
    scene_shapes = [{o["shape"] for o in objs} for objs in objects]
    out = np.zeros((len(objects), len(captions)), dtype=bool)
    for j, cl in enumerate(claims):
        shapes = {c["shape"] for c in cl}
        for i, objs in enumerate(objects):
            # Cheap reject first: every mentioned shape must be in the scene.
            if shapes <= scene_shapes[i]:
                out[i, j] = _claims_fit(cl, objs)
    return out


# --------------------------------------------------------------------------------------------
# scoring fills


def _pixel_classes(pixels: np.ndarray) -> np.ndarray:
    """Palette index per RGB row (N×3), or -1 where the pixel looks like background
    (low saturation and mid brightness, like every background tone)."""
    p = pixels.astype(np.float32).reshape(-1, 3)
    spread = p.max(1) - p.min(1)
    mean = p.mean(1)
    dist = ((p[:, None, :] - _PALETTE[None]) ** 2).sum(-1)
    classes = dist.argmin(1)
    classes[(spread < 60) & (mean > 55) & (mean < 205)] = -1
    return classes


def classify_color(rgb) -> str:
    """The name of the palette colour nearest to ``rgb`` (three numbers, 0-255)."""
    p = np.asarray(rgb, np.float32).reshape(1, 3)
    return _COLOR_NAMES[int(((p - _PALETTE) ** 2).sum(1).argmin())]


def _region(box, height: int, width: int) -> tuple[int, int, int, int]:
    """The pixels of the object's hole (box plus margin) as a (c0, r0, c1, r1) window."""
    return _roi(_grown(box, max(height, width)), height, width, pad=0)


def _coverage(crop: np.ndarray, classes: np.ndarray, color: int) -> np.ndarray:
    """How much of each pixel is ``color`` rather than background: the projection of the
    pixel onto the line from the local background colour to the painted colour, in [0, 1]
    (undoes antialiasing and blur, so thin shapes keep their outline)."""
    bg_pixels = crop[classes == -1]
    bg = np.median(bg_pixels, 0) if len(bg_pixels) else np.full(3, 128.0, np.float32)
    fg = np.median(crop[classes == color], 0)
    d = fg - bg
    return np.clip(((crop - bg) @ d) / max(float(d @ d), 1e-6), 0.0, 1.0)


def _classify_shape(alpha: np.ndarray) -> str | None:
    """The shape whose template best matches the coverage map ``alpha`` (soft IoU).

    Templates are stretched over the bounding box of ``alpha > 0.5``, also shrunk and grown
    by half a pixel (that box is only known to a pixel), so the answer does not depend on
    where or how large the shape was painted.
    """
    rows, cols = np.nonzero(alpha > 0.5)
    if rows.size == 0:
        return None
    x0, y0, x1, y1 = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
    best, best_iou = None, -1.0
    for shape in SHAPES:
        for d in (-0.5, 0.0, 0.5):
            t = _shape_alpha(shape, (x0 - d, y0 - d, x1 + d, y1 + d), *alpha.shape)
            iou = np.minimum(t, alpha).sum() / max(float(np.maximum(t, alpha).sum()), 1e-6)
            if iou > best_iou:
                best, best_iou = shape, iou
    return best


def score_fill(filled: np.ndarray, obj: dict, min_cover: float = 0.25) -> dict:
    """Does the filled image show ``obj`` (an entry of a sample's ``objects``) as captioned?

    Inside the object's hole (its box plus the margin of :func:`target_bbox`), pixels that
    do not look like background vote for their nearest palette colour; the winner is the
    fill's colour if it covers at least ``min_cover`` of the object's true area, else
    ``"background"``. The shape is the template best matching the winner's coverage map.

    Args:
        filled: uint8 H×W×3 image in the pixel frame of ``obj["box"]``.
        obj: ``{"color", "shape", "box", ...}`` from :func:`scene_objects`.
        min_cover: smallest painted fraction of the object's area that counts.

    Returns:
        ``{"color", "color_ok", "shape", "shape_ok", "cover"}`` (``shape`` None when no
        colour was found).
    """
    filled = np.asarray(filled)
    h, w = filled.shape[:2]
    window = c0, r0, c1, r1 = _region(obj["box"], h, w)
    crop = filled[r0:r1, c0:c1].astype(np.float32)
    classes = _pixel_classes(crop).reshape(crop.shape[:2])
    area = max(float(_alpha_in(obj["shape"], obj["box"], window).sum()), 1.0)
    votes = np.bincount(classes[classes >= 0], minlength=len(_COLOR_NAMES))
    winner = int(votes.argmax())
    cover = float(votes[winner] / area)
    if cover < min_cover:
        return {"color": BACKGROUND, "color_ok": False, "shape": None, "shape_ok": False,
                "cover": cover}
    color = _COLOR_NAMES[winner]
    shape = _classify_shape(_coverage(crop, classes, winner))
    return {"color": color, "color_ok": color == obj["color"], "shape": shape,
            "shape_ok": shape == obj["shape"], "cover": cover}


# --------------------------------------------------------------------------------------------
# the dataset


def _split_sizes(split: str, length: int | None) -> list[tuple[str, int]]:
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}'; use one of {', '.join(SPLITS)}")
    if length is not None and int(length) < 1:
        raise UserError(f"shapes length must be at least 1, got {length}")
    parts = ("train", "test") if split == "all" else (split,)
    return [(p, int(length) if length is not None else DEFAULT_LENGTHS[p]) for p in parts]


class ShapesDataset(Dataset):
    """Synthetic captioned scenes (see the module docstring), generated per item.

    Args:
        split: ``train``, ``test`` or ``all`` (train's scenes, then test's).
        resolution: square output side in pixels (16-1024).
        masks: a mask generator (or spec string) or None for no hole; ``object`` hides the
            target exactly.
        vocab: encodes captions; None leaves ``tokens`` empty (length 0).
        train: draw caption wording and mask anew each epoch (:meth:`set_epoch`); else both
            are fixed per item. Defaults to ``split == "train"``. Scenes never change.
        seed: base of every random choice (non-negative).
        max_len: caption length in tokens.
        length: scenes per split (train and test; ``all`` has both); defaults to
            20,000 train and 1,000 test.

    Items are the common sample dicts plus ``objects`` (:func:`scene_objects`).
    ``class_id`` is the palette index of the target's colour, so DAMSM treats targets of the
    same colour as the same class when it masks negatives. ``key`` is
    ``shapes/<split>/<index within that split>``.
    """

    def __init__(self, split: str = "train", resolution: int = 64, masks=None,
                 vocab: Vocabulary | None = None, train: bool | None = None, seed: int = 0,
                 max_len: int = DEFAULT_MAX_LEN, length: int | None = None):
        self.parts = _split_sizes(split, length)
        if not 16 <= int(resolution) <= 1024:
            raise UserError(f"shapes resolution must be 16-1024 pixels, got {resolution}")
        if int(seed) < 0:
            raise UserError(f"seed must be non-negative, got {seed}")
        self.split = split
        self.resolution = int(resolution)
        self.train = (split == "train") if train is None else bool(train)
        if isinstance(masks, str):
            from .masks import parse_mask_spec

            masks = parse_mask_spec(masks, train=self.train)
        self.masks = masks
        self.vocab = vocab
        self.seed = int(seed)
        self.max_len = int(max_len)
        self.epoch = 0

    def __len__(self) -> int:
        return sum(n for _, n in self.parts)

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (caption wording, masks) for a new training epoch."""
        self.epoch = int(epoch)

    def locate(self, index: int) -> tuple[str, int]:
        """(split, index within that split) of item ``index``."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"shapes index {index} out of range for {len(self)} items")
        for part, n in self.parts:
            if index < n:
                return part, index
            index -= n
        raise AssertionError("unreachable")

    def scene(self, index: int) -> dict:
        """The scene of item ``index``: a pure function of (seed, split, index)."""
        part, sub = self.locate(index)
        return sample_scene(np.random.default_rng([self.seed, _SPLIT_CODE[part], sub]))

    def rng(self, index: int) -> np.random.Generator:
        """The generator of item ``index``'s caption wording and mask (per epoch in training)."""
        part, sub = self.locate(index)
        stream = [1, self.epoch] if self.train else [0]
        return np.random.default_rng([self.seed, _SPLIT_CODE[part], sub, *stream])

    def __getitem__(self, index: int) -> dict:
        part, sub = self.locate(index)
        scene = self.scene(index)
        rng = self.rng(index)
        caption = caption_for(scene, rng, self.max_len)
        pixels = render_scene(scene, self.resolution)
        meta = {"bbox": target_bbox(scene, self.resolution)}
        target_color = _COLOR_NAMES.index(scene["objects"][0]["color"])
        sample = make_sample(pixels, caption, self.vocab, self.max_len, self.masks, rng, meta,
                             class_id=target_color, key=f"shapes/{part}/{sub}",
                             index=index if index >= 0 else index + len(self))
        sample["objects"] = scene_objects(scene, self.resolution)
        return sample


def describe(length: int | None = None) -> dict:
    """Counts for ``data stats``: images and captions per split, classes, grammar sizes."""
    sizes = {p: n for p, n in _split_sizes("all", length)}
    sizes["all"] = sizes["train"] + sizes["test"]
    vocab = Vocabulary.build(all_caption_words())
    return {
        "name": "shapes",
        "images": dict(sizes),
        # One caption per image: fixed in evaluation, reworded each epoch in training.
        "captions": dict(sizes),
        "classes": len(COLORS),
        "class_meaning": "colour of the target object",
        "colors": list(COLORS),
        "shapes": list(SHAPES),
        "sizes": list(SIZES),
        "vocabulary": len(vocab) - 2,  # without <pad> and <unk>
    }
