"""Small helpers of the inference tests (pipeline, batch CLI, server, browser)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def noise_image(width: int, height: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """Random uint8 pixels H×W×C (H×W for one channel): any change shows."""
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def box_mask(width: int, height: int, *boxes: tuple[int, int, int, int]) -> np.ndarray:
    """Bool H×W mask, True inside each (x0, y0, x1, y1) box."""
    hole = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in boxes:
        hole[y0:y1, x0:x1] = True
    return hole


def png_bytes(array: np.ndarray) -> bytes:
    """uint8 (or bool) array as PNG file bytes."""
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes as a numpy array (whatever mode the file has)."""
    return np.asarray(Image.open(io.BytesIO(data)))
