"""Which of the generator's text paths carries the caption? Zero one, then measure.

Runs another measurement script (the shared caption probe, ``benchmarks/part_colours.py``, ...)
with one text path of every loaded generator set to zero at inference:

* ``sentence``: the conditioning vector (the sentence embedding's path);
* ``coarse`` / ``refine``: the word-attention contexts of that stage (both levels);
* ``refine8`` / ``refine16`` (at 128 px): one refine level only, coarsest first;
* ``words``: every word-attention context; ``none``: nothing (the baseline, same wrapper);
* ``structure``: not a text path: the structure branch's predicted Sobel maps, which the
  decoder reads back (a check of whether they draw the fills' rings).

The attention maps themselves are left as they are, so ``part_colours``' binding still reads
them. The levels are told apart by call order (coarse stage first, coarsest level first),
which holds for the shipped configurations: two word-attention levels per stage.

    python benchmarks/text_paths.py --zero refine -- \
        ../shared/tools/caption_probe.py models/birds-128 --n 12
    python benchmarks/text_paths.py --zero coarse -- benchmarks/part_colours.py runs/x --sample 48
"""

from __future__ import annotations

import argparse
import runpy
import sys

import torch

from textinpaint.nn import attention, conditioning

# Word-attention calls per generator forward, in order, for the shipped configurations.
LAYERS = {"coarse": {0, 1}, "refine": {2, 3}, "refine8": {2}, "refine16": {3},
          "words": {0, 1, 2, 3}, "sentence": set(), "none": set(), "structure": set()}


def zero_word_contexts(layers: set[int], per_forward: int = 4) -> None:
    """Make the word attention return a zero context on the given calls of each forward."""
    plain = attention.WordAttention.forward
    calls = [0]

    def forward(self, *args, **kwargs):
        context, attn = plain(self, *args, **kwargs)
        index = calls[0] % per_forward
        calls[0] += 1
        return (torch.zeros_like(context) if index in layers else context), attn

    attention.WordAttention.forward = forward


def zero_sentence() -> None:
    """Make conditioning augmentation hand the generator a zero vector."""
    plain = conditioning.ConditioningAugmentation.forward

    def forward(self, sentence):
        cond, mu, logvar = plain(self, sentence)
        return torch.zeros_like(cond), mu, logvar

    conditioning.ConditioningAugmentation.forward = forward


def zero_structure() -> None:
    """Make every loaded model's structure heads output zero maps."""
    from textinpaint import model_folder

    plain = model_folder.load_model

    def load_model(*args, **kwargs):
        model = plain(*args, **kwargs)
        for name, module in model.generator.named_modules():
            if ".structure." in f"{name}." and isinstance(module, torch.nn.Conv2d):
                module.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))
        return model

    model_folder.load_model = load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zero", choices=sorted(LAYERS), required=True)
    parser.add_argument("script", help="the measurement to run, then its own arguments")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    a = parser.parse_args()
    if a.zero == "sentence":
        zero_sentence()
    elif a.zero == "structure":
        zero_structure()
    elif LAYERS[a.zero]:
        zero_word_contexts(LAYERS[a.zero])
    print(f"text path zeroed: {a.zero}", flush=True)
    sys.argv = [a.script, *a.args]
    runpy.run_path(a.script, run_name="__main__")


if __name__ == "__main__":
    main()
