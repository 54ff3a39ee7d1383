"""Turn a sigmoid word-demand model into a softmax one that fills exactly as it did.

A model whose sigmoid word weights are saturated (both shipped birds models: every weight 0)
multiplies every word by one factor, ``1 - gamma``. Under ``word_demand_norm=softmax`` a
caption weighed uniformly passes unchanged, so the painter would read its words at another
scale. :func:`fold_word_demand` folds the measured factor into the word-attention
projections (linear and bias-free, so the network computes what it did) and sets the
softmax module's ``gamma``: 0 starts a fine-tune exactly at the model; a value above 0 makes
the softmax weights act on the words from the first step (freeze ``gamma`` with
``train.trainable`` to keep them acting: left free, a model that gains nothing from
reweighting its words learns ``gamma`` ≈ 0 and its weights say nothing about the fill).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from ..errors import UserError

# Captions and images the factor is measured on; saturated weights give one factor whatever
# they are, so two of each show it.
CAPTIONS = ("this bird has a bright red crown and a white belly",
            "a small yellow bird with black wings and a short beak")


def uniform_word_factor(model: Path) -> tuple[float, float]:
    """(mean sigmoid word weight, mean word factor ``1 + gamma (2 w - 1)``) of ``model``
    over :data:`CAPTIONS` on a grey and a noise image with a centre hole."""
    from ..pipeline import InpaintPipeline

    pipe = InpaintPipeline.from_pretrained(model, seam=False)
    size = pipe.resolution
    rng = np.random.default_rng(0)
    images = [np.full((size, size, 3), 128, np.uint8),
              rng.integers(0, 256, (size, size, 3), dtype=np.uint8)]
    hole = np.zeros((size, size), np.uint8)
    hole[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 255
    weights = [a["weight"] for image in images for caption in CAPTIONS
               for a in pipe(prompt=caption, image=Image.fromarray(image),
                             mask_image=Image.fromarray(hole),
                             return_attention=True).attention[0]]
    gamma = float(pipe.model.generator.word_demand.gamma)
    w = float(np.mean(weights))
    return w, float(np.mean([1 + gamma * (2 * x - 1) for x in weights]))


def fold_word_demand(model: str | Path, out: str | Path, gamma: float = 0.0) -> float:
    """Write ``out``: ``model`` (a sigmoid word-demand model folder) with its uniform word
    factor folded into the word-attention projections, ``gamma`` set, and its config
    switched to ``word_demand_norm=softmax``. Returns the factor folded in."""
    model, out = Path(model), Path(out)
    config = json.loads((model / "config.json").read_text())
    generator = config.get("generator", {})
    if not generator.get("use_word_demand") or generator.get("word_demand_norm",
                                                              "sigmoid") != "sigmoid":
        raise UserError(f"'{model}' has no sigmoid word-demand module to fold; fold a model "
                        "trained with generator.word_demand_norm=sigmoid")
    weight, factor = uniform_word_factor(model)
    out.mkdir(parents=True, exist_ok=True)
    for f in model.iterdir():
        if f.is_file() and f.name not in ("generator.safetensors", "config.json"):
            shutil.copy(f, out / f.name)
    state = load_file(str(model / "generator.safetensors"))
    for key in [k for k in state if ".word_attn." in k and k.endswith("project.weight")]:
        state[key] = (state[key].float() * factor).to(state[key].dtype)
    state["word_demand.gamma"] = torch.full_like(state["word_demand.gamma"], gamma)
    save_file(state, str(out / "generator.safetensors"))
    config["generator"] = {**generator, "word_demand_norm": "softmax"}
    config["word_demand_fold"] = {"from": str(model), "mean_weight": round(weight, 6),
                                  "factor": round(factor, 6), "gamma": gamma}
    (out / "config.json").write_text(json.dumps(config, indent=2))  # last: the folder is whole
    return factor
