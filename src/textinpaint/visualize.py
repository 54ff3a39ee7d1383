"""Picture grids for people to look at: data previews, training samples, evaluation reports.

:func:`caption_grid` lays out *cells*; a cell is a row of images side by side (e.g. masked
input, output, ground truth) with its caption wrapped underneath. :func:`overlay_mask` draws a
hole onto an image so a viewer sees both where it is and what it covers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)


def _font(size: int) -> ImageFont.ImageFont:
    try:  # Pillow >= 10.1 ships a scalable default font when FreeType is available
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _text_width(font, text: str) -> float:
    return font.getlength(text) if hasattr(font, "getlength") else 6 * len(text)


def wrap_text(text: str, font, width_px: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width_px`` (a word longer than that is split)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if _text_width(font, candidate) <= width_px:
                line = candidate
                continue
            if line:
                lines.append(line)
            # Very long words are cut by characters rather than overflowing the cell.
            while _text_width(font, word) > width_px and len(word) > 1:
                n = max(1, int(len(word) * width_px / _text_width(font, word)))
                lines.append(word[:n])
                word = word[n:]
            line = word
        lines.append(line)
    return lines


def overlay_mask(
    image: np.ndarray, mask: np.ndarray, color: Sequence[int] = (255, 255, 255),
    alpha: float = 0.65,
) -> np.ndarray:
    """``image`` (H×W×3 uint8) with the hole (``mask`` H×W, 1 = hole) tinted ``color``.

    ``alpha`` = 1 paints the hole solid; below 1 the covered content stays faintly visible.
    """
    m = np.asarray(mask, dtype=np.float32)[..., None] * float(alpha)
    out = image.astype(np.float32) * (1 - m) + np.asarray(color, np.float32) * m
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def caption_grid(
    rows: Sequence[Sequence[np.ndarray]],
    captions: Sequence[str],
    ncols: int = 4,
    titles: Sequence[str] | None = None,
    font_size: int = 11,
    pad: int = 6,
    max_lines: int | None = 6,
) -> Image.Image:
    """Lay out cells of images with a caption under each, ``ncols`` cells per line.

    Args:
        rows: one entry per cell: a list of H×W×3 uint8 images shown side by side (every
            image of every cell the same size).
        captions: one string per cell, wrapped to the cell's width.
        ncols: cells per line of the grid.
        titles: optional names of the image columns of a cell, written above the first line.
        font_size: caption font size in pixels.
        pad: gap between cells in pixels.
        max_lines: longest caption in lines (the rest ends in "..."); None for no limit.

    Returns:
        An RGB image: width = ncols × (k·W + pad) + pad for k images of width W per cell.
    """
    if len(rows) != len(captions):
        raise ValueError(f"{len(rows)} image rows but {len(captions)} captions")
    if not rows:
        raise ValueError("caption_grid needs at least one cell")
    k = len(rows[0])
    h, w = np.asarray(rows[0][0]).shape[:2]
    for cell in rows:
        if len(cell) != k or any(np.asarray(im).shape != (h, w, 3) for im in cell):
            raise ValueError(f"every cell must hold {k} images of shape {(h, w, 3)}")
    ncols = max(1, min(int(ncols), len(rows)))
    font = _font(font_size)
    line_h = font_size + 3
    cell_w = k * w
    wrapped = []
    for text in captions:
        lines = wrap_text(text, font, cell_w)
        if max_lines is not None and len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = lines[-1][:-3].rstrip() + "..."
        wrapped.append(lines)

    nlines = -(-len(rows) // ncols)
    title_h = line_h + 2 if titles else 0
    text_h = [max(len(wrapped[i]) for i in range(r * ncols, min((r + 1) * ncols, len(rows))))
              * line_h for r in range(nlines)]
    width = ncols * (cell_w + pad) + pad
    height = pad + title_h + sum(h + t + pad for t in text_h)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)

    y = pad
    if titles:
        for c in range(ncols):
            for j, title in enumerate(titles[:k]):
                draw.text((pad + c * (cell_w + pad) + j * w + 2, y), str(title), fill=TEXT,
                          font=font)
        y += title_h
    for r in range(nlines):
        for c in range(ncols):
            i = r * ncols + c
            if i >= len(rows):
                break
            x = pad + c * (cell_w + pad)
            for j, im in enumerate(rows[i]):
                canvas.paste(Image.fromarray(np.asarray(im, dtype=np.uint8)), (x + j * w, y))
            for n, line in enumerate(wrapped[i]):
                draw.text((x, y + h + 1 + n * line_h), line, fill=TEXT, font=font)
        y += h + text_h[r] + pad
    return canvas
