"""Hole masks drawn a whole batch at a time on any torch device.

The generators of :mod:`textinpaint.data.masks` draw one numpy mask per sample in Python,
which a GPU training loop would wait for at every step. These draw the same kinds, with the
same parameters and pixel rules, for a batch at once with tensor operations on the device the
batch lives on (``train.data=device``). Every random draw comes from the ``torch.Generator``
passed in, so a batch of masks is a pure function of the generator's seed; the draws follow
the numpy generators' distributions but are not their numbers.

Build one from a spec (parsed by :func:`~textinpaint.data.masks.parse_mask_spec`, so a bad
spec gives the same error) or from a numpy generator with :func:`device_masks`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import UserError
from .masks import (
    _FREEFORM_TRIES,
    FREEFORM_MAX_AREA,
    PART_GROUPS,
    PART_MIN_SIZE,
    PART_NAMES,
    BoxMasks,
    CenterMask,
    FreeformMasks,
    IrregularMasks,
    MaskGenerator,
    MaskMixture,
    ObjectMask,
    PartMask,
    load_mask_file,
    parse_mask_spec,
)


@dataclass
class MaskMeta:
    """A batch's annotations on the device, in output pixels (after any flip)."""

    bbox: Tensor  # B×4 float32 (x0, y0, x1, y1); a row of NaN = no box
    # B×len(PART_NAMES)×2 float32 (x, y) in PART_NAMES order, NaN = not visible; None for a
    # dataset without part annotations (where ``part`` masks are unavailable, as in numpy)
    parts: Tensor | None = None


def _uniform(g: torch.Generator, shape, device, low=0.0, high=1.0) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=g, device=device)


def _integers(g: torch.Generator, low, high, shape, device) -> Tensor:
    """Integers in [low, high) with per-element bounds (tensors or numbers), as numpy's."""
    return (low + torch.rand(shape, generator=g, device=device) * (high - low)).floor().long()


def _round_half_up(x: Tensor) -> Tensor:
    return (x + 0.5).floor()


class DeviceMasks:
    """Base class: ``masks(batch, generator, meta) -> B×1×H×W`` float32, exactly 0 or 1.

    ``unavailable``: the error of a kind that cannot draw for a sample :meth:`available`
    refuses (``object`` without a box); None for kinds that always can.
    """

    unavailable: str | None = None

    def __init__(self, spec: str, height: int, width: int, device):
        self.spec, self.height, self.width = spec, int(height), int(width)
        self.device = torch.device(device)
        self.rows = torch.arange(self.height, device=self.device).view(1, -1, 1)
        self.cols = torch.arange(self.width, device=self.device).view(1, 1, -1)

    def __call__(self, batch: int, generator: torch.Generator,
                 meta: MaskMeta | None = None) -> Tensor:
        """Draw ``batch`` masks, 1 = hole."""
        if self.unavailable and not self.available(meta, batch).all():
            raise UserError(self.unavailable)
        return self.draw(batch, generator, meta).float()[:, None]

    def draw(self, batch: int, g: torch.Generator, meta: MaskMeta | None) -> Tensor:
        """B×H×W bool holes (subclasses)."""
        raise NotImplementedError

    def available(self, meta: MaskMeta | None, batch: int) -> Tensor:
        """Per sample, whether this kind can work with its annotations (as in mixtures)."""
        return torch.ones(batch, dtype=torch.bool, device=self.device)

    def boxes(self, x0: Tensor, y0: Tensor, x1: Tensor, y1: Tensor) -> Tensor:
        """Holes over the pixels each box [x0, x1) × [y0, y1) touches, clipped to the image,
        at least one pixel: :func:`textinpaint.data.masks._box_mask` for a batch."""
        h, w = self.height, self.width
        c0 = x0.floor().clamp(0, w - 1)
        r0 = y0.floor().clamp(0, h - 1)
        c1 = torch.maximum(x1.ceil().clamp(max=w), c0 + 1)
        r1 = torch.maximum(y1.ceil().clamp(max=h), r0 + 1)
        v = lambda t: t.view(-1, 1, 1)  # noqa: E731 (a local broadcast helper)
        return ((self.rows >= v(r0)) & (self.rows < v(r1)) & (self.cols >= v(c0))
                & (self.cols < v(c1)))


class DeviceCenter(DeviceMasks):
    """:class:`~textinpaint.data.masks.CenterMask`: the same rectangle for every sample."""

    def __init__(self, gen: CenterMask, height, width, device):
        super().__init__(gen.spec, height, width, device)
        hole = gen(self.height, self.width, None)
        self.hole = torch.from_numpy(hole).to(self.device).bool()

    def draw(self, batch, g, meta):
        return self.hole.expand(batch, -1, -1)


class DeviceBoxes(DeviceMasks):
    """:class:`~textinpaint.data.masks.BoxMasks`: 1-3 random rectangles per sample."""

    def __init__(self, gen: BoxMasks, height, width, device):
        super().__init__(gen.spec, height, width, device)
        self.gen = gen

    def draw(self, batch, g, meta):
        p, d, h, w = self.gen, self.device, self.height, self.width
        count = _integers(g, p.min_boxes, p.max_boxes + 1, (batch,), d)
        hole = torch.zeros(batch, h, w, dtype=torch.bool, device=d)
        for k in range(p.max_boxes):
            bh = _round_half_up(_uniform(g, batch, d, p.min_frac, p.max_frac) * h).clamp(min=1)
            bw = _round_half_up(_uniform(g, batch, d, p.min_frac, p.max_frac) * w).clamp(min=1)
            y0 = _integers(g, 0, h - bh + 1, (batch,), d).float()
            x0 = _integers(g, 0, w - bw + 1, (batch,), d).float()
            box = self.boxes(x0, y0, x0 + bw, y0 + bh)
            hole |= box & (k < count).view(-1, 1, 1)
        return hole


class DeviceFreeform(DeviceMasks):
    """:class:`~textinpaint.data.masks.FreeformMasks`: LaMa-style brush strokes.

    A stroke is a polyline of thick segments with round joints, rendered as the pixels whose
    centre lies within half the brush width of a segment (``cv2.line`` with a thickness, as
    the numpy version draws it, marks nearly the same pixels). Masks over half the image are
    redrawn, for the whole batch at once, up to the numpy version's number of tries; a sample
    keeps the smallest of its tries while it is over the limit.
    """

    def __init__(self, gen: FreeformMasks, height, width, device):
        super().__init__(gen.spec, height, width, device)
        self.params = gen.params

    def draw(self, batch, g, meta):
        best = self._strokes(batch, g)
        best_area = best.float().mean(dim=(1, 2))
        for _ in range(_FREEFORM_TRIES - 1):
            over = best_area > FREEFORM_MAX_AREA
            if not over.any():  # the usual case after one try (mean areas are 15-35 %)
                break
            again = self._strokes(batch, g)
            area = again.float().mean(dim=(1, 2))
            # a sample over the limit takes the new try if it is under the limit or smaller
            take = over & (area < best_area)
            best = torch.where(take.view(-1, 1, 1), again, best)
            best_area = torch.where(take, area, best_area)
        return best

    def _strokes(self, n: int, g: torch.Generator) -> Tensor:
        p, d, h, w = self.params, self.device, self.height, self.width
        scale = math.sqrt(h * w) / 256.0  # LaMa's numbers are for 256×256
        ys, xs = self.rows.float(), self.cols.float()
        hole = torch.zeros(n, h, w, dtype=torch.bool, device=d)
        strokes = _integers(g, p["min_strokes"], p["max_strokes"] + 1, (n,), d)
        for s in range(p["max_strokes"]):
            x = _integers(g, 0, w, (n,), d).float()
            y = _integers(g, 0, h, (n,), d).float()
            brush = _round_half_up((5 + _integers(g, 0, p["max_width"], (n,), d)) * scale)
            radius = (brush.clamp(min=1) / 2).view(-1, 1, 1)
            active = (s < strokes).view(-1, 1, 1)
            segments = 1 + _integers(g, 0, p["max_segments"], (n,), d)
            stroke = (xs - x.view(-1, 1, 1)) ** 2 + (ys - y.view(-1, 1, 1)) ** 2 <= radius ** 2
            for k in range(p["max_segments"]):
                angle = _uniform(g, n, d, 0.0, 2.0 * math.pi)
                length = (10 + _integers(g, 0, p["max_len"], (n,), d)) * scale
                nx = (x + length * torch.cos(angle)).clamp(0, w - 1).trunc()
                ny = (y + length * torch.sin(angle)).clamp(0, h - 1).trunc()
                on = k < segments
                stroke |= self._segment(x, y, nx, ny, radius) & on.view(-1, 1, 1)
                x, y = torch.where(on, nx, x), torch.where(on, ny, y)
            hole |= stroke & active
        return hole

    def _segment(self, x0, y0, x1, y1, radius) -> Tensor:
        """Pixels within ``radius`` of the segment (x0, y0)-(x1, y1), per sample."""
        v = lambda t: t.view(-1, 1, 1)  # noqa: E731 (a local broadcast helper)
        dx, dy = v(x1 - x0), v(y1 - y0)
        px, py = self.cols.float() - v(x0), self.rows.float() - v(y0)
        t = ((px * dx + py * dy) / (dx * dx + dy * dy).clamp(min=1e-6)).clamp(0, 1)
        return (px - t * dx) ** 2 + (py - t * dy) ** 2 <= radius ** 2


class DeviceIrregular(DeviceMasks):
    """:class:`~textinpaint.data.masks.IrregularMasks`: mask files, read once onto the device
    (12,000 NVIDIA masks at 128 px are 197 MB as bools), then indexed; in training each gets
    a random flip either way and, on square images, a random multiple of 90° rotation."""

    def __init__(self, gen: IrregularMasks, height, width, device, train: bool):
        super().__init__(gen.spec, height, width, device)
        files = [torch.from_numpy(load_mask_file(p, self.height, self.width) > 0.5)
                 for p in gen.files]
        self.files = torch.stack(files).to(self.device)
        self.augment = train and gen.augment

    def draw(self, batch, g, meta):
        d = self.device
        hole = self.files[_integers(g, 0, len(self.files), (batch,), d)]
        if not self.augment:
            return hole
        flips = _uniform(g, (2, batch), d) < 0.5
        hole = torch.where(flips[0].view(-1, 1, 1), hole.flip(-1), hole)
        hole = torch.where(flips[1].view(-1, 1, 1), hole.flip(-2), hole)
        if self.height == self.width:
            turns = _integers(g, 0, 4, (batch,), d).view(-1, 1, 1)
            for k in range(1, 4):
                hole = torch.where(turns == k, torch.rot90(hole, k, dims=(1, 2)), hole)
        return hole


def _no_box(batch: int, device) -> Tensor:
    return torch.full((batch, 4), math.nan, device=device)


class DeviceObject(DeviceMasks):
    """:class:`~textinpaint.data.masks.ObjectMask`: the sample's box, grown by ``grow``."""

    def __init__(self, gen: ObjectMask, height, width, device):
        super().__init__(gen.spec, height, width, device)
        self.grow = gen.grow
        self.unavailable = (f"mask '{gen.spec}' needs a dataset with bounding boxes (cub, "
                            "shapes); choose another mask spec")

    def available(self, meta, batch):
        if meta is None:
            return torch.zeros(batch, dtype=torch.bool, device=self.device)
        return ~meta.bbox.isnan().any(1)

    def draw(self, batch, g, meta):
        # in a mixture, samples without a box get an empty hole here and another member's
        bbox = meta.bbox if meta is not None else _no_box(batch, self.device)
        x0, y0, x1, y1 = bbox.unbind(1)
        dx, dy = self.grow * (x1 - x0), self.grow * (y1 - y0)
        return self.boxes(x0 - dx, y0 - dy, x1 + dx, y1 + dy)


class DevicePart(DeviceMasks):
    """:class:`~textinpaint.data.masks.PartMask`: a rectangle around one part group's visible
    points, padded; ``group`` None picks a group with a visible point per sample; a sample
    without any falls back to its box, or to the centre square without one. Available for
    every sample of a dataset that has part annotations (``meta.parts`` not None)."""

    def __init__(self, gen: PartMask, height, width, device):
        super().__init__(gen.spec, height, width, device)
        self.margin = gen.margin
        groups = [gen.parts] if gen.parts is not None else [PART_GROUPS[k]
                                                            for k in sorted(PART_GROUPS)]
        # groups × parts: which of PART_NAMES each candidate group holds
        self.members = torch.tensor([[p in grp for p in PART_NAMES] for grp in groups],
                                    device=self.device)
        self.center = DeviceCenter(CenterMask(), height, width, device)

    def available(self, meta, batch):
        has_parts = meta is not None and meta.parts is not None
        return torch.full((batch,), has_parts, dtype=torch.bool, device=self.device)

    def draw(self, batch, g, meta):
        bbox = meta.bbox if meta is not None else _no_box(batch, self.device)
        parts = meta.parts if meta is not None and meta.parts is not None else torch.full(
            (batch, len(PART_NAMES), 2), math.nan, device=self.device)
        visible = ~parts.isnan().any(-1)  # B × P
        has = (visible[:, None, :] & self.members[None]).any(-1)  # B × groups
        # a uniform choice among each sample's groups with a visible point
        score = torch.where(has, _uniform(g, has.shape, self.device), -1.0)
        chosen = self.members[score.argmax(1)] & visible  # B × P
        big = torch.finfo(torch.float32).max
        xs, ys = parts[..., 0], parts[..., 1]
        lo_x = torch.where(chosen, xs, big).amin(1)
        hi_x = torch.where(chosen, xs, -big).amax(1)
        lo_y = torch.where(chosen, ys, big).amin(1)
        hi_y = torch.where(chosen, ys, -big).amax(1)
        x0, x1 = self._padded(lo_x, hi_x, self.width)
        y0, y1 = self._padded(lo_y, hi_y, self.height)
        hole = self.boxes(x0, y0, x1, y1)
        none = ~chosen.any(1)
        if none.any():  # the numpy fallback: the box, else the centre square
            has_box = ~bbox.isnan().any(1)
            bx0, by0, bx1, by1 = torch.nan_to_num(bbox).unbind(1)
            fallback = torch.where(has_box.view(-1, 1, 1), self.boxes(bx0, by0, bx1, by1),
                                   self.center.draw(batch, g, meta))
            hole = torch.where(none.view(-1, 1, 1), fallback, hole)
        return hole

    def _padded(self, lo: Tensor, hi: Tensor, size: int) -> tuple[Tensor, Tensor]:
        # masks._padded for a batch: a point's pixel spans [p, p + 1)
        lo, hi = lo - self.margin * size, hi + 1 + self.margin * size
        short = (PART_MIN_SIZE * size - (hi - lo)).clamp(min=0)
        return lo - short / 2, hi + short / 2


class DeviceMixture(DeviceMasks):
    """:class:`~textinpaint.data.masks.MaskMixture`: per sample, a weighted choice among the
    members that can work with its annotations (weights renormalised over those). Every
    member draws for the whole batch and the choice selects, which at these sizes costs less
    than splitting the batch."""

    def __init__(self, gen: MaskMixture, height, width, device, train: bool):
        super().__init__(gen.spec, height, width, device)
        self.unavailable = (f"mask '{gen.spec}': none of its masks fits this dataset (object/"
                            "part masks need bounding boxes or parts); add center, box or "
                            "freeform")
        self.members = [_build(m, height, width, device, train) for m, _ in gen.members]
        self.weights = torch.tensor([w for _, w in gen.members], device=self.device)

    def available(self, meta, batch):
        return torch.stack([m.available(meta, batch) for m in self.members]).any(0)

    def draw(self, batch, g, meta):
        usable = torch.stack([m.available(meta, batch) for m in self.members], 1)  # B × M
        weights = self.weights * usable
        cumulative = (weights / weights.sum(1, keepdim=True)).cumsum(1)
        pick = (cumulative <= _uniform(g, (batch, 1), self.device)).sum(1)
        pick = pick.clamp(max=len(self.members) - 1)
        hole = torch.zeros(batch, self.height, self.width, dtype=torch.bool, device=self.device)
        for k, member in enumerate(self.members):
            chosen = pick == k
            if chosen.any():
                hole = torch.where(chosen.view(-1, 1, 1), member.draw(batch, g, meta), hole)
        return hole


def _build(gen: MaskGenerator, height, width, device, train: bool) -> DeviceMasks:
    kinds = {CenterMask: DeviceCenter, BoxMasks: DeviceBoxes, FreeformMasks: DeviceFreeform,
             ObjectMask: DeviceObject, PartMask: DevicePart}
    if isinstance(gen, IrregularMasks):
        return DeviceIrregular(gen, height, width, device, train)
    if isinstance(gen, MaskMixture):
        return DeviceMixture(gen, height, width, device, train)
    if type(gen) not in kinds:
        raise UserError(f"mask '{gen.spec}' has no device version; use train.data=loader")
    return kinds[type(gen)](gen, height, width, device)


def device_masks(spec_or_generator: str | MaskGenerator, height: int, width: int, device,
                 train: bool = True) -> DeviceMasks:
    """The device version of a mask spec (``center``, ``mix:object+part:head``, ...) or of a
    numpy generator; ``train`` turns on the augmentation of ``irregular`` masks."""
    gen = spec_or_generator
    if isinstance(gen, str):
        gen = parse_mask_spec(gen, train=train)
    return _build(gen, int(height), int(width), device, train)
