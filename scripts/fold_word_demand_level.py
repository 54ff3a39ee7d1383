"""Turn a sigmoid word-demand model into a softmax one that fills exactly as it did.

A shipped model whose sigmoid word weights are saturated multiplies every word by one
factor (``1 - gamma`` when they sit at 0). Under ``word_demand_norm=softmax`` a uniform
caption passes unchanged, so the painter would read its words at another scale. This folds
the measured factor into the word-attention projections (linear, bias-free) and sets
``gamma`` to 0, so a softmax fine-tune (``train.init_generator=OUT``) starts at the model.
``--gamma G`` sets it to ``G`` instead: the softmax weights then act on the words from the
first step (freeze it with ``train.trainable`` to keep them acting).

    python scripts/fold_word_demand_level.py models/birds-128 runs/lv/init
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from textinpaint.pipeline import InpaintPipeline

CAPTIONS = ["this bird has a bright red crown and a white belly",
            "a small yellow bird with black wings and a short beak"]


def mean_word_factor(model: Path, size: int) -> tuple[float, float]:
    """(mean sigmoid weight, mean word factor) over the captions on a grey and a noise image."""
    pipe = InpaintPipeline.from_pretrained(model)
    rng = np.random.default_rng(0)
    images = [np.full((size, size, 3), 128, np.uint8),
              rng.integers(0, 256, (size, size, 3), dtype=np.uint8)]
    hole = np.zeros((size, size), np.uint8)
    hole[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 255
    weights = [a["weight"] for image in images for caption in CAPTIONS
               for a in pipe(prompt=caption, image=Image.fromarray(image),
                             mask_image=Image.fromarray(hole),
                             return_attention=True).attention[0]]
    gamma = float(load_file(str(model / "generator.safetensors"))["word_demand.gamma"])
    w = float(np.mean(weights))
    return w, float(np.mean([1 + gamma * (2 * x - 1) for x in weights]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a model folder with sigmoid word demand")
    parser.add_argument("out", type=Path, help="where to write the folded model folder")
    parser.add_argument("--gamma", type=float, default=0.0,
                        help="the softmax module's strength in the folded model (default 0)")
    args = parser.parse_args()
    size = json.loads((args.model / "config.json").read_text())["resolution"]
    weight, factor = mean_word_factor(args.model, size)
    print(f"mean word weight {weight:.4f}, uniform word factor {factor:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    for f in args.model.iterdir():
        if f.is_file() and f.name != "generator.safetensors":
            shutil.copy(f, args.out / f.name)
    state = load_file(str(args.model / "generator.safetensors"))
    for key in [k for k in state if ".word_attn." in k and k.endswith("project.weight")]:
        state[key] = (state[key].float() * factor).to(state[key].dtype)
    state["word_demand.gamma"] = torch.full_like(state["word_demand.gamma"], args.gamma)
    save_file(state, str(args.out / "generator.safetensors"))
    print(f"wrote {args.out}: use it with train.init_generator={args.out} "
          "generator.word_demand_norm=softmax")


if __name__ == "__main__":
    main()
