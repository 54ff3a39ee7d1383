"""Do a caption's colour words land on the parts they name?

The evaluation's control tasks give every part one colour ("this bird is bright red all over
with a red head and red wings"), so a model that paints the whole hole in the caption's main
colour passes them. A person writes "a red crown and a white belly" and expects red on the
crown and white on the belly. This hides the whole bird's box of CUB test birds whose head
and belly points are both visible, fills it once per ordered pair of palette colours
("this bird has a bright {head} head and a bright {belly} belly"), and reads the fill's mean
CIELab a*b* in small discs around the head points (crown, forehead, nape) and around the
belly points (belly, breast).

The two orders of a pair (c1 head / c2 belly, then c2 head / c1 belly) meet the same
context, so their difference is the caption's doing alone. Per image and unordered pair:

* **head follows**: the head moved towards c1 (against c2) when the head word became c1;
* **belly follows**: the belly moved towards c2 when the belly word became c2;
* **both**: both at once: the two colours landed on their own parts.

Chance is 0.5 for each; a model that paints one colour over the whole hole, whichever word
it reads, scores 0.5 on one of the two and 0.5 on "both" at best. The shift is the mean
projected difference in ΔE units (positive = towards the named colour).

    python benchmarks/part_colours.py models/birds-128 --sample 96 --picture /tmp/parts.png
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch
from torch.utils.data import DataLoader

from textinpaint.data import collate
from textinpaint.evaluation import control, metrics
from textinpaint.evaluation.evalset import build_eval_set
from textinpaint.evaluation.paired import bootstrap_mean
from textinpaint.model_folder import load_model

TEMPLATE = "this bird has a bright {head} head and a bright {belly} belly"
HEAD_POINTS = ("crown", "forehead", "nape")
BELLY_POINTS = ("belly", "breast")
DISC_RADIUS = 0.035  # of the image side: about a crown's size at 128 px


def part_weights(parts: dict, names: tuple[str, ...], hole: torch.Tensor) -> torch.Tensor | None:
    """A 1×H×W weight map of discs around the named visible points, inside the hole only."""
    height, width = hole.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    radius = DISC_RADIUS * max(height, width)
    disc = torch.zeros(height, width)
    for name in names:
        if name in parts and parts[name] is not None:
            x, y = parts[name]
            disc = torch.maximum(disc, (((xs - x) ** 2 + (ys - y) ** 2) <= radius ** 2).float())
    weights = disc * hole[0]
    return weights[None] if weights.sum() >= 3 else None


def region_ab(lab: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
    """Mean a*b* of one Lab image (3×H×W) under a 1×H×W weight map."""
    return ((lab[1:].double() * weights).sum(dim=(1, 2)) / weights.sum()).numpy()


def fill(model, image: torch.Tensor, hole: torch.Tensor, caption: str, colours: tuple[str, str]
         ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The composited fill of a batch for one caption, as CIELab, the last word-attention map
    of each of the two ``colours``' words, B×2×H×W at the image's size, and their word-demand
    weights, B×2 (each None without)."""
    tokens, lengths = model.encode_text([caption] * image.shape[0])
    out = model(image, hole, tokens, lengths)
    lab = control.to_lab(metrics.to_unit(image * (1 - hole) + out["final"] * hole))
    attention = out.get("word_attention")
    ids = [model.vocab.stoi.get(c) for c in colours]
    if attention is None or None in ids:
        return lab, None, None
    position = [int((tokens[0] == i).nonzero()[0]) for i in ids]
    maps = torch.nn.functional.interpolate(attention[:, position].float(), size=hole.shape[-2:],
                                           mode="bilinear", align_corners=False)
    weights = out.get("word_weights")
    return lab, maps, None if weights is None else weights[:, position].float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="an inpainting model folder")
    parser.add_argument("--data", default="../shared/data/cub", help="CUB root")
    parser.add_argument("--sample", type=int, default=96, help="test images tried (evenly spread)")
    parser.add_argument("--palette", default="red,yellow,blue,green")
    parser.add_argument("--template", default=TEMPLATE,
                        help="the caption, with {head} and {belly} for the two colours")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--picture", help="write the first images' fills for each pair here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    palette = tuple(c.strip() for c in args.palette.split(","))
    dirs = dict(zip(palette, control.directions(palette)))
    evalset = build_eval_set(f"cub:{args.data}", "test", "object", model.resolution, 0, None,
                             False, args.sample)
    pairs = list(itertools.combinations(palette, 2))
    scores = {key: [] for key in ("head", "belly", "both")}
    shifts = {"head": [], "belly": []}
    binding: list[float] = []
    level: list[float] = []  # a colour word's mean attention at the two parts
    demand: list[torch.Tensor] = []  # word-demand weights of the head's and the belly's word
    shown: list[tuple[np.ndarray, list[np.ndarray]]] = []
    used = 0
    for batch in DataLoader(evalset.dataset, batch_size=8, collate_fn=collate):
        image, hole = batch["image"], batch["mask"]
        regions = [(part_weights(m.get("parts", {}), HEAD_POINTS, h),
                    part_weights(m.get("parts", {}), BELLY_POINTS, h))
                   for m, h in zip(batch["meta"], hole)]
        keep = [i for i, (a, b) in enumerate(regions) if a is not None and b is not None]
        if not keep:
            continue
        image, hole = image[keep], hole[keep]
        regions = [regions[i] for i in keep]
        used += len(keep)
        filled = {(a, b): fill(model, image, hole, args.template.format(head=a, belly=b), (a, b))
                  for a, b in itertools.permutations(palette, 2)}
        labs = {key: lab for key, (lab, _, _) in filled.items()}
        demand += [w for _, _, w in filled.values() if w is not None]
        for maps in (m for _, m, _ in filled.values() if m is not None):
            for i, (head, belly) in enumerate(regions):
                # the head's colour word read more at the head than at the belly, and the
                # belly's at the belly: 0 when every hole region reads the words alike
                at = [[float((maps[i, k] * r[0]).sum() / r.sum()) for r in (head, belly)]
                      for k in range(2)]
                binding.append(((at[0][0] - at[0][1]) + (at[1][1] - at[1][0])) / 2)
                level.append(float(np.mean(at)))
        for c1, c2 in pairs:
            towards = dirs[c1] - dirs[c2]
            towards = towards / np.linalg.norm(towards)
            for i, (head, belly) in enumerate(regions):
                # c1 head / c2 belly minus c2 head / c1 belly: the caption's doing alone
                d_head = region_ab(labs[(c1, c2)][i], head) - region_ab(labs[(c2, c1)][i], head)
                d_belly = region_ab(labs[(c2, c1)][i], belly) - region_ab(labs[(c1, c2)][i], belly)
                s_head, s_belly = float(d_head @ towards), float(d_belly @ towards)
                shifts["head"].append(s_head)
                shifts["belly"].append(s_belly)
                scores["head"].append(_credit(s_head))
                scores["belly"].append(_credit(s_belly))
                scores["both"].append(_credit(s_head) * _credit(s_belly))
        if args.picture and len(shown) < 4:
            for i in range(min(4 - len(shown), len(keep))):
                shown.append((_uint8(image[i] * (1 - hole[i])),
                              [_uint8_lab(labs[p][i]) for p in itertools.permutations(palette, 2)]))
    if not used:
        raise SystemExit("no test image had both head and belly points inside its box")
    print(f"{args.model}: {used} CUB test images (of {len(evalset.dataset)} tried) with head and "
          f"belly points in the box hole, {len(pairs)} colour pairs, '{args.template}'")
    print("| part | follows its word (chance 0.5) [95 %] | shift towards the named colour, ΔE |")
    print("|---|---|---|")
    for key in ("head", "belly", "both"):
        mean, low, high = _interval(np.asarray(scores[key]))
        shift = f"{np.mean(shifts[key]):+.1f}" if key in shifts else "–"
        print(f"| {key} | {mean:.3f} [{low:.3f}, {high:.3f}] | {shift} |")
    if binding:
        mean, low, high = _interval(np.asarray(binding) * 100)
        print(f"attention binding (each colour word's attention at its own part minus at the "
              f"other part, percentage points of the softmax over words): {mean:+.2f} "
              f"[{low:+.2f}, {high:+.2f}]; a colour word's mean attention there "
              f"{100 * np.mean(level):.1f}")
    if demand:
        head_word, belly_word = torch.cat(demand).mean(dim=0).tolist()
        print(f"word-demand weight of the head's colour word {head_word:.3f}, of the belly's "
              f"{belly_word:.3f}")
    if args.picture:
        _write_picture(args.picture, shown, list(itertools.permutations(palette, 2)))


def _credit(shift: float, tol: float = 1e-6) -> float:
    return 1.0 if shift > tol else 0.5 if shift >= -tol else 0.0


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    stat = bootstrap_mean(values, seed=0, resamples=2000)
    return stat["mean"], stat["lo"], stat["hi"]


def _uint8(x: torch.Tensor) -> np.ndarray:
    return (metrics.to_unit(x).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _uint8_lab(lab: torch.Tensor) -> np.ndarray:
    from kornia.color import lab_to_rgb

    rgb = lab_to_rgb(lab[None])[0].clamp(0, 1)
    return (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _write_picture(path: str, shown, orders) -> None:
    from PIL import Image, ImageDraw

    size = shown[0][0].shape[0]
    label = 14
    sheet = Image.new("RGB", (size * (1 + len(orders)), label + size * len(shown)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((2, 1), "input", fill="black")
    for k, (head, belly) in enumerate(orders):
        draw.text((size * (k + 1) + 2, 1), f"{head[:3]} head / {belly[:3]} belly", fill="black")
    for row, (masked, fills) in enumerate(shown):
        for col, tile in enumerate([masked, *fills]):
            sheet.paste(Image.fromarray(tile), (col * size, label + row * size))
    sheet.save(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
