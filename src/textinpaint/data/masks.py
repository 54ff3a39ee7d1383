"""Hole masks for training and evaluation: float32 H×W numpy arrays, 1 = hole, 0 = known.

Every generator is a callable ``gen(height, width, rng, meta=None)``; all randomness comes from
the ``numpy.random.Generator`` it is handed, so a mask is a pure function of (spec, size, rng
state, meta). Build one from a short text spec with :func:`parse_mask_spec`:

=============================  ===============================================================
``center`` / ``center:R``      centred rectangle, each side R of the image side (default
                               129/256: MMFL's ``m[64:193, 64:193]`` at 256 px)
``box``                        1-3 random rectangles, each side 10-50% of the image side
``freeform[:thin|medium|thick]``  LaMa-style brush strokes (default medium)
``irregular:FOLDER[:BUCKET]``  mask PNGs from a folder (e.g. the NVIDIA irregular test masks);
                               BUCKET 1..6 picks one hole-ratio bucket of the NVIDIA numbering
``object`` / ``object:G``      the dataset's bounding box ``meta["bbox"]``, grown by G·box size
``background`` / ``background:S``  a square beside the bounding box, overlapping it least (side
                               S of the image side, default 25-45 %): a hole that hides no bird
``part[:GROUP[:MARGIN]]``      region around CUB part locations ``meta["parts"]``
``mix`` / ``mix:A+B+...``      weighted random choice among generators
=============================  ===============================================================

Mask files follow the project convention: greyscale PNG, white (> 127) = hole, resized
nearest-neighbour (see :func:`load_mask_file`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import UserError

__all__ = [
    "BackgroundMask",
    "BoxMasks",
    "CenterMask",
    "FREEFORM_SETTINGS",
    "FreeformMasks",
    "IrregularMasks",
    "MaskGenerator",
    "MaskMixture",
    "ObjectMask",
    "PART_GROUPS",
    "PART_NAMES",
    "PartMask",
    "bucket_of",
    "default_mixture",
    "load_mask_file",
    "parse_mask_spec",
]

# MMFL's protocol: a 129×129 hole at rows/cols 64..192 of a 256×256 image.
DEFAULT_CENTER_RATIO = 129 / 256

VALID_KINDS = (
    "center[:RATIO], box, freeform[:thin|medium|thick], irregular:FOLDER[:BUCKET], "
    "object[:GROW], background[:SIDE], part[:GROUP[:MARGIN]], mix[:SPEC+SPEC+...]"
)

MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

# NVIDIA irregular test masks: 12000 files 00000..11999, six hole-ratio buckets of 2000 each
# (bucket 1 = 1-10% hole, ..., bucket 6 = 50-60%).
NVIDIA_BUCKET_SIZE = 2000
NVIDIA_BUCKETS = 6
_NVIDIA_NAME = re.compile(r"^\d{5}$")


class MaskGenerator:
    """Base class: ``gen(height, width, rng, meta=None) -> float32 H×W`` with 1 = hole.

    Subclasses set ``name`` (the kind, e.g. ``"box"``) and ``spec`` (a string that
    :func:`parse_mask_spec` turns back into an equivalent generator) and implement ``_draw``.
    """

    name = "mask"

    def __init__(self, spec: str):
        self.spec = spec

    def __call__(
        self, height: int, width: int, rng: np.random.Generator, meta: dict | None = None
    ) -> np.ndarray:
        """Draw one mask of shape (height, width), values exactly 0 or 1, float32."""
        height, width = _check_size(height, width)
        mask = self._draw(height, width, rng, meta)
        return (np.asarray(mask) > 0.5).astype(np.float32)

    def _draw(self, height: int, width: int, rng: np.random.Generator, meta: dict | None):
        raise NotImplementedError

    def available(self, meta: dict | None) -> bool:
        """Whether this generator can work with a sample's ``meta`` (used by mixtures)."""
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


def _check_size(height: int, width: int) -> tuple[int, int]:
    height, width = int(height), int(width)
    if height <= 0 or width <= 0:
        raise ValueError(f"mask size must be positive, got {height}x{width}")
    return height, width


def _round_half_up(x: float) -> int:
    # Python's round() rounds half to even; masks want the same rule at every size.
    return int(math.floor(x + 0.5))


# --------------------------------------------------------------------------------------------
# centre and random boxes


class CenterMask(MaskGenerator):
    """A centred rectangle whose sides are ``ratio`` of the image's height and width.

    Side = round(ratio · size) and start = size // 2 - side // 2, so at 256 px the default
    ratio 129/256 gives exactly rows/cols 64..192 (MMFL). Non-square images get a rectangle
    with the same ratio per axis, so the hole fraction is ratio² at every aspect.
    """

    name = "center"

    def __init__(self, ratio: float = DEFAULT_CENTER_RATIO):
        if not (0.0 < ratio <= 1.0):
            raise ValueError(f"center ratio must be in (0, 1], got {ratio}")
        self.ratio = float(ratio)
        default = self.ratio == DEFAULT_CENTER_RATIO
        super().__init__("center" if default else f"center:{self.ratio!r}")

    def _draw(self, height, width, rng, meta):
        mask = np.zeros((height, width), np.float32)
        (y0, y1), (x0, x1) = _centered(height, self.ratio), _centered(width, self.ratio)
        mask[y0:y1, x0:x1] = 1.0
        return mask


def _centered(size: int, ratio: float) -> tuple[int, int]:
    side = min(size, max(1, _round_half_up(ratio * size)))
    start = size // 2 - side // 2
    return start, start + side


class BoxMasks(MaskGenerator):
    """1-3 random axis-aligned rectangles, each side 10-50% of the matching image side."""

    name = "box"

    def __init__(self, min_boxes: int = 1, max_boxes: int = 3, min_frac=0.1, max_frac=0.5):
        super().__init__("box")
        self.min_boxes, self.max_boxes = min_boxes, max_boxes
        self.min_frac, self.max_frac = min_frac, max_frac

    def _draw(self, height, width, rng, meta):
        mask = np.zeros((height, width), np.float32)
        for _ in range(int(rng.integers(self.min_boxes, self.max_boxes + 1))):
            bh = max(1, _round_half_up(rng.uniform(self.min_frac, self.max_frac) * height))
            bw = max(1, _round_half_up(rng.uniform(self.min_frac, self.max_frac) * width))
            y0 = int(rng.integers(0, height - bh + 1))
            x0 = int(rng.integers(0, width - bw + 1))
            mask[y0 : y0 + bh, x0 : x0 + bw] = 1.0
        return mask


# --------------------------------------------------------------------------------------------
# free-form strokes

# After LaMa's evaluation settings at 256 px (configs/data_gen/random_{thin,medium,thick}_256
# .yaml): number of strokes in [min_strokes, max_strokes], 1..max_segments line segments per
# stroke, brush width 5 + [0, max_width), segment length 10 + [0, max_len). Widths and lengths
# scale with the image size; masks covering more than half the image are redrawn (LaMa's
# max_tamper_area). Two counts differ from LaMa so that hole area grows thin < medium < thick
# (means about 15%, 26%, 35% at 256 px): LaMa's thin allows up to 50 strokes (mean area 30%,
# more than medium) and its thick allows a single stroke (mean 29% after the 50% cap).
FREEFORM_SETTINGS: dict[str, dict[str, int]] = {
    "thin": dict(min_strokes=4, max_strokes=20, max_segments=5, max_width=10, max_len=40),
    "medium": dict(min_strokes=4, max_strokes=5, max_segments=5, max_width=50, max_len=100),
    "thick": dict(min_strokes=2, max_strokes=5, max_segments=5, max_width=100, max_len=200),
}
FREEFORM_MAX_AREA = 0.5
_FREEFORM_TRIES = 10


class FreeformMasks(MaskGenerator):
    """LaMa-style random brush strokes (polylines drawn with ``cv2.line`` + round joints)."""

    name = "freeform"

    def __init__(self, setting: str = "medium"):
        if setting not in FREEFORM_SETTINGS:
            raise ValueError(f"freeform setting must be one of {', '.join(FREEFORM_SETTINGS)}")
        super().__init__(f"freeform:{setting}")
        self.setting = setting
        self.params = FREEFORM_SETTINGS[setting]

    def _draw(self, height, width, rng, meta):
        # Redraw masks that cover too much (as LaMa's max_tamper_area); keep the smallest if
        # every try is too large so the call always returns.
        best = None
        for _ in range(_FREEFORM_TRIES):
            mask = self._strokes(height, width, rng)
            if best is None or mask.mean() < best.mean():
                best = mask
            if mask.mean() <= FREEFORM_MAX_AREA:
                return mask
        return best

    def _strokes(self, height, width, rng):
        p = self.params
        scale = math.sqrt(height * width) / 256.0  # LaMa's numbers are for 256×256
        mask = np.zeros((height, width), np.float32)
        for _ in range(int(rng.integers(p["min_strokes"], p["max_strokes"] + 1))):
            x, y = int(rng.integers(width)), int(rng.integers(height))
            brush = max(1, _round_half_up((5 + rng.integers(p["max_width"])) * scale))
            cv2.circle(mask, (x, y), brush // 2, 1.0, -1)
            for _ in range(1 + int(rng.integers(p["max_segments"]))):
                angle = rng.uniform(0.0, 2.0 * math.pi)
                length = (10 + rng.integers(p["max_len"])) * scale
                nx = int(np.clip(x + length * math.cos(angle), 0, width - 1))
                ny = int(np.clip(y + length * math.sin(angle), 0, height - 1))
                cv2.line(mask, (x, y), (nx, ny), 1.0, brush)
                cv2.circle(mask, (nx, ny), brush // 2, 1.0, -1)  # round joint, no notches
                x, y = nx, ny
        return mask


# --------------------------------------------------------------------------------------------
# mask files


def load_mask_file(path: str | Path, height: int, width: int) -> np.ndarray:
    """Read a mask image as float32 H×W: any mode -> grey, nearest resize, > 127 = hole."""
    height, width = _check_size(height, width)
    return _to_mask(_read_grey(path), height, width)


def _read_grey(path: str | Path) -> np.ndarray:
    """Grey uint8 array of a mask file; UserError naming the file if it can't be read."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"mask file '{path}' does not exist; check the path")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise UserError(f"mask file '{path}' is not a readable image ({e})") from None


def _to_mask(grey: np.ndarray, height: int, width: int) -> np.ndarray:
    if grey.shape != (height, width):
        img = Image.fromarray(np.ascontiguousarray(grey), mode="L")
        grey = np.asarray(img.resize((width, height), Image.NEAREST))
    return (grey > 127).astype(np.float32)


def bucket_of(path_or_index: str | Path | int) -> int | None:
    """NVIDIA hole-ratio bucket (1..6) of a file number or a file named like ``04321.png``.

    Returns None for names that are not five-digit numbers or numbers outside 0..11999.
    """
    if isinstance(path_or_index, (int, np.integer)):
        number = int(path_or_index)
    else:
        stem = Path(path_or_index).stem
        if not _NVIDIA_NAME.match(stem):
            return None
        number = int(stem)
    if not 0 <= number < NVIDIA_BUCKET_SIZE * NVIDIA_BUCKETS:
        return None
    return number // NVIDIA_BUCKET_SIZE + 1


class IrregularMasks(MaskGenerator):
    """Masks read from image files in a folder (or one file), chosen by ``rng.integers``.

    ``bucket`` (1..6) keeps only the files of one NVIDIA hole-ratio bucket; it needs the
    NVIDIA numbering (five-digit file names). ``augment`` (training) adds random horizontal /
    vertical flips and 90° rotations before resizing. When ``meta`` is a dict, the chosen
    file and its bucket are written to ``meta["mask_file"]`` and ``meta["mask_bucket"]``.
    """

    name = "irregular"

    def __init__(self, folder: str | Path, bucket: int | None = None, augment: bool = False):
        self.folder = Path(folder)
        self.bucket = bucket
        self.augment = bool(augment)
        spec = f"irregular:{self.folder}" + (f":{bucket}" if bucket is not None else "")
        super().__init__(spec)
        self.files = self._list_files()

    def _list_files(self) -> list[Path]:
        if self.folder.is_file():
            files = [self.folder]
        elif self.folder.is_dir():
            files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in MASK_SUFFIXES)
        else:
            raise UserError(f"mask spec '{self.spec}': folder '{self.folder}' does not exist")
        if not files:
            raise UserError(f"mask spec '{self.spec}': no mask images (.png) in '{self.folder}'")
        if self.bucket is None:
            return files
        if not 1 <= self.bucket <= NVIDIA_BUCKETS:
            raise UserError(
                f"mask spec '{self.spec}': bucket must be 1..{NVIDIA_BUCKETS}, got {self.bucket}"
            )
        if any(bucket_of(p) is None for p in files):
            raise UserError(
                f"mask spec '{self.spec}': buckets need NVIDIA-numbered files (00000.png .. "
                f"11999.png) in '{self.folder}'; drop ':{self.bucket}' to use all files"
            )
        chosen = [p for p in files if bucket_of(p) == self.bucket]
        if not chosen:
            raise UserError(f"mask spec '{self.spec}': no files of bucket {self.bucket}")
        return chosen

    bucket_of = staticmethod(bucket_of)

    def __len__(self) -> int:
        return len(self.files)

    def file_for(self, index: int) -> Path:
        """The index-th file (modulo the number of files), for deterministic evaluation."""
        return self.files[int(index) % len(self.files)]

    def _draw(self, height, width, rng, meta):
        path = self.file_for(int(rng.integers(len(self.files))))
        grey = _read_grey(path)
        if self.augment:
            grey = _augment(grey, rng)
        if isinstance(meta, dict):
            meta["mask_file"] = str(path)
            meta["mask_bucket"] = bucket_of(path)
        return _to_mask(grey, height, width)


def _augment(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flips and a random multiple of 90° rotation (the 8 symmetries of a square)."""
    if rng.random() < 0.5:
        grey = grey[:, ::-1]
    if rng.random() < 0.5:
        grey = grey[::-1, :]
    return np.rot90(grey, int(rng.integers(4)))


# --------------------------------------------------------------------------------------------
# masks from dataset annotations


class _NeedsBox(MaskGenerator):
    """A generator that works from the sample's bounding box ``meta["bbox"]``."""

    def available(self, meta):
        return isinstance(meta, dict) and meta.get("bbox") is not None

    def _bbox(self, meta) -> tuple[float, float, float, float]:
        if not self.available(meta):
            raise UserError(
                f"mask '{self.spec}' needs a dataset with bounding boxes (cub, shapes); "
                "choose another mask spec"
            )
        x0, y0, x1, y1 = (float(v) for v in meta["bbox"])
        return x0, y0, x1, y1


class ObjectMask(_NeedsBox):
    """The sample's bounding box ``meta["bbox"]`` = (x0, y0, x1, y1), grown and clipped.

    ``grow`` = 0.1 adds 10% of the box width on the left and right and 10% of its height on
    top and bottom; a negative ``grow`` shrinks it towards its centre (``object:-0.15`` keeps
    the central 70 % of each side, the hole of evaluation's caption-control task). Box
    coordinates are continuous pixel coordinates (x1, y1 exclusive for
    integers); the hole covers every pixel the box touches, at least one pixel.
    """

    name = "object"

    def __init__(self, grow: float = 0.0):
        if not (grow > -0.5 and math.isfinite(grow)):
            raise ValueError(f"object growth must be above -0.5 (a shrink to nothing), got {grow}")
        self.grow = float(grow)
        super().__init__("object" if self.grow == 0 else f"object:{self.grow!r}")

    def _draw(self, height, width, rng, meta):
        x0, y0, x1, y1 = self._bbox(meta)
        dx, dy = self.grow * (x1 - x0), self.grow * (y1 - y0)
        return _box_mask(height, width, x0 - dx, y0 - dy, x1 + dx, y1 + dy)


def _box_mask(height: int, width: int, x0: float, y0: float, x1: float, y1: float):
    """Hole over pixels touched by [x0, x1) × [y0, y1), clipped to the image, >= 1 pixel."""
    c0 = min(max(int(math.floor(x0)), 0), width - 1)
    r0 = min(max(int(math.floor(y0)), 0), height - 1)
    c1 = max(min(int(math.ceil(x1)), width), c0 + 1)
    r1 = max(min(int(math.ceil(y1)), height), r0 + 1)
    mask = np.zeros((height, width), np.float32)
    mask[r0:r1, c0:c1] = 1.0
    return mask


BACKGROUND_TRIES = 32  # positions drawn per background hole; the least overlapping is kept


class BackgroundMask(_NeedsBox):
    """A square hole placed where it overlaps the bounding box ``meta["bbox"]`` least.

    The hole hides background, not the object, so the caption (which describes the object)
    is not what the hole needs: a probe of whether the words a model weighs depend on where
    the hole is (20 minutes of the word-demand module on them moved its weights by 0.03 of
    share only: docs/EXPERIMENTS.md, 2026-12-07). Side = ``side`` × the image's shorter side, or
    drawn in [0.25, 0.45] of it when ``side`` is None. Of ``BACKGROUND_TRIES`` positions drawn
    uniformly, the one with the least overlap is kept (the first among equals), so where the
    object fills the frame the hole still covers as little of it as it can.
    """

    name = "background"

    def __init__(self, side: float | None = None):
        if side is not None and not (0.0 < side <= 1.0):
            raise ValueError(f"background side must be in (0, 1], got {side}")
        self.side = None if side is None else float(side)
        super().__init__("background" if side is None else f"background:{self.side!r}")

    def _draw(self, height, width, rng, meta):
        frac = self.side if self.side is not None else float(rng.uniform(0.25, 0.45))
        side = max(1, min(height, width, _round_half_up(frac * min(height, width))))
        bird = _box_mask(height, width, *self._bbox(meta))
        # Overlap of every side×side window with the box, from the box's integral image.
        integral = np.pad(bird.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        tops = rng.integers(0, height - side + 1, BACKGROUND_TRIES)
        lefts = rng.integers(0, width - side + 1, BACKGROUND_TRIES)
        overlap = (integral[tops + side, lefts + side] - integral[tops, lefts + side]
                   - integral[tops + side, lefts] + integral[tops, lefts])
        best = int(np.argmin(overlap))
        mask = np.zeros((height, width), np.float32)
        mask[tops[best]:tops[best] + side, lefts[best]:lefts[best] + side] = 1.0
        return mask


# CUB-200-2011 parts/parts.txt (ids 1..15 in this order).
PART_NAMES = (
    "back", "beak", "belly", "breast", "crown", "forehead", "left eye", "left leg",
    "left wing", "nape", "right eye", "right leg", "right wing", "tail", "throat",
)  # fmt: skip
PART_GROUPS: dict[str, tuple[str, ...]] = {
    "head": ("crown", "forehead", "left eye", "right eye", "beak", "nape"),
    "body": ("back", "belly", "breast", "throat"),
    "wings": ("left wing", "right wing"),
    "tail": ("tail",),
    "legs": ("left leg", "right leg"),
}
PART_MARGIN = 0.08  # padding around the points, fraction of the image side
PART_MIN_SIZE = 0.12  # smallest region side, fraction of the image side


def _part_group(name: str) -> tuple[str, ...]:
    if name in PART_GROUPS:
        return PART_GROUPS[name]
    part = name.replace("_", " ")
    if part in PART_NAMES:
        return (part,)
    valid = list(PART_GROUPS) + [p.replace(" ", "_") for p in PART_NAMES if p not in PART_GROUPS]
    raise ValueError(f"unknown part group '{name}'; valid: {', '.join(valid)}")


class PartMask(MaskGenerator):
    """A rectangle around the visible CUB part points of one group, from ``meta["parts"]``.

    Region = bounding box of the group's visible points, padded by ``margin`` × image side on
    each side and widened to at least ``PART_MIN_SIZE`` × side, clipped to the image. A
    rectangle (not discs) because the generator must repaint the whole part, and a box around
    e.g. the head points covers the head where discs around 6 points leave gaps. ``group=None``
    picks one group at random (by rng) among those with visible points. With no visible point
    the mask falls back to the object box, or the centre square without one, and sets
    ``meta["mask_fallback"] = True``.
    """

    name = "part"

    def __init__(self, group: str | None = None, margin: float = PART_MARGIN):
        if not (margin >= 0.0 and math.isfinite(margin)):
            raise ValueError(f"part margin must be >= 0, got {margin}")
        self.group = group
        self.parts = None if group is None else _part_group(group)
        self.margin = float(margin)
        spec = "part" if group is None else f"part:{group}"
        if margin != PART_MARGIN:
            spec = f"part:{group or 'any'}:{self.margin!r}"
        super().__init__(spec)

    def available(self, meta):
        return isinstance(meta, dict) and meta.get("parts") is not None

    def _draw(self, height, width, rng, meta):
        visible = visible_parts(meta)
        points = self._choose_points(visible, rng)
        if isinstance(meta, dict):
            meta["mask_fallback"] = not points
        if not points:
            if isinstance(meta, dict) and meta.get("bbox") is not None:
                return _box_mask(height, width, *(float(v) for v in meta["bbox"]))
            return CenterMask()._draw(height, width, rng, meta)
        xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        x0, x1 = _padded(xs.min(), xs.max(), width, self.margin)
        y0, y1 = _padded(ys.min(), ys.max(), height, self.margin)
        return _box_mask(height, width, x0, y0, x1, y1)

    def _choose_points(self, visible: dict, rng) -> list[tuple[float, float]]:
        if self.parts is not None:
            return [visible[p] for p in self.parts if p in visible]
        # Sorted group names keep the rng draw independent of dict order.
        groups = [g for g in sorted(PART_GROUPS) if any(p in visible for p in PART_GROUPS[g])]
        if not groups:
            return []
        group = groups[int(rng.integers(len(groups)))]
        return [visible[p] for p in PART_GROUPS[group] if p in visible]


def visible_parts(meta: dict | None) -> dict[str, tuple[float, float]]:
    """``meta["parts"]`` with names normalised to parts.txt spelling (spaces, lower case)."""
    if not isinstance(meta, dict) or not meta.get("parts"):
        return {}
    out = {}
    for name, xy in meta["parts"].items():
        if xy is not None:
            out[str(name).replace("_", " ").lower()] = (float(xy[0]), float(xy[1]))
    return out


def _padded(lo: float, hi: float, size: int, margin: float) -> tuple[float, float]:
    # Points are pixel positions, so the point's own pixel spans [p, p + 1).
    lo, hi = lo - margin * size, hi + 1 + margin * size
    short = PART_MIN_SIZE * size - (hi - lo)
    if short > 0:
        lo, hi = lo - short / 2, hi + short / 2
    return lo, hi


# --------------------------------------------------------------------------------------------
# mixtures and parsing


class MaskMixture(MaskGenerator):
    """A weighted random choice among generators, drawn by ``rng`` for every mask.

    Members that cannot work with a sample's ``meta`` (``object`` without a bbox, ``part``
    without parts) are skipped for that sample and the other weights renormalised. When
    ``meta`` is a dict the chosen member's spec goes to ``meta["mask_spec"]``.
    """

    name = "mix"

    def __init__(self, members: Sequence[tuple[MaskGenerator, float]], spec: str | None = None):
        if not members:
            raise ValueError("a mask mixture needs at least one member")
        if any(not (w > 0 and math.isfinite(w)) for _, w in members):
            raise ValueError("mask mixture weights must be positive")
        self.members = [(g, float(w)) for g, w in members]
        super().__init__(spec or "mix:" + "+".join(g.spec for g, _ in self.members))

    def available(self, meta):
        return any(g.available(meta) for g, _ in self.members)

    def _draw(self, height, width, rng, meta):
        usable = [(g, w) for g, w in self.members if g.available(meta)]
        if not usable:
            raise UserError(
                f"mask '{self.spec}': none of its masks fits this dataset (object/part masks "
                "need bounding boxes or parts); add center, box or freeform"
            )
        weights = np.array([w for _, w in usable])
        cumulative = np.cumsum(weights / weights.sum())
        pick = min(int(np.searchsorted(cumulative, rng.random(), side="right")), len(usable) - 1)
        gen = usable[pick][0]
        if isinstance(meta, dict):
            meta["mask_spec"] = gen.spec
        return gen(height, width, rng, meta)


def default_mixture() -> MaskMixture:
    """The ``mix`` spec: center 0.2, box 0.3, freeform thin/medium/thick 0.1 each, object 0.2."""
    members = [
        (CenterMask(), 0.2),
        (BoxMasks(), 0.3),
        (FreeformMasks("thin"), 0.1),
        (FreeformMasks("medium"), 0.1),
        (FreeformMasks("thick"), 0.1),
        (ObjectMask(), 0.2),
    ]
    return MaskMixture(members, spec="mix")


def parse_mask_spec(spec: str, train: bool = False) -> MaskGenerator:
    """Build a mask generator from a spec such as ``center``, ``freeform:thick``,
    ``irregular:/data/masks:3``, ``part:head`` or ``mix:center+box+freeform:thick``.

    ``train=True`` turns on flip/rotation augmentation of ``irregular`` masks. Unknown kinds or
    bad arguments raise :class:`UserError` naming the spec and listing the valid kinds.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UserError(f"empty mask spec {spec!r}; valid kinds: {VALID_KINDS}")
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "mix":
        return _parse_mix(spec, arg, train)
    try:
        return _parse_single(kind, arg, train)
    except (ValueError, TypeError) as e:
        raise UserError(f"bad mask spec '{spec}': {e}; valid kinds: {VALID_KINDS}") from None


def _parse_single(kind: str, arg: str, train: bool) -> MaskGenerator:
    if kind == "center":
        return CenterMask(float(arg)) if arg else CenterMask()
    if kind == "box":
        if arg:
            raise ValueError("'box' takes no argument")
        return BoxMasks()
    if kind == "freeform":
        return FreeformMasks(arg.strip().lower() or "medium")
    if kind == "irregular":
        # The path may itself contain ':'; only a trailing ':<digits>' is a bucket.
        match = re.fullmatch(r"(.*?)(?::(\d+))?", arg)
        path, bucket = match.group(1), match.group(2)
        if not path:
            raise ValueError("'irregular' needs a folder, e.g. irregular:PATH or irregular:PATH:3")
        return IrregularMasks(path, int(bucket) if bucket else None, augment=train)
    if kind == "object":
        return ObjectMask(float(arg)) if arg else ObjectMask()
    if kind == "background":
        return BackgroundMask(float(arg)) if arg else BackgroundMask()
    if kind == "part":
        group, _, margin = arg.partition(":")
        group = group.strip().lower()
        group = None if group in ("", "any") else group
        return PartMask(group, float(margin)) if margin else PartMask(group)
    raise ValueError(f"unknown mask kind '{kind}'")


def _parse_mix(spec: str, arg: str, train: bool) -> MaskMixture:
    if not arg:
        return default_mixture()
    members = []
    for part in arg.split("+"):
        if part.strip().lower().startswith("mix"):
            raise UserError(f"bad mask spec '{spec}': a mix cannot contain another mix")
        try:
            members.append((parse_mask_spec(part, train=train), 1.0))
        except UserError as e:
            raise UserError(f"in mask spec '{spec}': {e}") from None
    return MaskMixture(members, spec=spec)
