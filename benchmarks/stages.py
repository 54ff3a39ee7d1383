"""Where a model's fill comes from: hole L1 of each stage, fusion alphas, and blur sensitivity.

For each model folder, on the first ``--limit`` images of an evaluation split with the true
captions, prints one table row: hole L1 of the coarse stage's and of the final composite, the
mean fusion alpha inside the hole at each fusion scale (1 = the network's completion, 0 = what
the fusion block blends it with, see ``generator.fusion_base``), and the final fill's hole L1
after a Gaussian blur of σ 1 and 2 px (if blurring lowers it, the fill's error is in fine
detail; if not, in what the fill says). Hole L1 is ``textinpaint evaluate``'s
(:func:`textinpaint.evaluation.metrics.image_metrics`).

    python benchmarks/stages.py --models models/birds-128,runs/RUN --limit 40
"""

from __future__ import annotations

import argparse

import kornia
import torch

from textinpaint.evaluation.evalset import build_eval_set
from textinpaint.evaluation.metrics import image_metrics, to_unit
from textinpaint.model_folder import load_model
from textinpaint.nn.fusion import resize_mask


def hole_l1(fill: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image hole L1 of network images in [-1, 1], exactly as ``textinpaint evaluate``."""
    return image_metrics(to_unit(fill), to_unit(image), mask)["l1_hole"]


def blurred(final: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, sigma: float):
    """``final`` with its hole blurred (known pixels kept)."""
    k = 4 * int(sigma) + 1
    soft = kornia.filters.gaussian_blur2d(final, (k, k), (sigma, sigma), border_type="reflect")
    return image * (1 - mask) + soft * mask


@torch.no_grad()
def measure(folder: str, evalset, batch: int) -> dict:
    model = load_model(folder, "cpu")
    sums: dict[str, float] = {}
    for start in range(0, evalset.n, batch):
        items = [evalset.dataset[i] for i in range(start, min(evalset.n, start + batch))]
        image = torch.stack([it["image"] for it in items])
        mask = torch.stack([it["mask"] for it in items])
        tokens, lengths = model.encode_text([it["caption"] for it in items])
        out = model(image * (1 - mask), mask, tokens, lengths)
        final = out["final"].float().clamp(-1, 1)
        values = {"coarse": hole_l1(out["coarse"], image, mask),
                  "final": hole_l1(final, image, mask)}
        for sigma in (1, 2):
            values[f"blur σ{sigma}"] = hole_l1(blurred(final, image, mask, sigma), image, mask)
        for alpha in out["alphas"]:
            hole = resize_mask(mask, tuple(alpha.shape[-2:]))
            share = (alpha * hole).sum(dim=(1, 2, 3)) / hole.sum(dim=(1, 2, 3)).clamp_min(1)
            values[f"alpha {alpha.shape[-1]}px"] = share
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + value.sum().item()
    return {key: total / evalset.n for key, total in sums.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", required=True, help="comma list of model folders")
    p.add_argument("--dataset", default="cub:../shared/data/cub")
    p.add_argument("--split", default="test")
    p.add_argument("--masks", default="center")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--batch", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(1)
    evalset = build_eval_set(args.dataset, args.split, args.masks, args.resolution,
                             limit=args.limit, progress=False)
    rows = {folder: measure(folder, evalset, args.batch) for folder in args.models.split(",")}
    columns = list(dict.fromkeys(key for row in rows.values() for key in row))
    print(f"{args.dataset} {args.split}, first {evalset.n} images, {args.masks} holes, "
          f"{args.resolution} px; hole L1 (coarse, final, blurred final) and mean hole alpha")
    print("| model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for folder, row in rows.items():
        cells = [f"{row[c]:.4f}" if c in row else "–" for c in columns]
        print(f"| {folder} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
