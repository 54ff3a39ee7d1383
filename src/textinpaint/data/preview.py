"""A picture of what a dataset feeds the model: images, their holes, their captions.

What ``textinpaint data show`` draws; the quickest way to check that a layout was read right
and that a mask spec puts its holes where it should.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..visualize import caption_grid, overlay_mask
from . import build_dataset
from .colour_swap import colour_swap as swap_colours
from .part_swap import part_swap as swap_part
from .text import Vocabulary


def to_uint8(image) -> np.ndarray:
    """A 3×H×W tensor in [-1, 1] as an H×W×3 uint8 array."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    return np.clip((array.transpose(1, 2, 0) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def preview_grid(
    spec: str,
    split: str = "all",
    masks: str | None = None,
    n: int = 16,
    resolution: int = 128,
    seed: int = 0,
    ncols: int = 4,
    colour_swap: bool = False,
    part_swap: bool = False,
) -> Image.Image:
    """A grid of ``n`` items drawn at random (by ``seed``) from the split, as evaluation sees
    them (first caption, no flip): the image, and with ``masks`` the image with its hole
    tinted white, caption underneath. ``colour_swap`` adds each item's counterfactual colour
    swap (what ``train.colour_swap`` trains on) and prints its caption after the true one;
    ``part_swap`` its part swap instead (``train.part_swap``), the whole swap where the caption
    names no part's colour.
    """
    # An empty vocabulary: tokens are not shown, and building one would read every caption.
    ds = build_dataset(spec, split=split, resolution=resolution, masks=masks, vocab=Vocabulary(),
                       train=False, seed=seed, cache=False)
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(ds), size=min(int(n), len(ds)), replace=False).tolist())
    cells, captions = [], []
    for i in picks:
        sample = ds[i]
        image = to_uint8(sample["image"])
        cell = [image]
        if masks is not None:
            cell.append(overlay_mask(image, sample["mask"][0].numpy()))
        caption = sample["caption"]
        if colour_swap or part_swap:
            meta = sample["meta"]
            swapped, new_caption = (part_swap and swap_part(image, caption, rng, meta)) or (
                swap_colours(image, caption, rng, meta.get("bbox")))
            cell.append(swapped)
            caption = f"{caption} | swap: {new_caption}" if new_caption != caption else caption
        cells.append(cell)
        captions.append(caption)
    swap_title = ["part swap"] if part_swap else ["colour swap"] if colour_swap else []
    titles = ["image"] + ["hole"] * (masks is not None) + swap_title
    titles = titles if len(titles) > 1 else None
    return caption_grid(cells, captions, ncols=ncols, titles=titles)
