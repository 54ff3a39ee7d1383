"""Where a model's text gain comes from: the gain per image, by what the two captions name
and by how much of the hole the bird covers.

The text gain (docs/EVALUATION.md) is hole PSNR with the true caption minus with a
mismatched one, the caption of another test image. This splits it by (a) whether the two
captions name the same colour words (of Berlin & Kay's eleven basic terms), overlapping ones
or none in common, and (b) the share of the hole inside the bird's box. Reads an evaluation
folder written by ``textinpaint evaluate`` (its ``per_image.csv`` and ``metrics.json``) and
rebuilds the same evaluation set for the captions and boxes; prints a table. With
``--picture`` it also draws the images of the lowest and highest gains: the masked input,
the fills with the true, the empty and the mismatched caption, the photo.

    python benchmarks/text_gain_by_caption.py runs/eval/birds-128-center [--method birds-128+seam]
        [--picture gain.jpg --model models/birds-128 --rows 4]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import warnings
from pathlib import Path

import numpy as np

from textinpaint.data.colour_words import BASIC_TERMS
from textinpaint.evaluation.evalset import build_eval_set

# the spellings CUB's captions use for the basic terms
SPELLINGS = {"gray": "grey", "greyish": "grey", "grayish": "grey", "reddish": "red",
             "yellowish": "yellow", "brownish": "brown", "blackish": "black",
             "whitish": "white", "greenish": "green", "bluish": "blue", "orangish": "orange"}


def colour_words(caption: str) -> frozenset[str]:
    """The basic colour terms a caption names."""
    words = re.findall(r"[a-z]+", caption.lower())
    return frozenset(w for w in (SPELLINGS.get(w, w) for w in words) if w in BASIC_TERMS)


def box_share(mask: np.ndarray, bbox: tuple[float, float, float, float]) -> float:
    """The share of the hole's pixels inside the bird's box (x0, y0, x1, y1, pixels)."""
    x0, y0, x1, y1 = (int(round(v)) for v in bbox)
    inside = np.zeros_like(mask, dtype=bool)
    inside[max(0, y0):y1, max(0, x0):x1] = True
    hole = mask > 0.5
    return float((hole & inside).sum() / max(1, hole.sum()))


def gain_rows(folder: Path, method: str | None) -> tuple[str, dict[int, float]]:
    """The method's per-image PSNR-hole gain (true minus mismatched), keyed by item index."""
    psnr: dict[tuple[str, str], dict[int, float]] = {}
    with open(folder / "per_image.csv", newline="") as f:
        for row in csv.DictReader(f):
            psnr.setdefault((row["method"], row["caption"]), {})[int(row["index"])] = \
                float(row["psnr_hole"])
    methods = sorted({m for m, c in psnr if c == "mismatched"})
    if not methods:
        raise SystemExit(f"{folder}/per_image.csv holds no mismatched-caption rows")
    method = method or methods[-1]
    if method not in methods:
        raise SystemExit(f"--method {method!r}: the evaluation holds {', '.join(methods)}")
    true, other = psnr[(method, "true")], psnr[(method, "mismatched")]
    return method, {i: true[i] - other[i] for i in true if i in other}


def interval(values: np.ndarray, draws: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of the mean."""
    rng = np.random.default_rng(0)
    means = rng.choice(values, (draws, len(values))).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def print_table(title: str, groups: dict[str, list[float]]) -> None:
    print(f"\n| {title} | images | text gain, dB [95 %] | share with gain > 0 |")
    print("|---|---|---|---|")
    for name, values in groups.items():
        if not values:
            print(f"| {name} | 0 | – | – |")
            continue
        v = np.array(values)
        lo, hi = interval(v)
        print(f"| {name} | {len(v)} | {v.mean():+.2f} [{lo:+.2f}, {hi:+.2f}] | "
              f"{(v > 0).mean():.2f} |")


def draw_extremes(evalset, gain: dict[int, float], model: str, rows: int, path: Path) -> None:
    """The ``rows`` lowest and highest gains: input, true / empty / mismatched fill, photo."""
    from PIL import Image

    from textinpaint.caption_check import CaptionWarning
    from textinpaint.images import network_to_uint8
    from textinpaint.pipeline import InpaintPipeline

    pipe = InpaintPipeline.from_pretrained(model)
    warnings.simplefilter("ignore", CaptionWarning)  # long CUB captions: dropped words are fine
    order = sorted(gain, key=gain.get)
    lines = []
    for i in order[:rows] + order[-rows:]:
        item = evalset.dataset[i]
        photo = network_to_uint8(item["image"][None])[0]
        hole = (item["mask"][0].numpy() > 0.5).astype(np.uint8) * 255
        fills = [np.asarray(pipe(prompt=caption, image=photo, mask_image=hole).images[0])
                 for caption in (evalset.captions[i], "", evalset.mismatched_caption(i))]
        lines.append(np.concatenate([np.where(hole[..., None] > 0, 255, photo), *fills,
                                     photo], axis=1))
    Image.fromarray(np.concatenate(lines, axis=0)).save(path)
    print(f"\npicture: {path} (rows: the {rows} lowest gains, then the {rows} highest; "
          "columns: input, true, empty, mismatched caption, photo)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="an evaluation folder (textinpaint evaluate)")
    parser.add_argument("--method", help="the per_image.csv method (default: the last model)")
    parser.add_argument("--picture", type=Path, help="draw the extreme gains into this file")
    parser.add_argument("--model", help="the evaluated model folder (for --picture)")
    parser.add_argument("--rows", type=int, default=4, help="lowest and highest gains drawn")
    args = parser.parse_args()
    info = json.loads((args.folder / "metrics.json").read_text())
    method, gain = gain_rows(args.folder, args.method)
    evalset = build_eval_set(info["dataset"], info["split"], info["masks"], info["resolution"],
                             info["seed"], info["protocol"].get("limit"), progress=False,
                             sample=info["protocol"].get("sample"))
    by_words = {"same colour words": [], "some shared": [], "none shared": []}
    by_box = {"hole < 50 % bird box": [], "50-90 %": [], "≥ 90 %": []}
    for i, g in sorted(gain.items()):
        mine, theirs = colour_words(evalset.captions[i]), colour_words(
            evalset.mismatched_caption(i))
        key = ("same colour words" if mine == theirs else
               "some shared" if mine & theirs else "none shared")
        by_words[key].append(g)
        item = evalset.dataset[i]
        share = box_share(item["mask"][0].numpy(), item["meta"]["bbox"])
        by_box["hole < 50 % bird box" if share < 0.5 else "50-90 %" if share < 0.9
               else "≥ 90 %"].append(g)
    print(f"{method}: {len(gain)} images of {info['dataset']} ({info['split']}), "
          f"{info['resolution']} px, masks {info['masks']}; mean text gain "
          f"{np.mean(list(gain.values())):+.2f} dB")
    print_table("the two captions' colour words", by_words)
    print_table("hole inside the bird's box", by_box)
    if args.picture:
        if not args.model:
            raise SystemExit("--picture needs --model, the folder that was evaluated")
        draw_extremes(evalset, gain, args.model, args.rows, args.picture)


if __name__ == "__main__":
    main()
