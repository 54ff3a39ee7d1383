"""Turn a sigmoid word-demand model into a softmax one that fills exactly as it did.

See :mod:`textinpaint.training.word_demand_fold` (a recipe phase does the same with
``fold_word_demand: G``)::

    python scripts/fold_word_demand_level.py models/birds-128 runs/lv/init
    python scripts/fold_word_demand_level.py models/birds-128 runs/gx/init-0.25 --gamma 0.25
"""

import argparse
from pathlib import Path

from textinpaint.training.word_demand_fold import fold_word_demand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a model folder with sigmoid word demand")
    parser.add_argument("out", type=Path, help="where to write the folded model folder")
    parser.add_argument("--gamma", type=float, default=0.0,
                        help="the softmax module's strength in the folded model (default 0)")
    args = parser.parse_args()
    factor = fold_word_demand(args.model, args.out, args.gamma)
    print(f"uniform word factor {factor:.4f} folded; wrote {args.out}: use it with "
          f"train.init_generator={args.out} generator.word_demand_norm=softmax")


if __name__ == "__main__":
    main()
