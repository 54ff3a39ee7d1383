"""Pasting a window's fill into the hole, with a feathered band along the hole's border.

A fill made at the model's resolution and enlarged to a big window is softer than the photo
around it, and its first pixels need not continue the known ones exactly: a hard seam along
the hole's outline. The band blends, *inside the hole only*, from a continuation of the known
pixels (OpenCV's Telea fill of the band, which starts from the border's own values) at the
border to the model's fill ``band`` pixels in (the fill, not the hole's old pixels, is on
the band's inner side). Pixels outside the hole are never written, so the project's rule
(only hole pixels change) holds bit for bit.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def auto_band(window_side: int, run_side: int) -> int:
    """The feather width (full-resolution pixels) for a fill enlarged ``window_side /
    run_side`` times: two model pixels' worth, and none at the model's own scale (a fill
    that is not enlarged has no seam to hide, and its pixels stay the model's)."""
    scale = window_side / run_side
    return 0 if scale <= 1 else math.ceil(2 * scale)


def feather_paste(output: np.ndarray, fill: np.ndarray, hole: np.ndarray, band: int) -> None:
    """Write ``fill`` into ``output`` where ``hole`` is True (all H×W(×3), uint8 / bool).

    With ``band`` > 0 the first ``band`` pixels inside the hole (by distance to the nearest
    known pixel) blend linearly from a Telea continuation of ``output``'s known pixels to
    ``fill``. ``output`` must hold the original pixels outside the hole.
    """
    if band <= 0 or not hole.any() or hole.all():
        output[hole] = fill[hole]
        return
    inside = hole.astype(np.uint8)
    # Distance of each hole pixel to the nearest known one (1 for the outermost ring).
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    ring = hole & (dist <= band)
    # The hole's own pixels are the damage to replace: never a source. The fill goes in
    # first, so Telea's band grows from the known pixels outside and the fill inside.
    output[hole] = fill[hole]
    continued = cv2.inpaint(np.ascontiguousarray(output), ring.astype(np.uint8),
                            max(3, band // 2), cv2.INPAINT_TELEA)
    alpha = np.clip((dist - 0.5) / band, 0, 1)[..., None]
    blended = continued.astype(np.float32) * (1 - alpha) + fill.astype(np.float32) * alpha
    output[hole] = np.clip(np.rint(blended[hole]), 0, 255).astype(np.uint8)
