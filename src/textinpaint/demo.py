"""The README's main job: fill one synthetic scene's hole with two captions.

A ``shapes`` scene is rendered, its described object is cut out, and the shipped model fills
the hole twice: once with the scene's own caption and once with the target's colour word
changed. Because the hole hides the object entirely, only the caption can tell the model
what belongs there, so the two fills show what the text contributes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .data.masks import ObjectMask
from .data.shapes import (
    COLORS,
    caption_for,
    recolor_caption,
    render_scene,
    sample_scene,
    scene_objects,
    score_fill,
    target_bbox,
)
from .pipeline import InpaintPipeline
from .visualize import caption_grid

SHIPPED_SHAPES_MODEL = Path(__file__).resolve().parents[2] / "models" / "shapes-64"


def hidden_object_scene(seed: int, size: int) -> tuple[np.ndarray, np.ndarray, str, dict]:
    """A ``shapes`` scene whose described object a hole hides completely.

    Returns ``(image, hole, caption, target)``: H×W×3 uint8 pixels, the float32 H×W hole
    mask (1 = hole), the scene's caption and its target object (for ``score_fill``).
    """
    rng = np.random.default_rng(seed)
    scene = sample_scene(rng)
    caption = caption_for(scene, rng)
    image = render_scene(scene, size)
    hole = ObjectMask()(size, size, rng, {"bbox": target_bbox(scene, size)})
    return image, hole, caption, scene_objects(scene, size)[0]


def run_demo(model_dir: str | Path, out_dir: str | Path, seed: int = 3,
             other_color: str | None = None, zoom: int = 4) -> dict:
    """Inpaint an embedded scene with its caption and a recoloured one; write PNGs.

    The scene is rendered at the model's resolution (the scale it was trained at); the
    comparison grid shows it enlarged ``zoom`` times. Returns what was written and, per
    caption, the colour the fill was scored as.
    """
    pipe = InpaintPipeline.from_pretrained(model_dir)
    image, hole, caption, target = hidden_object_scene(seed, pipe.resolution)
    other = other_color or next(c for c in COLORS if c not in caption.split() and c != "white")
    captions = [caption, recolor_caption(caption, target["color"], other)]
    results = pipe(prompt=captions, image=[image, image], mask_image=[hole, hole]).images

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    masked = image.copy()
    masked[hole > 0] = 255
    fills = [np.asarray(r.convert("RGB")) for r in results]
    written = {"masked": out / "masked.png", "ground_truth": out / "ground_truth.png"}
    Image.fromarray(masked).save(written["masked"])
    Image.fromarray(image).save(written["ground_truth"])
    report = []
    for i, (text, fill) in enumerate(zip(captions, fills)):
        path = out / f"fill_{i + 1}.png"
        Image.fromarray(fill).save(path)
        asked = target["color"] if i == 0 else other
        scored = score_fill(fill, target)["color"]
        report.append({"caption": text, "file": str(path), "asked_color": asked,
                       "fill_color": scored})
    def big(pixels: np.ndarray) -> np.ndarray:
        return pixels.repeat(zoom, axis=0).repeat(zoom, axis=1)

    grid = caption_grid([[big(masked), big(fills[0]), big(fills[1]), big(image)]],
                        [f"1: {captions[0]}  |  2: {captions[1]}"], ncols=1,
                        titles=["masked input", "fill, caption 1", "fill, caption 2",
                                "ground truth"])
    grid.save(out / "comparison.png")
    return {"model": str(model_dir), "comparison": str(out / "comparison.png"),
            "fills": report}
