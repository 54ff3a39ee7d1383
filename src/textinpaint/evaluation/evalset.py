"""The evaluation set: the same images, masks and captions for every method, every time.

The dataset is built in evaluation mode, where every random choice of item ``i`` (caption,
mask) comes from a generator seeded by (seed, i); the set is its first ``limit`` items. So
(dataset, split, masks, resolution, seed, limit) fixes every pixel and every word, and numbers
of two methods compare image by image.

Each item also gets a *mismatched* caption for the text-gain test: the caption of item
``(i + k) mod n``, with ``k`` in 1..n-1 drawn from the seed, stepping on while that caption is
identical to item i's (and, on ``shapes``, while its target has the same colour, so that
"matches the given caption" and "matches the ground truth" never coincide).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset, Subset
from tqdm import tqdm

from ..data import build_dataset, parse_dataset_spec
from ..data.masks import parse_mask_spec
from ..data.text import Vocabulary
from ..errors import UserError

_MISMATCH_STREAM = 0x6D69  # separates the mismatch offset from every other use of the seed


@dataclass
class EvalSet:
    """The first ``n`` items of an evaluation-mode dataset plus what the loop needs up front."""

    dataset: Dataset
    captions: list[str]
    mismatch: list[int | None]  # item whose caption stands in for item i's (None: no other)
    targets: list[dict | None]  # shapes: each item's target object (ground truth), else None

    @property
    def n(self) -> int:
        return len(self.captions)

    def mismatched_caption(self, i: int) -> str:
        """Item ``i``'s mismatched caption ("" when every other caption is identical)."""
        j = self.mismatch[i]
        return "" if j is None else self.captions[j]

    def mismatched_target(self, i: int) -> dict | None:
        """The target object the mismatched caption of item ``i`` describes (shapes)."""
        j = self.mismatch[i]
        return None if j is None else self.targets[j]


class _Positions(Subset):
    """A subset whose items say their position in it as ``index`` (0..n-1), the key every
    list of the evaluation set is indexed by, also when ``--sample`` skips items."""

    def __getitem__(self, position: int) -> dict:
        return {**self.dataset[self.indices[position]], "index": position}

    def __getitems__(self, positions: list[int]) -> list[dict]:
        return [self[p] for p in positions]


def mismatch_indices(captions: list[str], seed: int, colours: list | None = None
                     ) -> list[int | None]:
    """For each item, the index of another item with a different caption (see module doc)."""
    n = len(captions)
    if n < 2:
        return [None] * n
    k = 1 + int(np.random.default_rng([int(seed), _MISMATCH_STREAM]).integers(n - 1))
    out: list[int | None] = []
    for i in range(n):
        j = (i + k) % n
        for _ in range(n):
            if j != i and captions[j] != captions[i] and (
                    colours is None or colours[j] != colours[i]):
                break
            j = (j + 1) % n
        else:
            j = None
        out.append(j)
    return out


def build_eval_set(spec: str, split: str, masks: str, resolution: int, seed: int = 0,
                   limit: int | None = None, progress: bool = True,
                   sample: int | None = None) -> EvalSet:
    """Build the evaluation set and read every item's caption (and shapes target) once.

    ``sample`` keeps N items spread evenly over the (first ``limit``) items, so a cheaper
    evaluation still covers every class of a split sorted by class.
    """
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    name, _ = parse_dataset_spec(spec)
    mask_gen = parse_mask_spec(masks, train=False)
    # Captions are encoded later by each model's own vocabulary, so the dataset needs none
    # (an empty one saves reading the training split just to build it).
    dataset = build_dataset(spec, split=split, resolution=resolution, masks=mask_gen,
                            vocab=Vocabulary(), train=False, seed=seed,
                            length=limit if name == "shapes" else None)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n == 0:
        raise UserError(f"dataset '{spec}' has no images in its {split} split")
    if sample is not None and sample < 1:
        raise UserError(f"--sample must be at least 1, got {sample}")
    keep = range(n) if sample is None or sample >= n else sorted(
        set(np.linspace(0, n - 1, sample).round().astype(int).tolist()))
    subset = _Positions(dataset, list(keep))
    n = len(subset)
    captions, targets = [], []
    for i in tqdm(range(n), desc="reading captions", leave=False, disable=not progress):
        item = subset[i]
        captions.append(item["caption"])
        objs = item.get("objects")
        targets.append(next((o for o in objs if o.get("target")), objs[0]) if objs else None)
    colours = [t["color"] for t in targets] if all(t is not None for t in targets) else None
    return EvalSet(subset, captions, mismatch_indices(captions, seed, colours), targets)
