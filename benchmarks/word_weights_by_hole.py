"""Do a model's word-demand weights follow the hole, or only the words?

MMFL's word-demand module is meant to weigh each word by what the damaged image needs. This
fills CUB test birds twice per palette caption ("this bird is bright {colour} all over with a
{colour} head and {colour} wings", the evaluation's box captions): once with the central 70 %
of the bird's box hidden, once with a square of the same area in the image corner farthest
from the bird (background only, where the bird's colour is not what the hole needs). Per
hole it prints the share of the weight on the colour word, how often the colour word is
among the top two (as the evaluation's explain column) and, between the two holes, the mean
absolute difference of the weights (0 = the hole's place changes nothing).

    python benchmarks/word_weights_by_hole.py models/birds-128 --data ../shared/data/cub --sample 64
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from textinpaint.data import collate
from textinpaint.evaluation import control
from textinpaint.evaluation.evalset import build_eval_set
from textinpaint.model_folder import load_model


def corner_holes(box_holes: torch.Tensor) -> torch.Tensor:
    """A square of each box hole's area in the image corner farthest from the hole's centre."""
    out = torch.zeros_like(box_holes)
    _, _, height, width = box_holes.shape
    for i, hole in enumerate(box_holes[:, 0] > 0.5):
        ys, xs = torch.nonzero(hole, as_tuple=True)
        side = max(1, min(height, width, round(math.sqrt(len(ys)))))
        top = 0 if ys.float().mean() >= height / 2 else height - side
        left = 0 if xs.float().mean() >= width / 2 else width - side
        out[i, 0, top:top + side, left:left + side] = 1.0
    return out


def weights_for(model, captions: list[str], image: torch.Tensor, hole: torch.Tensor
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The word weights (B×T), token ids and lengths of one batch."""
    tokens, lengths = model.encode_text(captions)
    with torch.no_grad():
        out = model(image, hole, tokens, lengths)
    return out["word_weights"].float().numpy(), tokens.numpy(), lengths.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="an inpainting model folder with word-demand weights")
    parser.add_argument("--data", default="../shared/data/cub", help="CUB root")
    parser.add_argument("--sample", type=int, default=64, help="test images (evenly spread)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    (task,) = control.build_tasks(["box"])
    evalset = build_eval_set(f"cub:{args.data}", "test", task.masks, model.resolution, 0, None,
                             False, args.sample)
    rows = {"bird box": {"share": [], "top2": []}, "corner": {"share": [], "top2": []}}
    moved = []
    for batch in DataLoader(evalset.dataset, batch_size=8, collate_fn=collate):
        image, box = batch["image"], batch["mask"]
        holes = {"bird box": box, "corner": corner_holes(box)}
        for colour in task.palette:
            captions = [task.template.format(colour=colour)] * image.shape[0]
            colour_id = model.vocab.stoi.get(colour)
            got = {name: weights_for(model, captions, image, hole) for name, hole in holes.items()}
            for name, (weights, tokens, lengths) in got.items():
                for w, t, n in zip(weights, tokens, lengths):
                    pos = [p for p in range(n) if t[p] == colour_id]
                    rows[name]["share"].append(float(w[pos].sum()))
                    rows[name]["top2"].append(control.top2_credit(w[:n].astype(np.float64), pos))
            moved.extend(np.abs(got["bird box"][0] - got["corner"][0]).sum(1) / 2)
    n = len(moved)
    print(f"{args.model}: {n // len(task.palette)} CUB test images x {len(task.palette)} palette "
          "captions")
    print("| hole | colour word's weight share | colour word in top 2 |")
    print("|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {np.mean(r['share']):.3f} | {np.nanmean(r['top2']):.2f} |")
    print(f"weight moved between the two holes (half the L1 distance, 0..1): mean "
          f"{np.mean(moved):.3f}, max {np.max(moved):.3f}")


if __name__ == "__main__":
    main()
