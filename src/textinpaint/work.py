"""Bounds on the work of filling one image, checked before the big allocations.

The cost of a fill is not its file size: a 234-byte 1×12000 PNG with a full mask needs a
12000×12000 window (memory grows with the window's side squared), and a mask of 1,849 specks
needs 1,849 windows. :class:`WorkLimits` bounds both, and :func:`plan_bounded` plans the
windows of one mask within them or refuses with :class:`TooMuchWork`, a one-line
:class:`~textinpaint.errors.UserError` that says what to change. Planning allocates nothing
large; the estimate is checked before any window is cut out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .images import ImageTooLarge
from .windows import Window, plan_windows

# Peak bytes per pixel of the image (decoded file, RGB copy, output, hole mask, PNG of the
# result) and of the largest window (its crop with padding, the fill resized back in float32,
# the rounding temporaries); only one window is at full size at a time. Measured as the
# growth of ru_maxrss over one fill (decode to PNG) on the CPU: 3000² with a small hole
# 11.5 B/px; 1×3000 and 1×5000 full masks 36-37 B per window pixel; 2000² full 50 B/px in
# all. Rounded up, so the estimate errs on the safe side.
IMAGE_BYTES_PER_PIXEL = 16
WINDOW_BYTES_PER_PIXEL = 40
MB = 2**20


class TooMuchWork(ImageTooLarge):
    """Filling an image would take more memory or windows than allowed (HTTP 413)."""


@dataclass(frozen=True)
class WorkLimits:
    """What filling one image may cost; None = unbounded.

    ``max_window_side``: the longest side of one fill window in pixels. ``max_windows``:
    windows per image (more clusters of holes are merged into fewer, see
    :func:`~textinpaint.windows.plan_windows`). ``max_memory_mb``: the estimated peak memory
    of one image's fill. ``max_aspect``: the longer side over the shorter one. ``memory_hint``
    names the setting that raises the memory bound, for the message (e.g. a CLI option).
    """

    max_window_side: int | None = None
    max_windows: int | None = None
    max_memory_mb: float | None = None
    max_aspect: float | None = None
    memory_hint: str | None = None


def estimate_bytes(width: int, height: int, window_side: int) -> int:
    """Estimated peak memory of filling a width×height image whose largest window is
    ``window_side`` pixels square."""
    return IMAGE_BYTES_PER_PIXEL * width * height + WINDOW_BYTES_PER_PIXEL * window_side ** 2


def worst_case_bytes(width: int, height: int, limits: WorkLimits) -> int:
    """The most a width×height image can cost under ``limits``: its largest possible window."""
    side = max(width, height)
    if limits.max_window_side is not None:
        side = min(side, limits.max_window_side)
    return estimate_bytes(width, height, side)


def check_shape(width: int, height: int, limits: WorkLimits, what: str = "the image") -> None:
    """Refuse an image whose shape alone is out of bounds (before it is decoded)."""
    aspect = max(width, height) / max(min(width, height), 1)
    if limits.max_aspect is not None and aspect > limits.max_aspect:
        raise TooMuchWork(f"{what} is {width}×{height} pixels, its long side {aspect:.0f} "
                          f"times its short side; the limit is {limits.max_aspect:g}:1: crop "
                          "or pad it closer to a square")


def plan_bounded(hole: np.ndarray, resolution: int, limits: WorkLimits | None,
                 what: str = "the image") -> list[Window]:
    """The fill windows of ``hole`` (H×W bool) for a model of side ``resolution``, within
    ``limits``; :class:`TooMuchWork` if no plan fits."""
    limits = limits or WorkLimits()
    height, width = hole.shape
    check_shape(width, height, limits, what)
    windows = plan_windows(hole, resolution, max_windows=limits.max_windows,
                           max_side=limits.max_window_side)
    if not windows:
        return windows
    side = max(w.side for w in windows)
    if limits.max_window_side is not None and side > limits.max_window_side:
        raise TooMuchWork(f"a hole in {what} ({width}×{height}) needs a {side}-pixel fill "
                          f"window; the limit is {limits.max_window_side}: paint smaller "
                          "holes or downscale the image")
    need = estimate_bytes(width, height, side)
    if limits.max_memory_mb is not None and need > limits.max_memory_mb * MB:
        raise TooMuchWork(f"filling {what} ({width}×{height}, a {side}-pixel window) would "
                          f"take about {need / MB:.0f} MB; the limit is "
                          f"{limits.max_memory_mb:g} MB: downscale the image or paint smaller "
                          "holes" + (f", or raise {limits.memory_hint}" if limits.memory_hint
                                     else ""))
    return windows
