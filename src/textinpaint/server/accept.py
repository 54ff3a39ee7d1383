"""Which answer a client asked for with its ``Accept`` header: JSON, or the image's bytes.

IOPaint-style clients send ``Accept: image/png`` and want the PNG itself; browsers and
``curl`` send ``*/*`` (or nothing) and get JSON, as before.
"""

from __future__ import annotations

IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
JSON = "application/json"


def _ranked(header: str) -> list[tuple[float, int, str]]:
    ranked = []
    for position, part in enumerate(header.split(",")):
        kind, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind and quality > 0:
            ranked.append((-quality, position, kind.lower()))
    return sorted(ranked)


def wanted_image_type(header: str | None) -> str | None:
    """The image media type the client prefers over JSON, or None for a JSON answer.

    The highest-``q`` entry (first listed on a tie) that is JSON, ``*/*`` or one of
    :data:`IMAGE_TYPES` decides; ``image/*`` means PNG.
    """
    for _, _, kind in _ranked(header or ""):
        if kind in (JSON, "*/*", "application/*"):
            return None
        if kind == "image/*":
            return "image/png"
        if kind in IMAGE_TYPES:
            return kind
    return None
