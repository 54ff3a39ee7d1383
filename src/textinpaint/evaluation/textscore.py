"""R-precision of inpainted images, judged by a DAMSM, for each caption condition.

A :class:`TextJudge` collects, batch by batch, the DAMSM global feature of every output image
and the sentence feature of the caption the model was given; at the end it ranks captions by
cosine similarity (:func:`textinpaint.evaluation.rprecision.r_precision`: 1 true + up to 99
distractors from other items, 10 draws, mean reported).
"""

from __future__ import annotations

import numpy as np
import torch

from .rprecision import damsm_features, r_precision


class TextJudge:
    """Accumulates DAMSM features of one model's outputs per condition."""

    def __init__(self, damsm, seed: int = 0):
        self.damsm = damsm
        self.seed = seed
        self.images: dict[str, dict[int, torch.Tensor]] = {}
        self.sentences: dict[str, dict[int, torch.Tensor]] = {}
        self.captions: dict[str, dict[int, str]] = {}

    def add(self, condition: str, images: torch.Tensor, index: list[int],
            captions: list[str]) -> None:
        """Record outputs (B×3×H×W in [-1, 1]) of items ``index`` made with ``captions``."""
        encoded = [self.damsm.vocab.encode(c, self.damsm.max_len) for c in captions]
        tokens = torch.from_numpy(np.stack([e[0] for e in encoded])).long()
        lengths = torch.as_tensor([e[1] for e in encoded], dtype=torch.int64)
        f = damsm_features(self.damsm, images, tokens, lengths)
        for k, i in enumerate(index):
            self.images.setdefault(condition, {})[i] = f["image_global"][k].float().cpu()
            self.sentences.setdefault(condition, {})[i] = f["sentence"][k].float().cpu()
            self.captions.setdefault(condition, {})[i] = captions[k]

    def r_precision(self, condition: str, given: bool = False) -> dict | None:
        """R-precision of the ``condition`` outputs against each item's true caption, or
        (``given``) against the caption the model was given. None if it cannot be ranked
        (fewer than two distinct captions)."""
        if condition not in self.images:
            return None
        order = sorted(self.images[condition])
        text_cond = condition if given else "true"
        img = torch.stack([self.images[condition][i] for i in order])
        sent = torch.stack([self.sentences[text_cond][i] for i in order])
        caps = [self.captions[text_cond][i] for i in order]
        try:
            res = r_precision(img, sent, dedupe=caps, seed=self.seed)
        except ValueError:  # no distractor: every caption identical, or a single image
            return None
        return {k: res[k] for k in ("mean", "std", "n_candidates")}
