"""How much word-demand evidence colour swaps give on a dataset's training split.

With every item a swap candidate (``train.colour_swap=1``), counts the items a swap changed
(a caption naming a swap colour the bird's surroundings do not share) and, for those, the
quartiles of the share of the hole the swap recoloured (the ``swap_share`` that
``loss.demand_swap`` multiplies), per hole kind. Prints a table.

    python benchmarks/swap_evidence.py --data cub:../shared/data/cub --items 300
"""

from __future__ import annotations

import argparse

import numpy as np

from textinpaint.data import build_dataset

MASKS = ("part:head", "object:-0.15", "mix:object+part:head+part:body+center+freeform:thin+"
         "freeform:medium+freeform:thick")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="cub:../shared/data/cub", help="a dataset spec")
    parser.add_argument("--items", type=int, default=300, help="training items (evenly spread)")
    parser.add_argument("--resolution", type=int, default=128)
    args = parser.parse_args()
    print("| holes | items | swapped | recoloured share of the hole, quartiles | share >= 0.02 |")
    print("|---|---|---|---|---|")
    for masks in MASKS:
        dataset = build_dataset(args.data, "train", args.resolution, masks=masks, seed=3)
        dataset.colour_swap = 1.0
        picks = np.linspace(0, len(dataset) - 1, args.items).round().astype(int)
        shares = []
        for i in picks:
            item = dataset[int(i)]
            if item["swap_words"].sum() > 0:
                shares.append(float(item["swap_share"]))
        q = np.quantile(shares, [0.25, 0.5, 0.75]) if shares else [float("nan")] * 3
        big = float(np.mean(np.asarray(shares) >= 0.02)) if shares else float("nan")
        print(f"| {masks} | {len(picks)} | {len(shares)} | {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f} "
              f"| {big:.2f} |")


if __name__ == "__main__":
    main()
