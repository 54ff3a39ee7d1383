"""Caption accuracy on ``shapes``: did the fill paint the object the caption asked for?

Only *filled* targets count: those whose box lies at least :data:`MIN_HIDDEN` inside the hole
(the ``object`` mask hides every target; a centre hole only some). For each, the filled image
is scored by :func:`textinpaint.data.shapes.score_fill` against

* the ground truth (the target's own colour and shape): "matches ground truth";
* the caption the method was given; with a mismatched caption that is the other item's
  target colour and shape at this target's place: "matches given caption", the
  controllability number.
"""

from __future__ import annotations

import numpy as np

MIN_HIDDEN = 0.5


def hidden_fraction(obj: dict, hole: np.ndarray) -> float:
    """Fraction of ``obj``'s box (output pixels) covered by the hole (H×W bool)."""
    h, w = hole.shape
    x0, y0, x1, y1 = obj["box"]
    c0, r0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    c1, r1 = min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)
    if c1 <= c0 or r1 <= r0:
        return 0.0
    return float(hole[r0:r1, c0:c1].mean())


def score(filled: np.ndarray, target: dict, given: dict | None = None) -> dict[str, bool]:
    """Colour/shape agreement of one filled target with the truth and with ``given``.

    Args:
        filled: uint8 H×W×3 output image.
        target: the item's target object (``color``, ``shape``, ``box``).
        given: the object the given caption describes (``color``, ``shape``); None = truth.
    """
    from ..data.shapes import score_fill

    truth = score_fill(filled, target)
    out = {"color_gt": truth["color_ok"], "shape_gt": truth["shape_ok"]}
    if given is not None:
        asked = {**target, "color": given["color"], "shape": given["shape"]}
        res = score_fill(filled, asked)
        out.update(color_given=res["color_ok"], shape_given=res["shape_ok"])
    return out


def summarize(scores: list[dict[str, bool]]) -> dict:
    """Fractions over the filled targets (``n`` of them); None where there are none."""
    out: dict = {"n": len(scores)}
    for key in ("color_gt", "shape_gt", "color_given", "shape_given"):
        vals = [s[key] for s in scores if key in s]
        if vals:
            out[key] = float(np.mean(vals))
    return out
