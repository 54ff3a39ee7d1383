"""Square windows around the holes of a full-size mask, for a fixed-resolution model.

The model fills R×R images. To fill a hole in a picture of any size and aspect we cut a
square window around the hole with some context, resize it to R×R, fill, and paste the fill
back. This module only does the planning (pure numpy + OpenCV, no model):

* Each 8-connected hole component gets a square window: its bounding box's longer side grown
  by ``margin`` on each side (so the model sees context all round), at least ``min_side``
  (the model's resolution: never upsample a small hole's surroundings when the image has
  more pixels to offer) and at most the image's longer side.
* The window is centred on the hole and shifted to stay inside the image. Along an axis
  where the image is shorter than the window the image is centred in the window and the
  rest is reflection padding (see :func:`crop`).
* Components whose windows overlap are merged into one cluster with one window around
  their union, repeated until all windows are disjoint. Far-apart holes therefore get their
  own windows (each at the best scale for its hole) and every hole pixel belongs to exactly
  one window, so pasting the fills back never has to blend two fills.
* Bounds (for servers): ``max_side`` caps a window's side (never below its hole's extent:
  a bigger hole is the caller's to refuse), and ``max_windows`` merges nearby holes when
  there are more clusters than that: the hole mask is max-pooled by 2, 4, 8, ... until few
  enough clusters remain, so a mask of thousands of specks costs a few windows, not
  thousands, and planning stays linear in the pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# A hole of side s gets a window of side 2·s: the layout the models are trained on (MMFL's
# centre hole is half the image's side), so the fill sees as much context as in training.
DEFAULT_MARGIN = 0.5


@dataclass(frozen=True)
class Window:
    """A square ``side``×``side`` window whose top-left corner is (``x0``, ``y0``).

    The corner may be negative and the window may reach past the image where the image is
    shorter than the window; those pixels are reflection padding.
    """

    x0: int
    y0: int
    side: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), end-exclusive."""
        return self.x0, self.y0, self.x0 + self.side, self.y0 + self.side

    def overlaps(self, other: Window) -> bool:
        ax0, ay0, ax1, ay1 = self.box
        bx0, by0, bx1, by1 = other.box
        return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The part of the window inside a ``width``×``height`` image, (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = self.box
        return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def _place(lo: int, hi: int, side: int, size: int) -> int:
    """Start of a ``side``-long interval covering [lo, hi) inside [0, size) where possible."""
    if side >= size:
        return -((side - size) // 2)  # image shorter than the window: centre it, pad the rest
    start = (lo + hi - side) // 2
    return min(max(start, 0), size - side)


def window_for_box(box: tuple[int, int, int, int], width: int, height: int, min_side: int,
                   margin: float = DEFAULT_MARGIN, max_side: int | None = None) -> Window:
    """The square window for a hole bounding box (x0, y0, x1, y1) in a width×height image;
    its side is at most ``max_side`` unless the hole itself is longer."""
    x0, y0, x1, y1 = box
    extent = max(x1 - x0, y1 - y0)
    side = max(math.ceil(extent * (1 + 2 * margin)), min_side)
    cap = max(width, height) if max_side is None else min(max(width, height), max_side)
    side = max(min(side, cap), extent, 1)
    return Window(_place(x0, x1, side, width), _place(y0, y1, side, height), side)


def hole_boxes(hole: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1) of the 8-connected components of a bool mask."""
    return _boxes(_stats(hole), 1, hole.shape)


def _stats(grid: np.ndarray) -> np.ndarray:
    """OpenCV's per-component stats rows (x, y, w, h, area) of a bool grid, background out."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(grid.astype(np.uint8), connectivity=8)
    return stats[1:]


def _boxes(stats: np.ndarray, scale: int, shape: tuple[int, int]):
    """The components' boxes scaled from a pooled grid back to the image (clipped)."""
    height, width = shape
    return [(int(x) * scale, int(y) * scale, min(int(x + w) * scale, width),
             min(int(y + h) * scale, height)) for x, y, w, h in stats[:, :4]]


def _pool2(grid: np.ndarray) -> np.ndarray:
    """2×2 max-pooling of a bool grid (an odd last row/column pools alone)."""
    # Dilating with a 2×2 kernel anchored top-left puts each block's max at its corner;
    # OpenCV does that an order of magnitude faster than numpy's reshape-and-any.
    grown = cv2.dilate(grid.astype(np.uint8), np.ones((2, 2), np.uint8), anchor=(0, 0))
    return grown[::2, ::2].astype(bool)


def clustered_boxes(hole: np.ndarray, max_clusters: int | None = None):
    """Hole component boxes; with ``max_clusters``, of the mask max-pooled by the smallest
    power of two that leaves at most that many components (each box then covers its holes)."""
    grid, scale = hole, 1
    stats = _stats(grid)
    while max_clusters is not None and len(stats) > max_clusters and min(grid.shape) > 1:
        grid, scale = _pool2(grid), scale * 2
        stats = _stats(grid)
    return _boxes(stats, scale, hole.shape)


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]):
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def plan_windows(hole: np.ndarray, min_side: int, margin: float = DEFAULT_MARGIN,
                 max_windows: int | None = None, max_side: int | None = None) -> list[Window]:
    """Disjoint square windows that together contain every hole pixel of ``hole`` (H×W bool).

    An empty mask gives no windows; ``max_windows`` merges nearby holes until at most that
    many are left, ``max_side`` caps window sides (see the module docstring).
    """
    height, width = hole.shape
    clusters = clustered_boxes(hole, max_windows)
    windows = [window_for_box(b, width, height, min_side, margin, max_side) for b in clusters]
    merged = True
    while merged:  # each pass removes one cluster, so this ends
        merged = False
        for i in range(len(windows)):
            for j in range(i + 1, len(windows)):
                if windows[i].overlaps(windows[j]):
                    clusters[i] = _union(clusters[i], clusters[j])
                    windows[i] = window_for_box(clusters[i], width, height, min_side, margin,
                                                max_side)
                    del clusters[j], windows[j]
                    merged = True
                    break
            if merged:
                break
    return windows


def crop(array: np.ndarray, window: Window) -> np.ndarray:
    """The window's pixels of an H×W(×C) array; outside the image, reflection padding."""
    height, width = array.shape[:2]
    x0, y0, x1, y1 = window.box
    cx0, cy0, cx1, cy1 = window.clipped(width, height)
    inside = array[cy0:cy1, cx0:cx1]
    pads = [(cy0 - y0, y1 - cy1), (cx0 - x0, x1 - cx1)] + [(0, 0)] * (array.ndim - 2)
    if not any(p for pair in pads for p in pair):
        return inside.copy()
    # 'reflect' needs at least two pixels along an axis; a 1-pixel-wide image repeats instead.
    mode = "reflect" if min(inside.shape[:2]) > 1 else "edge"
    return np.pad(inside, pads, mode=mode)


def paste_region(window: Window, width: int, height: int) -> tuple[slice, slice, slice, slice]:
    """Slices (image_rows, image_cols, window_rows, window_cols) of the window's inside part."""
    x0, y0, _, _ = window.box
    cx0, cy0, cx1, cy1 = window.clipped(width, height)
    return (slice(cy0, cy1), slice(cx0, cx1),
            slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))


# IOPaint's high-resolution strategies, for a model of a fixed resolution R:
#   crop      every hole cluster its own window (above), resized to R: the default;
#   resize    one window over the whole image, resized to R: the most context, least detail;
#   original  the crop windows at the photo's own pixel scale: the network runs at the
#             window's side (rounded up to a multiple of 32, at most MAX_ORIGINAL_SIDE), so
#             a small hole in a big photo is filled with all the detail the photo has.
HD_STRATEGIES = ("crop", "resize", "original")
ORIGINAL_MULTIPLE = 32
MAX_ORIGINAL_SIDE = 1024


def whole_image_window(width: int, height: int) -> Window:
    """One square window holding the whole image (the shorter axis reflection-padded)."""
    return window_for_box((0, 0, width, height), width, height, 1, margin=0)


def plan_strategy(hole: np.ndarray, resolution: int, strategy: str = "crop",
                  multiple: int = ORIGINAL_MULTIPLE,
                  windows: list[Window] | None = None) -> list[tuple[Window, int]]:
    """The windows for ``strategy`` (see :data:`HD_STRATEGIES`), each with the side the
    network runs it at (``multiple``: what the network's input side must divide by;
    ``windows``: the hole's crop windows when already planned, e.g. within work limits)."""
    if strategy not in HD_STRATEGIES:
        raise ValueError(f"hd_strategy must be one of {', '.join(HD_STRATEGIES)}, "
                         f"not {strategy!r}")
    if not hole.any():
        return []
    if strategy == "resize":
        return [(whole_image_window(hole.shape[1], hole.shape[0]), resolution)]
    windows = plan_windows(hole, resolution) if windows is None else windows
    if strategy == "crop":
        return [(w, resolution) for w in windows]
    return [(w, min(MAX_ORIGINAL_SIDE, max(multiple, -(-w.side // multiple) * multiple)))
            for w in windows]
