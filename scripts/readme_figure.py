"""The README's first picture: a real CUB test-split bird, one hole, four captions, four fills.

    python scripts/readme_figure.py --data ../shared/data/cub --index 1000 \
        --out docs/images/bird-captions.png

The bird is cropped as AttnGAN crops CUB (a square 1.5 times the bounding box), the hole is
a box over its breast and belly (from CUB's part annotations), and the shipped birds-128 fills
it once per caption. ``--index`` picks the test image (the README's is the one named in its
caption); ``--try N`` writes a contact sheet of N candidates spread over the split instead,
to choose from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from textinpaint.data.base import bird_crop_box
from textinpaint.data.cub import load_records
from textinpaint.pipeline import InpaintPipeline
from textinpaint.visualize import caption_grid

# The four colours birds-128's control accuracy is measured with.
CAPTIONS = ("a bird with a bright red breast",
            "a bird with a bright yellow breast",
            "a bird with a bright blue breast",
            "a bird with a bright green breast")
SIDE = 256  # shown size of each panel
HOLE_COLOUR = (255, 59, 120)


def bird_and_hole(record, side: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The cropped bird (side×side RGB) and a box hole over its breast and belly."""
    image = Image.open(record.path).convert("RGB")
    box = bird_crop_box(record.bbox, image.width, image.height)
    crop = image.crop(box).resize((side, side), Image.BICUBIC)
    scale = side / (box[2] - box[0])
    points = [record.parts[p] for p in ("breast", "belly") if p in record.parts]
    if not points:
        x, y, w, h = record.bbox
        points = [(x + w / 2, y + h / 2)]
    xs = [(px - box[0]) * scale for px, _ in points]
    ys = [(py - box[1]) * scale for _, py in points]
    half = side // 7
    x0, x1 = int(max(min(xs) - half, 0)), int(min(max(xs) + half, side))
    y0, y1 = int(max(min(ys) - half, 0)), int(min(max(ys) + half, side))
    hole = np.zeros((side, side), bool)
    hole[y0:y1, x0:x1] = True
    return np.asarray(crop), hole


def panels(pipe, record) -> list[np.ndarray]:
    image, hole = bird_and_hole(record)
    fills = pipe(prompt=list(CAPTIONS), image=[image] * len(CAPTIONS),
                 mask_image=[hole] * len(CAPTIONS)).images
    shown = image.copy()
    shown[hole] = HOLE_COLOUR  # the painter's mask colour: visible on a white background
    return [shown] + [np.asarray(f) for f in fills]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/cub", help="the CUB folder")
    parser.add_argument("--model", default="birds-128", help="model name or folder")
    parser.add_argument("--index", type=int, default=0, help="which test image")
    parser.add_argument("--try", dest="tries", type=int, default=0,
                        help="write a contact sheet of this many candidates instead")
    parser.add_argument("--out", default="docs/images/bird-captions.png")
    args = parser.parse_args()
    records = [r for r in load_records(Path(args.data), "test") if r.bbox and r.parts]
    pipe = InpaintPipeline.from_pretrained(args.model)
    if args.tries:
        picks = np.linspace(0, len(records) - 1, args.tries).round().astype(int)
        rows = [panels(pipe, records[i]) for i in picks]
        grid = caption_grid(rows, [str(i) for i in picks], ncols=1)
        grid.save(args.out)
        return
    record = records[args.index]
    grid = caption_grid([panels(pipe, record)],
                        [f"CUB test image {record.key} · {pipe.name}"], ncols=1,
                        titles=["the hole (pink)"] + [f'"{c}"' for c in CAPTIONS])
    grid.save(args.out, optimize=True)
    print(f"wrote {args.out} ({record.key})")


if __name__ == "__main__":
    main()
