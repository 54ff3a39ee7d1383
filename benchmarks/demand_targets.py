"""How often each word-demand target puts the caption's colour word among its top two words.

The word-demand module learns its weights from a target DAMSM computes on the real image
(:func:`textinpaint.losses.damsm.hole_word_demand`). This measures the targets themselves,
with no module trained: on CUB test images with a bird-box or head hole and the evaluation's
palette captions (4 colours), the share of captions whose colour word is among the target's
two highest words (ties broken at random, as the evaluation's explain column), beside the
chance level of random weights. Prints one row per hole and target.

    python benchmarks/demand_targets.py --damsm models/birds-128-v1 --data ../shared/data/cub \
        --sample 136
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch.utils.data import DataLoader

from textinpaint.data import collate
from textinpaint.evaluation import control
from textinpaint.evaluation.evalset import build_eval_set
from textinpaint.losses.damsm import DEMAND_TARGETS, hole_word_demand
from textinpaint.model_folder import load_damsm


def credits(damsm, data: str, task: control.ControlTask, sample: int, resolution: int
            ) -> tuple[dict[str, float], float]:
    """Mean top-2 credit of the colour word per target, and the chance level."""
    evalset = build_eval_set(f"cub:{data}", "test", task.masks, resolution, 0, None, False,
                             sample)
    hits: dict[str, list[float]] = {name: [] for name in DEMAND_TARGETS}
    chance = []
    for batch in DataLoader(evalset.dataset, batch_size=8, collate_fn=collate):
        image, mask = batch["image"], batch["mask"]
        with torch.no_grad():
            local, _ = damsm.image_encoder(image)
        for colour in task.palette:
            encoded = [damsm.vocab.encode(task.template.format(colour=colour), damsm.max_len)
                       for _ in range(image.shape[0])]
            tokens = torch.as_tensor(np.stack([e[0] for e in encoded]))
            lengths = torch.as_tensor([e[1] for e in encoded])
            with torch.no_grad():
                words, _, word_mask = damsm.text_encoder.encode(tokens, lengths)
            colour_id = damsm.vocab.stoi.get(colour)
            targets = {name: hole_word_demand(local, words, word_mask, mask, name)
                       for name in DEMAND_TARGETS}
            for i in range(image.shape[0]):
                n = int(lengths[i])
                pos = [p for p in range(n) if int(tokens[i, p]) == colour_id]
                chance.append(control.top2_chance(n, len(pos)))
                for name, target in targets.items():
                    hits[name].append(control.top2_credit(target[i, :n].double().numpy(), pos))
    return {k: float(np.nanmean(v)) for k, v in hits.items()}, float(np.nanmean(chance))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--damsm", default="models/birds-128-v1")
    parser.add_argument("--data", default="../shared/data/cub")
    parser.add_argument("--sample", type=int, default=136)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    damsm = load_damsm(args.damsm)
    print(f"| hole ({args.sample} CUB test images, palette captions) | target | colour word "
          "in top 2 | chance |")
    print("|---|---|---|---|")
    for task in control.build_tasks(["box", "head"]):
        scores, chance = credits(damsm, args.data, task, args.sample, args.resolution)
        for name, value in scores.items():
            print(f"| {control.TASK_WORDS[task.kind]} | {name} | {value:.2f} | {chance:.2f} |")


if __name__ == "__main__":
    main()
